from flask.views import MethodView
from node.api.resources import Blueprint
from marshmallow import Schema, fields, validate

from node.api.auth import in_unit_of_work, unit_of_work
from node.services.views import public_view
from node.api.resources.cases.schemas import CaseCreateSchema, LicenseViewSchema, MaterialRefSchema, StageViewSchema
from node.domain.lifecycle import Event
from node.persistence.cases import is_code_clash
from node.services import intake, public

blp = Blueprint("public", __name__, url_prefix="/api/v1/public",
                description="The applicant's side: apply online, follow, supply, withdraw, rate")

LAST4 = fields.String(required=True, validate=validate.Regexp(r"^[0-9Xx]{4}$|^[0-9A-Za-z]{4}$",
                      error="the last 4 characters of the applicant's ID number"))


class LookupArgsSchema(Schema):
    id_last4 = LAST4


class SubmittedSchema(Schema):
    code = fields.String(metadata={"description": "统一服务监管码: keep it to follow the case"})
    status = fields.String()
    item_code = fields.String()


class ProgressSchema(Schema):
    event = fields.String()
    to_status = fields.String()
    stage = fields.String(allow_none=True)
    occurred_at = fields.DateTime()


class PublicCaseSchema(Schema):
    code = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    applicant_name = fields.String()
    applicant_id_number = fields.String()
    applicant_phone = fields.String()
    status = fields.String()
    stage = fields.Nested(StageViewSchema, allow_none=True)
    stages = fields.List(fields.Nested(StageViewSchema))
    submitted_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)
    concluded_at = fields.DateTime(allow_none=True)
    promised_deadline = fields.Date(allow_none=True)
    result = fields.String(allow_none=True)
    result_reason = fields.String(allow_none=True)
    license = fields.Nested(LicenseViewSchema, allow_none=True)
    progress = fields.List(fields.Nested(ProgressSchema))
    rated = fields.Boolean()


class SupplySchema(Schema):
    id_last4 = LAST4
    materials = fields.List(fields.Nested(MaterialRefSchema), required=True, validate=validate.Length(1, 200))


class WithdrawSchema(Schema):
    id_last4 = LAST4
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class EvaluationCreateSchema(Schema):
    id_last4 = LAST4
    score = fields.Integer(required=True, validate=validate.Range(1, 5))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class EvaluationSchema(Schema):
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    created_at = fields.DateTime()


def _view(code: str, last4: str):  # type: ignore[no-untyped-def]
    with unit_of_work() as uow:
        case, lic, ev = public.lookup_case(uow, code, last4)
        return public_view(case, lic, ev is not None)


@blp.route("/applications")
class Applications(MethodView):
    @blp.arguments(CaseCreateSchema)
    @blp.response(201, SubmittedSchema)
    def post(self, args):
        """Apply online (在线申报); returns the unified service code."""
        code = in_unit_of_work(lambda uow: intake.submit_case(uow, args), retry_if=is_code_clash)
        return {"code": code, "status": "submitted", "item_code": args["item_code"]}


@blp.route("/cases/<string:code>")
class PublicCase(MethodView):
    @blp.arguments(LookupArgsSchema, location="query")
    @blp.response(200, PublicCaseSchema)
    def get(self, args, code):
        """Follow a case by its service code and the last 4 characters of the ID number."""
        return _view(code, args["id_last4"])


@blp.route("/cases/<string:code>/supply")
class PublicSupply(MethodView):
    @blp.arguments(SupplySchema)
    @blp.response(200, PublicCaseSchema)
    def post(self, args, code):
        """Supply the materials a supplement request (补正) asked for; the clock restarts."""
        with unit_of_work() as uow:
            public.applicant_transition(uow, code, args["id_last4"], Event.SUPPLY, materials=args["materials"])
        return _view(code, args["id_last4"])


@blp.route("/cases/<string:code>/withdrawal")
class PublicWithdraw(MethodView):
    @blp.arguments(WithdrawSchema)
    @blp.response(200, PublicCaseSchema)
    def post(self, args, code):
        """Withdraw the application (撤回)."""
        with unit_of_work() as uow:
            public.applicant_transition(uow, code, args["id_last4"], Event.WITHDRAW, reason=args["reason"])
        return _view(code, args["id_last4"])


@blp.route("/cases/<string:code>/evaluation")
class PublicEvaluation(MethodView):
    @blp.arguments(EvaluationCreateSchema)
    @blp.response(201, EvaluationSchema)
    def post(self, args, code):
        """Rate a concluded case once, 1-5 (好差评)."""
        with unit_of_work() as uow:
            return public.evaluate_case(uow, code, args["id_last4"], args["score"], args["comment"])
