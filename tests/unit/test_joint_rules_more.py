"""The pure rules behind joint cases' holes: who acts on a part or on the joint case (the one
policy), and a prerequisite that is another part of the same joint case (settled at conclusion)."""
from __future__ import annotations

import pytest

from node.domain.lifecycle import Actor
from node.domain.policy import Action, Target, can, why_not
from node.domain.prerequisites import (
    Settlement,
    approval_blocked,
    in_same_joint,
    settle,
)
from node.domain.roles import Role

pytestmark = pytest.mark.unit

PART = Target(department_id=2)


@pytest.mark.parametrize("actor, allowed", [
    (Actor("staff", 1, Role.HANDLER, 2), True),
    (Actor("staff", 1, Role.CHIEF, 2), True),
    (Actor("staff", 1, Role.CHIEF, 1), False),  # the joint item's department's chief: no extra power
    (Actor("staff", 1, Role.APPROVER, 3), False),
    (Actor("staff", 1, Role.CLERK, 3), False),  # a department's own clerk
    (Actor("staff", 1, Role.CLERK), True),  # the hall's window: the state machine says what it fires
    (Actor("staff", 1, Role.AGENT, None, 7), True),  # acts for the applicant
    (Actor("applicant"), True),
    (Actor("system"), True),
])
def test_a_department_acts_only_on_its_own_part(actor: Actor, allowed: bool) -> None:
    assert can(actor, Action.WORK_PART, PART) is allowed
    if not allowed:
        assert "its own part" in (why_not(actor, Action.WORK_PART, PART) or "")


@pytest.mark.parametrize("actor, allowed", [
    (Actor("staff", 1, Role.CLERK), True),
    (Actor("staff", 1, Role.CLERK, 1), False),
    (Actor("staff", 1, Role.CHIEF, 1), False),
    (Actor("staff", 1, Role.ADMIN), False),
    (Actor("staff", 1, Role.AGENT, None, 7), True),
    (Actor("applicant"), True),
])
def test_the_joint_case_is_the_windows(actor: Actor, allowed: bool) -> None:
    assert can(actor, Action.WORK_JOINT_CASE) is allowed


def test_same_joint_prerequisites_are_the_other_parts_only() -> None:
    assert in_same_joint(["A", "X"], ["A", "B"], "B") == ["A"]
    assert in_same_joint(["B"], ["A", "B"], "B") == []  # never itself
    assert in_same_joint([], ["A", "B"], "B") == []


@pytest.mark.parametrize("status, result, expect", [
    ("in_progress", None, Settlement.PENDING),
    ("supplementing", None, Settlement.PENDING),
    ("concluded", "approved", Settlement.SATISFIED),
    ("concluded", "denied", Settlement.FAILED),
    ("refused", None, Settlement.FAILED),
    ("withdrawn", None, Settlement.FAILED),
])
def test_settlement_follows_the_prerequisite_part(status: str, result: str | None, expect: Settlement) -> None:
    assert settle(status, result) == expect


def test_approval_blocked_while_pending_only_at_the_conclusion_and_always_when_failed() -> None:
    assert approval_blocked([("营业执照", Settlement.PENDING)], concluding=False) is None
    assert "has not concluded" in (approval_blocked([("营业执照", Settlement.PENDING)], concluding=True) or "")
    for concluding in (False, True):
        why = approval_blocked([("营业执照", Settlement.FAILED), ("x", Settlement.SATISFIED)], concluding)
        assert why is not None and "营业执照" in why and "cannot be approved" in why
    assert approval_blocked([("营业执照", Settlement.SATISFIED)], concluding=True) is None
    assert approval_blocked([], concluding=True) is None
