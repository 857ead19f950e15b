"""The case state machine: one explicit table of (position, event) -> target with guards.

A case is *submitted* (awaiting acceptance), *in_progress* at one of its item's stages,
*supplementing* (补正: clock stopped, waiting for the applicant), or ended: *concluded* (with a
result, approved or denied), *refused* (不予受理) or *withdrawn*. While in progress its
*position* is the kind of its current stage (undertake, review, approve, conclude). Every path —
API, UI, tasks, federation — goes through :func:`decide`; nothing assigns a status directly.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Sequence

from .errors import Conflict, IllegalTransition, InvalidInput, PermissionDenied
from .items import StageDef, StageKind
from .roles import Role


class Status(StrEnum):
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    SUPPLEMENTING = "supplementing"
    CONCLUDED = "concluded"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


TERMINAL = frozenset({Status.CONCLUDED, Status.REFUSED, Status.WITHDRAWN})


class Event(StrEnum):
    ACCEPT = "accept"  # 受理
    REFUSE = "refuse"  # 不予受理
    UNDERTAKE = "undertake"  # 承办 done, opinion given
    REVIEW = "review"  # 审核 passed
    APPROVE = "approve"  # 批准
    CONCLUDE = "conclude"  # 办结 with result approved
    DENY = "deny"  # 不予许可
    SEND_BACK = "send_back"  # 退回 to the previous stage
    REQUEST_SUPPLEMENT = "request_supplement"  # 补正
    SUPPLY = "supply"  # the applicant supplied the materials
    WITHDRAW = "withdraw"  # 撤回 by the applicant
    RECORD_PAPER_RESULT = "record_paper_result"  # result of a paper-processed case
    SIGN_OFF = "sign_off"  # a joint review/inspection ends: guard "every listed department signed"
    CONCLUDE_JOINT = "conclude_joint"  # a joint case ends: guard "every part concluded" (derived, never fired by hand)


class Result(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    PARTIAL = "partial"  # a joint case decided part by part (independent): some approved, some not


class Processing(StrEnum):
    ONLINE = "online"
    PAPER = "paper"
    OFFLINE = "offline"


NEXT, PREV, RESUME = "@next", "@prev", "@resume"
_IN_STAGE = (StageKind.UNDERTAKE, StageKind.REVIEW, StageKind.APPROVE, StageKind.CONCLUDE,
             StageKind.JOINT_REVIEW, StageKind.JOINT_INSPECTION)

TABLE: dict[tuple[str, Event], str] = {
    (Status.SUBMITTED, Event.ACCEPT): NEXT,
    (Status.SUBMITTED, Event.REFUSE): Status.REFUSED,
    (Status.SUBMITTED, Event.REQUEST_SUPPLEMENT): Status.SUPPLEMENTING,
    (Status.SUBMITTED, Event.WITHDRAW): Status.WITHDRAWN,
    (StageKind.UNDERTAKE, Event.UNDERTAKE): NEXT,
    (StageKind.REVIEW, Event.REVIEW): NEXT,
    (StageKind.APPROVE, Event.APPROVE): NEXT,
    (StageKind.CONCLUDE, Event.CONCLUDE): Status.CONCLUDED,
    (StageKind.REVIEW, Event.DENY): Status.CONCLUDED,
    (StageKind.APPROVE, Event.DENY): Status.CONCLUDED,
    (StageKind.CONCLUDE, Event.DENY): Status.CONCLUDED,
    (StageKind.REVIEW, Event.SEND_BACK): PREV,
    (StageKind.APPROVE, Event.SEND_BACK): PREV,
    (StageKind.CONCLUDE, Event.SEND_BACK): PREV,
    (StageKind.JOINT_REVIEW, Event.SIGN_OFF): NEXT,
    (StageKind.JOINT_INSPECTION, Event.SIGN_OFF): NEXT,
    (StageKind.JOINT_REVIEW, Event.SEND_BACK): PREV,
    (StageKind.JOINT_INSPECTION, Event.SEND_BACK): PREV,
    (Status.SUPPLEMENTING, Event.SUPPLY): RESUME,
    (Status.SUPPLEMENTING, Event.WITHDRAW): Status.WITHDRAWN,
    **{(k, Event.REQUEST_SUPPLEMENT): Status.SUPPLEMENTING for k in _IN_STAGE},
    **{(k, Event.WITHDRAW): Status.WITHDRAWN for k in _IN_STAGE},
    **{(k, Event.RECORD_PAPER_RESULT): Status.CONCLUDED for k in _IN_STAGE},
    **{(k, Event.CONCLUDE_JOINT): Status.CONCLUDED for k in _IN_STAGE},
}
DERIVED_EVENTS = frozenset({Event.CONCLUDE_JOINT})
"""Events the node fires itself, in the unit of work of what caused them (never through the API)."""

REASON_REQUIRED = frozenset({Event.REFUSE, Event.DENY, Event.SEND_BACK, Event.REQUEST_SUPPLEMENT})
APPLICANT_EVENTS = frozenset({Event.SUPPLY, Event.WITHDRAW})


@dataclass(frozen=True)
class CaseState:
    status: Status
    stage_index: int | None = None
    resume_status: Status | None = None
    resume_stage_index: int | None = None


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member (with role and department) or the applicant."""

    kind: str  # "staff" | "applicant" | "system"
    staff_id: int | None = None
    role: Role | None = None
    department_id: int | None = None
    service_point_id: int | None = None

    @property
    def label(self) -> str:
        return f"staff:{self.staff_id}" if self.kind == "staff" else self.kind


