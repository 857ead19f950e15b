from typing import Any, Callable

from flask import request
from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import client_address, ctx, in_unit_of_work
from node.services.views import public_view
from node.api.resources.cases.schemas import CaseCreateSchema
from node.domain import servicecode
from node.domain.errors import InvalidInput
from node.domain.lifecycle import Event
from node.persistence.cases import is_code_clash
from node.services import guard, intake, public
from node.services.context import Work

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


GUARDED = {429: "too many attempts from this client or at this code (Retry-After)",
           423: "the code (or this client) is locked after repeated wrong ID numbers (Retry-After)",
           404: "no case with this code and ID number (an unknown code and a wrong ID tail answer alike)"}


def guarded(doc: Callable[..., Any]) -> Callable[..., Any]:
    for status, text in GUARDED.items():
        doc = blp.alt_response(status, description=text)(doc)
    return doc


def _proved(code: str, last4: str, use_case: Callable[..., Any]) -> Any:
    """``use_case(uow, code, last4)`` behind the throttle and the locks (``node.services.guard``);
    the ID tail only ever travels in the request body."""
    if "id_last4" in request.args:
        raise InvalidInput("send the ID number's last 4 characters in the request body, never in the address "
                           "(addresses are logged) / 证件号后四位请放在请求正文中提交", field="id_last4", location="query")
    code = servicecode.normalize(code)  # a mistyped code is 422 before anything is counted
    client = client_address()
    targets = guard.lookup_targets(ctx(), code, client)
    return guard.attempt(ctx(), None, targets, use_case, code, last4, what="lookup", client=client)


def _view(uow: Work, code: str, last4: str) -> Any:
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


@blp.route("/cases/<service_code:code>/lookup")
class PublicCase(MethodView):
    @blp.arguments(LookupArgsSchema)
    @blp.response(200, PublicCaseSchema)
    @guarded
    def post(self, args, code):
        """Follow a case by its service code and the last 4 characters of the ID number (in the body)."""
        return _proved(code, args["id_last4"], _view)


@blp.route("/cases/<service_code:code>/supply")
class PublicSupply(MethodView):
    @blp.arguments(SupplySchema)
    @blp.response(200, PublicCaseSchema)
    @guarded
    def post(self, args, code):
        """Supply the materials a supplement request (补正) asked for; the clock restarts."""
        _proved(code, args["id_last4"], lambda uow, code, last4: public.applicant_transition(
            uow, code, last4, Event.SUPPLY, materials=args["materials"]))
        return in_unit_of_work(lambda uow: _view(uow, code, args["id_last4"]))


@blp.route("/cases/<service_code:code>/parts/<int(min=1, max=64):part_no>/supply")
class PublicPartSupply(MethodView):
    @blp.arguments(SupplySchema)
    @blp.response(200, PublicCaseSchema)
    @guarded
    def post(self, args, code, part_no):
        """Supply what one part of a joint case asked for, at the joint case (wherever the part is worked)."""
        _proved(code, args["id_last4"], lambda uow, code, last4: public.applicant_part_supply(
            uow, code, last4, part_no, args["materials"]))
        return in_unit_of_work(lambda uow: _view(uow, code, args["id_last4"]))


@blp.route("/cases/<service_code:code>/withdrawal")
class PublicWithdraw(MethodView):
    @blp.arguments(WithdrawSchema)
    @blp.response(200, PublicCaseSchema)
    @guarded
    def post(self, args, code):
        """Withdraw the application (撤回)."""
        _proved(code, args["id_last4"], lambda uow, code, last4: public.applicant_transition(
            uow, code, last4, Event.WITHDRAW, reason=args["reason"]))
        return in_unit_of_work(lambda uow: _view(uow, code, args["id_last4"]))


@blp.route("/cases/<service_code:code>/evaluation")
class PublicEvaluation(MethodView):
    @blp.arguments(EvaluationCreateSchema)
    @blp.response(201, EvaluationSchema)
    @guarded
    def post(self, args, code):
        """Rate a concluded case once, 1-5 (好差评)."""
        return _proved(code, args["id_last4"], lambda uow, code, last4: public.evaluate_case(
            uow, code, last4, args["score"], args["comment"]))
