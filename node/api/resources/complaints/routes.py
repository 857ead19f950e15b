from flask.views import MethodView

from node.api.auth import SECURITY, actor, unit_of_work
from node.api.blueprint import Blueprint
from node.api.ids import MAX_ID
from node.api.resources.public.routes import GUARDED, _proved
from node.services import supervision_orders as sup

from .schemas import (
    ComplaintConcludeSchema,
    ComplaintCountsSchema,
    ComplaintCreateSchema,
    ComplaintFiledSchema,
    ComplaintQueryArgsSchema,
    ComplaintSchema,
    DisputeCreateSchema,
    DisputeQueryArgsSchema,
    DisputeResolveSchema,
    DisputeSchema,
)

blp = Blueprint("complaints", __name__, url_prefix="/api/v1/supervision",
                description="Complaints (投诉) and disputes between a joint case's departments (争议协调)")


@blp.route("/complaints")
class Complaints(MethodView):
    @blp.arguments(ComplaintCreateSchema)
    @blp.response(201, ComplaintFiledSchema)
    def post(self, args):
        """The applicant complains about their case (service code + the ID number's last 4, as the
        public lookup: throttled and locked alike)."""
        return _proved(args["code"], args["id_last4"],
                       lambda uow, code, last4: sup.file_complaint(uow, code, last4, args["text"]))

    @blp.doc(security=SECURITY)
    @blp.arguments(ComplaintQueryArgsSchema, location="query")
    @blp.response(200, ComplaintSchema(many=True))
    def get(self, args):
        """This node's complaints (inspectors)."""
        with unit_of_work(actor()) as uow:
            return sup.list_complaints(uow, args.get("state"))


for _status, _text in GUARDED.items():
    Complaints.post = blp.alt_response(_status, description=_text)(Complaints.post)  # type: ignore[method-assign]


@blp.route("/complaints/counts")
class ComplaintCounts(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ComplaintCountsSchema)
    def get(self):
        with unit_of_work(actor()) as uow:
            return sup.complaint_counts(uow)


@blp.route(f"/complaints/<int(min=1, max={MAX_ID}):complaint_id>/handling")
class ComplaintHandling(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, ComplaintSchema)
    def post(self, complaint_id):
        with unit_of_work(actor()) as uow:
            return sup.handle_complaint(uow, complaint_id)


@blp.route(f"/complaints/<int(min=1, max={MAX_ID}):complaint_id>/conclusion")
class ComplaintConclusion(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ComplaintConcludeSchema)
    @blp.response(200, ComplaintSchema)
    def post(self, args, complaint_id):
        with unit_of_work(actor()) as uow:
            return sup.conclude_complaint(uow, complaint_id, args["finding"], args["conclusion"])


@blp.route("/disputes")
class Disputes(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(DisputeCreateSchema)
    @blp.response(201, DisputeSchema)
    def post(self, args):
        """A part's department chief raises a dispute with the joint case's other departments."""
        with unit_of_work(actor()) as uow:
            return sup.raise_dispute(uow, args["joint_code"], args["part_no"], args["text"])

    @blp.doc(security=SECURITY)
    @blp.arguments(DisputeQueryArgsSchema, location="query")
    @blp.response(200, DisputeSchema(many=True))
    def get(self, args):
        with unit_of_work(actor()) as uow:
            return sup.list_disputes(uow, args.get("state"))


@blp.route(f"/disputes/<int(min=1, max={MAX_ID}):dispute_id>/resolution")
class DisputeResolution(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(DisputeResolveSchema)
    @blp.response(200, DisputeSchema)
    def post(self, args, dispute_id):
        """Coordination's recorded decision (hall admin or inspector)."""
        with unit_of_work(actor()) as uow:
            return sup.resolve_dispute(uow, dispute_id, args["decision"])
