"""What the public does without an account: look a case up, rate it, supply materials, withdraw.

The applicant proves the case is theirs with the service code plus the last four characters of
their ID number — a wrong second factor answers exactly like an unknown code
(``SecondFactorRefused``), so codes cannot be probed; the entry points run these use cases behind
the throttle and the locks of ``node.services.guard``, so the ID tail cannot be guessed either.
"""
from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import select

from node.domain.errors import Conflict, InvalidInput, NotFound, SecondFactorRefused
from node.domain.lifecycle import Event, Status
from node.persistence.cases import load_case
from node.persistence.models import Case, Evaluation, License, Rectification

from .cases import TransitionInput, apply_transition, supply_part
from .context import Work


REFUSED = "no case with this code and ID number"
_FILLER = "0" * 18


def _proved(uow: Work, code: str, id_last4: str, lock: bool = False) -> Case:
    """The case, if ``id_last4`` is the end of its applicant's ID number. An unknown code and a
    wrong tail raise the same error after the same comparison."""
    try:
        case: Case | None = load_case(uow.session, code, lock=lock)
    except NotFound:
        case = None
    expected = ((case.applicant_id_number if case is not None else None) or _FILLER)[-4:].upper()
    given = (id_last4 or "").strip().upper()
    if not hmac.compare_digest(expected.encode(), given.encode()) or case is None or not given:
        raise SecondFactorRefused(REFUSED, field="code")
    return case


def lookup_case(uow: Work, code: str, id_last4: str) -> tuple[Case, License | None, Evaluation | None]:
    s = uow.session
    case = _proved(uow, code, id_last4)
    lic = s.scalar(select(License).where(License.case_id == case.id))
    ev = s.scalar(select(Evaluation).where(Evaluation.case_id == case.id))
    return case, lic, ev


def applicant_transition(uow: Work, code: str, id_last4: str, event: Event, **kw: Any) -> Case:
    """Supply or withdraw (the unit of work acts as the applicant), proved by the second factor."""
    _proved(uow, code, id_last4)
    return apply_transition(uow, code, TransitionInput(event, **kw))


def applicant_part_supply(uow: Work, code: str, id_last4: str, part_no: int, materials: list[dict[str, Any]]) -> Case:
    """Supply for part ``part_no`` of the joint case ``code`` (proved by the second factor), wherever
    the part is worked."""
    _proved(uow, code, id_last4)
    return supply_part(uow, code, part_no, materials)


def evaluate_case(uow: Work, code: str, id_last4: str, score: int, comment: str | None) -> Evaluation:
    """好差评: once per concluded case; 1-2 opens a rectification record for the department. The
    case row is locked, so of two ratings at once one wins and the other gets 409."""
    if not 1 <= score <= 5:
        raise InvalidInput("a rating is 1 to 5", field="score")
    s = uow.session
    case = _proved(uow, code, id_last4, lock=True)
    if case.status != Status.CONCLUDED:
        raise Conflict("a case can be rated once it is concluded", field="code")
    if s.scalar(select(Evaluation.id).where(Evaluation.case_id == case.id)) is not None:
        raise Conflict("this case has been rated already", field="score")
    ev = Evaluation(case_id=case.id, department_id=case.department_id, score=score, comment=comment,
                    created_at=uow.now)
    s.add(ev)
    s.flush()
    uow.case_event(case, "evaluation", actor="applicant", evaluation_score=score)
    if score <= 2:
        s.add(Rectification(evaluation_id=ev.id, case_id=case.id, department_id=case.department_id,
                            status="open", created_at=uow.now))
    return ev
