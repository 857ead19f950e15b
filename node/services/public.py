"""What the public does without an account: look a case up, rate it, supply materials, withdraw.

The applicant proves the case is theirs with the service code plus the last four characters of
their ID number (lookup) — a wrong second factor answers exactly like an unknown code, so codes
cannot be probed.
"""
from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import select

from node.domain.errors import Conflict, InvalidInput, NotFound
from node.domain.lifecycle import Actor, Event, Status
from node.persistence.models import Case, Evaluation, License, Rectification

from federation import log as federation_log

from .cases import TransitionInput, apply_transition, load_case
from .context import NodeContext

APPLICANT = Actor("applicant")


def _verify(case: Case, id_last4: str) -> None:
    expected = (case.applicant_id_number or "")[-4:].upper()
    if not id_last4 or not hmac.compare_digest(expected.encode(), id_last4.strip().upper().encode()):
        raise NotFound("no case with this code and ID number", field="code")


def lookup_case(ctx: NodeContext, code: str, id_last4: str) -> tuple[Case, License | None, Evaluation | None]:
    with ctx.factory() as s:
        case = load_case(s, code)
        _verify(case, id_last4)
        lic = s.scalar(select(License).where(License.case_id == case.id))
        ev = s.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
        return case, lic, ev


def applicant_transition(ctx: NodeContext, code: str, id_last4: str, event: Event, **kw: Any) -> Case:
    with ctx.factory() as s:
        _verify(load_case(s, code), id_last4)
    return apply_transition(ctx, APPLICANT, code, TransitionInput(event, **kw))


def evaluate_case(ctx: NodeContext, code: str, id_last4: str, score: int, comment: str | None) -> Evaluation:
    """好差评: once per concluded case; 1-2 opens a rectification record for the department."""
    if not 1 <= score <= 5:
        raise InvalidInput("a rating is 1 to 5", field="score")
    with ctx.uow(APPLICANT) as uow:
        s = uow.session
        case = load_case(s, code)
        _verify(case, id_last4)
        if case.status != Status.CONCLUDED:
            raise Conflict("a case can be rated once it is concluded", field="code")
        if s.scalar(select(Evaluation.id).where(Evaluation.case_id == case.id)) is not None:
            raise Conflict("this case has been rated already", field="score")
        ev = Evaluation(case_id=case.id, department_id=case.department_id, score=score, comment=comment,
                        created_at=uow.now)
        s.add(ev)
        s.flush()
        federation_log.record_case_event(s, case, "evaluation", occurred_at=uow.now, actor="applicant",
                                         evaluation_score=score)
        if score <= 2:
            s.add(Rectification(evaluation_id=ev.id, case_id=case.id, department_id=case.department_id,
                                status="open", created_at=uow.now))
        uow.commit()
        return ev
