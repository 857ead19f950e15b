from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import in_unit_of_work, unit_of_work
from node.services.views import public_view
from node.api.resources.cases.schemas import CaseCreateSchema
from node.domain.lifecycle import Event
from node.persistence.cases import is_code_clash
from node.services import intake, public

from .schemas import (
    EvaluationCreateSchema,
    EvaluationSchema,
    LookupArgsSchema,
    PublicCaseSchema,
    SubmittedSchema,
    SupplySchema,
    WithdrawSchema,
)

blp = Blueprint("public", __name__, url_prefix="/api/v1/public",
                description="The applicant's side: apply online, follow, supply, withdraw, rate")


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


@blp.route("/cases/<service_code:code>")
class PublicCase(MethodView):
    @blp.arguments(LookupArgsSchema, location="query")
    @blp.response(200, PublicCaseSchema)
    def get(self, args, code):
        """Follow a case by its service code and the last 4 characters of the ID number."""
        return _view(code, args["id_last4"])


@blp.route("/cases/<service_code:code>/supply")
class PublicSupply(MethodView):
    @blp.arguments(SupplySchema)
    @blp.response(200, PublicCaseSchema)
    def post(self, args, code):
        """Supply the materials a supplement request (补正) asked for; the clock restarts."""
        with unit_of_work() as uow:
            public.applicant_transition(uow, code, args["id_last4"], Event.SUPPLY, materials=args["materials"])
        return _view(code, args["id_last4"])


@blp.route("/cases/<service_code:code>/withdrawal")
class PublicWithdraw(MethodView):
    @blp.arguments(WithdrawSchema)
    @blp.response(200, PublicCaseSchema)
    def post(self, args, code):
        """Withdraw the application (撤回)."""
        with unit_of_work() as uow:
            public.applicant_transition(uow, code, args["id_last4"], Event.WITHDRAW, reason=args["reason"])
        return _view(code, args["id_last4"])


@blp.route("/cases/<service_code:code>/evaluation")
class PublicEvaluation(MethodView):
    @blp.arguments(EvaluationCreateSchema)
    @blp.response(201, EvaluationSchema)
    def post(self, args, code):
        """Rate a concluded case once, 1-5 (好差评)."""
        with unit_of_work() as uow:
            return public.evaluate_case(uow, code, args["id_last4"], args["score"], args["comment"])
