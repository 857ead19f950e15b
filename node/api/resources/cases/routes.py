from urllib.parse import quote

from flask import Response
from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, actor, ctx, in_unit_of_work, unit_of_work
from node.api.ids import MAX_ID
from node.domain.lifecycle import Event, Result
from node.persistence.cases import is_code_clash
from node.services import cases, intake, part_materials, signoffs

from node.services import supervision_orders
from node.services.views import staff_view
from .schemas import (
    CasePageSchema,
    CaseQueryArgsSchema,
    CaseSchema,
    CaseTransitionSchema,
    ClaimSchema,
    ExtensionCreateSchema,
    ExtensionDecisionSchema,
    ExtensionSchema,
    PartSupplySchema,
    SignoffCreateSchema,
    SignoffSchema,
    WindowCaseCreateSchema,
)

blp = Blueprint("cases", __name__, url_prefix="/api/v1/cases", description="Case work for staff")


@blp.route("")
class Cases(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CaseQueryArgsSchema, location="query")
    @blp.response(200, CasePageSchema)
    def get(self, args):
        """Cases you may see (your department's; all of them for hall-wide roles)."""
        with unit_of_work(actor()) as uow:
            rows, total = cases.list_cases(uow, **args)
            return {"total": total, "page": args["page"], "page_size": args["page_size"],
                    "items": [staff_view(c) for c in rows]}

    @blp.doc(security=SECURITY)
    @blp.arguments(WindowCaseCreateSchema)
    @blp.response(201, CaseSchema)
    def post(self, args):
        """Submit at the window (clerk) or on behalf of a villager (service-point agent, 代办)."""
        code = in_unit_of_work(lambda uow: intake.submit_case(uow, args), actor(), retry_if=is_code_clash)
        with unit_of_work(actor()) as uow:
            return staff_view(cases.get_case(uow, code))


@blp.route("/<service_code:code>")
class CaseOne(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, CaseSchema)
    def get(self, code):
        """One case with its stages, deadlines, materials and full history (and the supervision
        orders on it)."""
        with unit_of_work(actor()) as uow:
            view = staff_view(cases.get_case(uow, code))
            view["supervision_orders"] = supervision_orders.case_orders(uow, view["code"])
            return view


@blp.route("/<service_code:code>/materials/<string(length=64):digest>")
class CaseMaterialBytes(MethodView):
    @blp.doc(security=SECURITY, responses={"200": {"description": "the material's bytes",
                                                   "content": {"application/octet-stream": {}}}})
    def get(self, code, digest):
        """One material's bytes by digest (a linked part's: fetched from the joint case's node, verified; audited at both)."""
        who = actor()
        with unit_of_work(who) as uow:
            req = part_materials.material_request(uow, code, digest)
        got = part_materials.fetch_material(ctx(), who.label, req)
        mime = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png", "ofd": "application/ofd"}
        return Response(got.data, mimetype=mime.get(got.file_type, "application/octet-stream"), headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(got.filename)}",
            "X-Material-Digest": got.digest, "X-Served-By": got.served_by})


@blp.route("/<service_code:code>/transitions")
class CaseTransitions(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CaseTransitionSchema)
    @blp.response(200, CaseSchema)
    @blp.alt_response(409, description="illegal transition (lists the allowed ones) or stale version")
    def post(self, args, code):
        """Move the case through its stages (accept, undertake, review, approve, conclude, deny ...)."""
        t = cases.TransitionInput(
            event=Event(args["event"]), expected_version=args["version"], reason=args["reason"],
            opinion=args["opinion"], occurred_at=args["occurred_at"],
            result=Result(args["result"]) if args["result"] else None, missing=args["missing"],
            materials=args["materials"], license_valid_until=args["license_valid_until"],
            green_channel=args["green_channel"], agent_staff_id=args["agent_staff_id"],
            prerequisites=args["prerequisites"])
        with unit_of_work(actor()) as uow:
            return staff_view(cases.apply_transition(uow, code, t))


@blp.route("/<service_code:code>/parts/<int(min=1, max=64):part_no>/supply")
class CasePartSupply(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(PartSupplySchema)
    @blp.response(200, CaseSchema)
    @blp.alt_response(409, description="the part is not waiting for materials, or they were sent already")
    def post(self, args, code, part_no):
        """补正 for one part of a joint case, at the joint case (window clerk or agent, for the applicant):
        a part worked here is supplied as its own case; a part worked at another node gets the files'
        digests (``part_supply``) and fetches the bytes from here."""
        with unit_of_work(actor()) as uow:
            return staff_view(cases.supply_part(uow, code, part_no, args["materials"]))


@blp.route("/<service_code:code>/claim")
class CaseClaim(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ClaimSchema)
    @blp.response(200, CaseSchema)
    def post(self, args, code):
        """Claim the case (handler) or assign it to a handler (chief representative)."""
        with unit_of_work(actor()) as uow:
            return staff_view(cases.claim_case(uow, code, args["staff_id"]))


@blp.route("/<service_code:code>/extensions")
class CaseExtensions(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ExtensionCreateSchema)
    @blp.response(201, ExtensionSchema)
    def post(self, args, code):
        """Request an extension (延期) with a reason; a higher role decides."""
        with unit_of_work(actor()) as uow:
            return cases.request_extension(uow, code, args["days"], args["reason"])


@blp.route(f"/<service_code:code>/extensions/<int(min=1, max={MAX_ID}):extension_id>/decision")
class CaseExtensionDecision(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ExtensionDecisionSchema)
    @blp.response(200, ExtensionSchema)
    def post(self, args, code, extension_id):
        """Approve or reject an extension request (approver or chief representative)."""
        with unit_of_work(actor()) as uow:
            return cases.decide_extension(uow, code, extension_id, args["approve"], args["note"])


@blp.route("/<service_code:code>/stages/<int(max=16):index>/signoffs")
class CaseStageSignoffs(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(SignoffCreateSchema)
    @blp.response(201, SignoffSchema)
    @blp.alt_response(403, description="your department is not listed for this stage")
    @blp.alt_response(409, description="your department signed already, or the case is not at this stage")
    def post(self, args, code, index):
        """Sign your department's row of a joint review or joint site inspection (联合审图, 联合踏勘);
        the last listed department's signature moves the case to its next stage."""
        with unit_of_work(actor()) as uow:
            return signoffs.sign_off(uow, code, index, args["opinion"])
