"""Supervision orders (督办) and correction orders (纠错), complaints (投诉) and disputes (争议协调):
the rules, pure (no clock, no database). ``docs/supervision.md`` "Orders and complaints".

An order is issued by an inspector of an upper node on a case of a node strictly below it, travels
down as an addressed record, is answered by the case's department, and is closed (accepted) or
returned by the issuer. States: issued -> delivered -> responded -> closed, or responded ->
returned -> responded again. The issuer's side learns delivery from the record's ack.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any

from .divisions import in_subtree
from .errors import Conflict, InvalidInput, PermissionDenied


class Kind(StrEnum):
    SUPERVISE = "supervise"  # 督办
    CORRECT = "correct"  # 纠错: the response must record the fix


class State(StrEnum):
    ISSUED = "issued"
    DELIVERED = "delivered"
    RESPONDED = "responded"
    RETURNED = "returned"
    CLOSED = "closed"


class Decision(StrEnum):
    CLOSE = "close"  # accepted: the order is done
    RETURN = "return"  # returned: the department must respond again


MAX_TEXT = 2000
MAX_DUE_DAYS = 60
KIND_ZH = {Kind.SUPERVISE: "督办", Kind.CORRECT: "纠错"}
STATE_ZH = {State.ISSUED: "已下发", State.DELIVERED: "已送达", State.RESPONDED: "已反馈", State.RETURNED: "已退回",
            State.CLOSED: "已办结"}

# the one state machine of an order: (state, what happens) -> next state
_NEXT: dict[tuple[State, str], State] = {
    (State.ISSUED, "deliver"): State.DELIVERED,
    (State.DELIVERED, "respond"): State.RESPONDED,
    (State.RETURNED, "respond"): State.RESPONDED,
    (State.ISSUED, "respond"): State.RESPONDED,  # issuer side: the response may come before the ack is seen
    (State.RESPONDED, "close"): State.CLOSED,
    (State.RESPONDED, "return"): State.RETURNED,
}


def next_state(state: str, step: str) -> State:
    """The state after ``step`` (deliver, respond, close, return), or 409 naming what is allowed."""
    nxt = _NEXT.get((State(state), step))
    if nxt is None:
        allowed = sorted(s for (st, s) in _NEXT if st == State(state))
        raise Conflict(f"this order is {state}: '{step}' is not allowed (allowed: {', '.join(allowed) or 'none'})",
                       field="state", state=state, allowed=allowed)
    return nxt


def check_text(value: Any, field: str = "text") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidInput(f"{field}: 1 to {MAX_TEXT} characters", field)
    return value.strip()


def check_kind(value: Any) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        raise InvalidInput(f"kind: one of {', '.join(k.value for k in Kind)}, not {value!r}", "kind") from None


def check_due_days(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DUE_DAYS:
        raise InvalidInput(f"due_days: 1 to {MAX_DUE_DAYS} working days", "due_days")
    return value


def check_addressable(issuer: str, owner: str, field: str = "case_code") -> None:
    """An order goes down only: to a node strictly in the issuer's subtree (a county, a leaf, has
    none; nobody orders a sibling or a node above)."""
    if owner == issuer or not in_subtree(owner, issuer):
        raise PermissionDenied(f"an order is addressed to a node below {issuer}; the case belongs to {owner}, "
                               "which is not in its subtree (a county cannot issue one upward)", field=field)


def check_from_ancestor(here: str, origin: str) -> None:
    """At the owning node: an order record is applied only from a node strictly above."""
    if origin == here or not in_subtree(here, origin):
        raise PermissionDenied(f"{origin} is not above {here}: it cannot supervise {here}'s cases",
                               field="origin", code="not_an_ancestor")


def check_fix(kind: Kind, fix: Any, transitions_after: set[int]) -> dict[str, Any] | None:
    """A correction response records its fix: what was corrected (``description``) and the
    corrective action done through the case's state machine after the order arrived
    (``transition_seq``: one of ``transitions_after``, the case's transitions recorded since
    delivery). A supervision response may carry none."""
    if kind != Kind.CORRECT and fix is None:
        return None
    if not isinstance(fix, dict):
        raise InvalidInput("fix: a correction order is answered with the fix (description and transition_seq)",
                           "fix")
    desc = check_text(fix.get("description"), "fix.description")
    seq = fix.get("transition_seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise InvalidInput("fix.transition_seq: the case transition that made the correction", "fix.transition_seq")
    if seq not in transitions_after:
        raise InvalidInput(f"fix.transition_seq: {seq} is not a transition of this case recorded after the order "
                           f"arrived (those: {sorted(transitions_after) or 'none yet'})", "fix.transition_seq")
    return {"description": desc, "transition_seq": seq}


# --- complaints and disputes -----------------------------------------------------------------
class ComplaintState(StrEnum):
    RECEIVED = "received"
    HANDLING = "handling"
    CONCLUDED = "concluded"


class Finding(StrEnum):
    SUBSTANTIATED = "substantiated"  # 属实
    PARTLY = "partly"  # 部分属实
    UNSUBSTANTIATED = "unsubstantiated"  # 不属实


def complaint_next(state: str, step: str) -> ComplaintState:
    table = {(ComplaintState.RECEIVED, "handle"): ComplaintState.HANDLING,
             (ComplaintState.RECEIVED, "conclude"): ComplaintState.CONCLUDED,
             (ComplaintState.HANDLING, "conclude"): ComplaintState.CONCLUDED}
    nxt = table.get((ComplaintState(state), step))
    if nxt is None:
        raise Conflict(f"this complaint is {state}: '{step}' is not allowed", field="state", state=state)
    return nxt


def check_finding(value: Any) -> Finding:
    try:
        return Finding(value)
    except ValueError:
        raise InvalidInput(f"finding: one of {', '.join(f.value for f in Finding)}, not {value!r}",
                           "finding") from None