@dataclass(frozen=True)
class Decision:
    before: CaseState
    after: CaseState
    event: Event
    entered_stage: StageDef | None  # the stage the case now sits in (None when not in progress)
    result: Result | None
    clock_stops: bool
    clock_resumes: bool


def position(state: CaseState, stages: Sequence[StageDef]) -> str:
    if state.status == Status.IN_PROGRESS:
        assert state.stage_index is not None
        return stages[state.stage_index].kind
    return state.status


def allowed_events(state: CaseState, stages: Sequence[StageDef], processing: Processing) -> list[str]:
    pos = position(state, stages)
    out = []
    for (p, ev), _ in TABLE.items():
        if p != pos:
            continue
        if ev == Event.RECORD_PAPER_RESULT and processing == Processing.ONLINE:
            continue
        if ev == Event.SEND_BACK and state.stage_index is not None and state.stage_index <= 1:
            continue
        if ev in DERIVED_EVENTS:
            continue
        out.append(ev.value)
    return out


def responsible_roles(state: CaseState, stages: Sequence[StageDef], event: Event) -> set[Role]:
    """Roles that may fire ``event`` now. The department's chief representative always may."""
    if state.status == Status.SUBMITTED:
        return {stages[0].role, Role.CHIEF}
    if event in (Event.SUPPLY, Event.WITHDRAW):
        return {Role.CLERK, stages[0].role, Role.CHIEF, Role.AGENT}  # an agent (代办) acts for the applicant
    if event == Event.RECORD_PAPER_RESULT:
        return {Role.CLERK, Role.CHIEF, stages[state.stage_index or 0].role}
    if state.status == Status.IN_PROGRESS:
        return {stages[state.stage_index or 0].role, Role.CHIEF}
    return {Role.CHIEF}


def decide(
    state: CaseState,
    stages: Sequence[StageDef],
    event: Event,
    actor: Actor,
    processing: Processing = Processing.ONLINE,
    reason: str | None = None,
    result: Result | None = None,
    pending_signoffs: Sequence[str] = (),
    open_parts: int | None = None,
) -> Decision:
    """Check the event against the table, its guards and the actor; return the new state.

    Guards given by the caller: ``pending_signoffs``, the departments of a joint stage that have
    not signed yet (``sign_off`` needs none); ``open_parts``, how many parts of a joint case have
    not concluded (``conclude_joint`` needs 0, and the outcome in ``result``)."""
    allowed = allowed_events(state, stages, processing)
    pos = position(state, stages)
    if event in DERIVED_EVENTS:
        if (pos, event) not in TABLE:
            raise IllegalTransition(pos, event.value, allowed)
        if open_parts is None or open_parts > 0:
            raise IllegalTransition(pos, event.value, allowed)
        if result is None:
            raise InvalidInput("a joint case concludes with its outcome", field="result")
        return Decision(state, CaseState(Status.CONCLUDED, None), event, None, result, False, False)
    if event.value not in allowed:
        raise IllegalTransition(pos, event.value, allowed)
    if event == Event.SIGN_OFF and pending_signoffs:
        raise Conflict(f"the stage ends when every listed department has signed; waiting for: "
                       f"{', '.join(pending_signoffs)}", field="event", pending=list(pending_signoffs))
    if actor.kind == "applicant":
        if event not in APPLICANT_EVENTS:
            raise PermissionDenied(f"an applicant cannot '{event}' a case", field="event")
    elif actor.kind == "staff":
        roles = responsible_roles(state, stages, event)
        if actor.role not in roles:
            raise PermissionDenied(
                f"'{event}' at this point needs one of the roles: {', '.join(sorted(roles))}",
                field="event",
            )
    if event in REASON_REQUIRED and not (reason or "").strip():
        raise InvalidInput(f"a reason is required to '{event}'", field="reason")
    target = TABLE[(pos, event)]
    res: Result | None = None
    if target == NEXT:
        idx = 1 if state.status == Status.SUBMITTED else (state.stage_index or 0) + 1
        after = CaseState(Status.IN_PROGRESS, idx)
    elif target == PREV:
        after = CaseState(Status.IN_PROGRESS, (state.stage_index or 1) - 1)
    elif target == RESUME:
        after = CaseState(state.resume_status or Status.SUBMITTED, state.resume_stage_index)
    elif target == Status.SUPPLEMENTING:
        after = CaseState(Status.SUPPLEMENTING, None, state.status, state.stage_index)
    else:
        after = CaseState(Status(target), None)
        if target == Status.CONCLUDED:
            if event == Event.DENY:
                res = Result.DENIED
            elif event == Event.RECORD_PAPER_RESULT:
                if result is None:
                    raise InvalidInput("the paper result (approved or denied) is required", field="result")
                if result == Result.DENIED and not (reason or "").strip():
                    raise InvalidInput("a reason is required for a denial", field="reason")
                res = result
            else:
                res = Result.APPROVED
    entered = stages[after.stage_index] if after.status == Status.IN_PROGRESS and after.stage_index is not None else None
    return Decision(
        before=state,
        after=after,
        event=event,
        entered_stage=entered,
        result=res,
        clock_stops=after.status == Status.SUPPLEMENTING,
        clock_resumes=state.status == Status.SUPPLEMENTING,
    )
