"""The rules of supervision orders, complaints and disputes (pure): the order's one state machine,
who may address whom, who answers, what a correction's fix must name."""
from __future__ import annotations

import pytest

from node.domain import supervision_orders as r
from node.domain.errors import Conflict, InvalidInput, PermissionDenied
from node.domain.lifecycle import Actor
from node.domain.policy import Action, Target, can, why_not
from node.domain.roles import Role


def test_the_order_state_machine() -> None:
    s = r.next_state("issued", "deliver")
    s = r.next_state(s, "respond")
    assert r.next_state(s, "return") == r.State.RETURNED
    assert r.next_state("returned", "respond") == r.State.RESPONDED
    assert r.next_state("responded", "close") == r.State.CLOSED
    for state, step in [("closed", "close"), ("closed", "respond"), ("delivered", "close"), ("responded", "respond"),
                        ("returned", "close"), ("issued", "close")]:
        with pytest.raises(Conflict) as e:
            r.next_state(state, step)
        assert e.value.field == "state"


@pytest.mark.parametrize("issuer,owner,ok", [
    ("330000", "330100", True), ("330000", "330105", True), ("330100", "330105", True),
    ("330100", "330100", False), ("330105", "330100", False), ("330105", "330106", False),
    ("330100", "330200", False), ("330105", "330105", False), ("330100", "330000", False),
])
def test_orders_go_down_only(issuer: str, owner: str, ok: bool) -> None:
    if ok:
        r.check_addressable(issuer, owner)
        r.check_from_ancestor(owner, issuer)
        return
    with pytest.raises(PermissionDenied) as e:
        r.check_addressable(issuer, owner)
    assert e.value.field == "case_code"
    with pytest.raises(PermissionDenied) as e2:
        r.check_from_ancestor(owner, issuer)
    assert e2.value.extra["code"] == "not_an_ancestor"


def test_a_correction_names_its_fix() -> None:
    assert r.check_fix(r.Kind.SUPERVISE, None, set()) is None
    with pytest.raises(InvalidInput) as e:
        r.check_fix(r.Kind.CORRECT, None, {3})
    assert e.value.field == "fix"
    with pytest.raises(InvalidInput) as e:
        r.check_fix(r.Kind.CORRECT, {"description": "", "transition_seq": 3}, {3})
    assert e.value.field == "fix.description"
    with pytest.raises(InvalidInput) as e:
        r.check_fix(r.Kind.CORRECT, {"description": "改", "transition_seq": 2}, {3})
    assert e.value.field == "fix.transition_seq"
    with pytest.raises(InvalidInput):
        r.check_fix(r.Kind.CORRECT, {"description": "改", "transition_seq": True}, {1})
    assert r.check_fix(r.Kind.CORRECT, {"description": " 改 ", "transition_seq": 3}, {3}) == \
        {"description": "改", "transition_seq": 3}


def test_inputs() -> None:
    assert r.check_kind("correct") == r.Kind.CORRECT
    with pytest.raises(InvalidInput):
        r.check_kind("urge")
    assert r.check_due_days(None) is None and r.check_due_days(5) == 5
    for bad in (0, 61, "3", True, 2.5):
        with pytest.raises(InvalidInput):
            r.check_due_days(bad)
    with pytest.raises(InvalidInput):
        r.check_text("x" * 2001)
    assert r.complaint_next("received", "handle") == r.ComplaintState.HANDLING
    assert r.complaint_next("handling", "conclude") == r.ComplaintState.CONCLUDED
    with pytest.raises(Conflict):
        r.complaint_next("concluded", "conclude")
    with pytest.raises(InvalidInput):
        r.check_finding("maybe")


def staff(role: Role, dept: int | None = 1, sid: int = 10) -> Actor:
    return Actor("staff", staff_id=sid, role=role, department_id=dept)


def test_policy() -> None:
    assert can(staff(Role.INSPECTOR, None), Action.ISSUE_SUPERVISION_ORDER)
    assert not can(staff(Role.ADMIN, None), Action.ISSUE_SUPERVISION_ORDER)
    assert not can(staff(Role.CHIEF), Action.ISSUE_SUPERVISION_ORDER)
    t = Target(department_id=1, staff_id=11)
    assert can(staff(Role.CHIEF), Action.RESPOND_SUPERVISION_ORDER, t)
    assert can(staff(Role.HANDLER, sid=11), Action.RESPOND_SUPERVISION_ORDER, t)  # the case's handler
    assert not can(staff(Role.HANDLER, sid=12), Action.RESPOND_SUPERVISION_ORDER, t)
    assert why_not(staff(Role.CHIEF, dept=2), Action.RESPOND_SUPERVISION_ORDER, t) == \
        "this order is addressed to another department"
    assert not can(staff(Role.INSPECTOR, None), Action.RESPOND_SUPERVISION_ORDER, t)
    assert can(staff(Role.CHIEF), Action.RAISE_DISPUTE, Target(departments=frozenset({1})))
    assert not can(staff(Role.HANDLER), Action.RAISE_DISPUTE, Target(departments=frozenset({1})))
    assert not can(staff(Role.CHIEF, dept=2), Action.RAISE_DISPUTE, Target(departments=frozenset({1})))
    assert can(staff(Role.ADMIN, None), Action.RESOLVE_DISPUTE) and not can(staff(Role.CHIEF), Action.RESOLVE_DISPUTE)
    assert can(staff(Role.INSPECTOR, None), Action.HANDLE_COMPLAINT) and not can(staff(Role.ADMIN, None),
                                                                                 Action.HANDLE_COMPLAINT)
