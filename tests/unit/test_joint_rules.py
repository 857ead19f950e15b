"""The rules of joint cases (node/domain/joint.py), joint stages (items, lifecycle) and sign-off policy."""
from __future__ import annotations

from datetime import date

import pytest

from node.domain import joint
from node.domain.errors import Conflict, IllegalTransition, InvalidInput
from node.domain.items import StageKind, validate_stages
from node.domain.joint import PartState
from node.domain.lifecycle import Actor, CaseState, Event, Result, Status, allowed_events, decide
from node.domain.policy import Action, Target, why_not
from node.domain.roles import Role

A, B, C = "330105-XK-CG-001", "330105-XK-JJ-001", "330105-XK-GH-001"


def test_parts_need_two_distinct_codes_and_a_decision_rule():
    assert joint.validate_parts([{"item_code": A}, {"item_code": B}], "independent") == [A, B]
    for parts, decision, field in [
        ([{"item_code": A}], "independent", "parts"),
        ("A,B", "independent", "parts"),
        ([{"item_code": A}, {"item_code": A}], "independent", "parts[1].item_code"),
        ([{"item_code": A}, {}], "independent", "parts[1].item_code"),
        ([{"item_code": A}, {"item_code": B}], "majority", "decision"),
        ([{"item_code": A}, {"item_code": B}], None, "decision"),
        ([{"item_code": f"X-{i:04d}"} for i in range(13)], "independent", "parts"),
    ]:
        with pytest.raises(InvalidInput) as e:
            joint.validate_parts(parts, decision)
        assert e.value.field == field, (parts, decision)


def test_merged_form_fields_map_onto_the_items_own_parts():
    ok = [{"name": "shop_name", "label": "店名", "maps_to": [{"part": A, "field": "name"}]}]
    joint.validate_fields(ok, [A, B])
    joint.validate_fields(None, [A, B])
    bad = [
        ([ok[0], ok[0]], "fields[1].name"),
        ([{**ok[0], "name": "1x"}], "fields[0].name"),
        ([{**ok[0], "label": " "}], "fields[0].label"),
        ([{**ok[0], "maps_to": []}], "fields[0].maps_to"),
        ([{**ok[0], "maps_to": [{"part": C, "field": "x"}]}], "fields[0].maps_to[0].part"),
        ([{**ok[0], "maps_to": [{"part": A, "field": ""}]}], "fields[0].maps_to[0].field"),
    ]
    for fields, field in bad:
        with pytest.raises(InvalidInput) as e:
            joint.validate_fields(fields, [A, B])
        assert e.value.field == field


def test_each_field_once_required_ones_named_and_mapped_to_each_part():
    fields = [{"name": "shop", "label": "店名", "required": True,
               "maps_to": [{"part": A, "field": "shop_name"}, {"part": B, "field": "trade_name"}]},
              {"name": "when", "label": "施工日期", "required": False, "maps_to": [{"part": B, "field": "date"}]}]
    with pytest.raises(InvalidInput) as e:
        joint.check_form(fields, {"shop": "  "})
    assert e.value.field == "form.shop" and "店名" in e.value.message
    joint.check_form(fields, {"shop": "面馆"})
    assert joint.part_forms(fields, {"shop": "面馆", "extra": "x"}, [A, B]) == {
        A: {"shop_name": "面馆"}, B: {"trade_name": "面馆"}}
    assert joint.part_forms(None, {"k": "v"}, [A, B]) == {A: {"k": "v"}, B: {"k": "v"}}


def P(no: int, status: str, result: str | None = None, d: date | None = None) -> PartState:
    return PartState(no, status, result, d)


def test_outcome_by_decision_rule():
    ok, no = P(1, "concluded", "approved"), P(2, "concluded", "denied")
    assert joint.outcome("all_must_approve", [ok, ok]) == Result.APPROVED
    assert joint.outcome("all_must_approve", [ok, no]) == Result.DENIED
    assert joint.outcome("independent", [ok, no]) == Result.PARTIAL
    assert joint.outcome("independent", [no, no]) == Result.DENIED
    assert joint.outcome("independent", [ok, ok]) == Result.APPROVED
    # a withdrawn or refused part is not an approval
    assert joint.outcome("all_must_approve", [ok, P(2, "withdrawn")]) == Result.DENIED
    assert joint.outcome("independent", [ok, P(2, "refused")]) == Result.PARTIAL


def test_derived_status_and_conclusion():
    running = [P(1, "in_progress"), P(2, "concluded", "approved")]
    assert joint.derived_status([]) == "submitted"
    assert joint.derived_status(running) == "in_progress"
    assert joint.derived_status([P(1, "supplementing"), P(2, "concluded", "approved")]) == "supplementing"
    assert joint.derived_status([P(1, "concluded", "denied"), P(2, "withdrawn")]) == "concluded"
    assert not joint.all_concluded(running) and joint.open_parts(running) == 1
    assert not joint.all_concluded([])
    assert joint.all_concluded([P(1, "refused"), P(2, "concluded", "approved")])


def test_joint_deadline_is_the_longest_parts_and_moves_with_it():
    parts = [P(1, "in_progress", d=date(2026, 3, 9)), P(2, "in_progress", d=date(2026, 3, 11)), P(3, "submitted")]
    assert joint.deadline(parts) == date(2026, 3, 11)
    moved = [parts[0], P(2, "in_progress", d=date(2026, 3, 18)), parts[2]]  # part 2's supplement moved it
    assert joint.deadline(moved) == date(2026, 3, 18)
    assert joint.deadline([P(1, "submitted")]) is None


STAGES = validate_stages([
    {"kind": "accept", "time_limit_days": 1, "role": "clerk"},
    {"kind": "undertake", "time_limit_days": 2, "role": "handler"},
    {"kind": "joint_inspection", "time_limit_days": 2, "role": "reviewer", "departments": ["kq", "gh"]},
    {"kind": "approve", "time_limit_days": 1, "role": "approver"},
    {"kind": "conclude", "time_limit_days": 0, "role": "clerk"},
], 6)
REVIEWER = Actor("staff", 7, Role.REVIEWER, department_id=3)


def test_joint_stage_lists_two_or_more_known_shapes_of_departments():
    assert STAGES[2].kind == StageKind.JOINT_INSPECTION and STAGES[2].departments == ("kq", "gh")
    base = [{"kind": "accept", "time_limit_days": 0, "role": "clerk"}, None,
            {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}]
    for stage, field in [
        ({"kind": "joint_review", "time_limit_days": 1, "role": "reviewer"}, "stages[1].departments"),
        ({"kind": "joint_review", "time_limit_days": 1, "role": "reviewer", "departments": ["gh"]},
         "stages[1].departments"),
        ({"kind": "joint_review", "time_limit_days": 1, "role": "reviewer", "departments": ["gh", "gh"]},
         "stages[1].departments"),
        ({"kind": "review", "time_limit_days": 1, "role": "reviewer", "departments": ["gh", "kq"]},
         "stages[1].departments"),
    ]:
        with pytest.raises(InvalidInput) as e:
            validate_stages([base[0], stage, base[2]], 5)
        assert e.value.field == field
    # a joint stage may sit anywhere in the middle; the other stages keep their order around it
    with pytest.raises(InvalidInput):
        validate_stages([base[0], {"kind": "approve", "time_limit_days": 0, "role": "approver"},
                         {"kind": "joint_review", "time_limit_days": 0, "role": "reviewer", "departments": ["a", "b"]},
                         {"kind": "undertake", "time_limit_days": 0, "role": "handler"}, base[2]], 5)


def test_sign_off_guard_every_listed_department_signed():
    at = CaseState(Status.IN_PROGRESS, 2)
    assert "sign_off" in allowed_events(at, STAGES, "online")  # type: ignore[arg-type]
    with pytest.raises(Conflict) as e:
        decide(at, STAGES, Event.SIGN_OFF, REVIEWER, pending_signoffs=["kq"])
    assert e.value.extra["pending"] == ["kq"]
    d = decide(at, STAGES, Event.SIGN_OFF, REVIEWER, pending_signoffs=[])
    assert d.after == CaseState(Status.IN_PROGRESS, 3) and d.entered_stage == STAGES[3]
    with pytest.raises(IllegalTransition):  # only at a joint stage
        decide(CaseState(Status.IN_PROGRESS, 1), STAGES, Event.SIGN_OFF, REVIEWER)


def test_conclude_joint_is_derived_and_guarded_by_the_parts():
    at = CaseState(Status.IN_PROGRESS, 1)
    assert "conclude_joint" not in allowed_events(at, STAGES, "online")  # type: ignore[arg-type]
    for open_parts in (None, 1):
        with pytest.raises(IllegalTransition):
            decide(at, STAGES, Event.CONCLUDE_JOINT, REVIEWER, open_parts=open_parts, result=Result.APPROVED)
    with pytest.raises(InvalidInput):
        decide(at, STAGES, Event.CONCLUDE_JOINT, REVIEWER, open_parts=0)
    d = decide(at, STAGES, Event.CONCLUDE_JOINT, REVIEWER, open_parts=0, result=Result.PARTIAL)
    assert d.after.status == Status.CONCLUDED and d.result == Result.PARTIAL
    with pytest.raises(IllegalTransition):  # a concluded joint case does not conclude twice
        decide(d.after, STAGES, Event.CONCLUDE_JOINT, REVIEWER, open_parts=0, result=Result.APPROVED)


def test_policy_each_listed_department_signs_by_the_stages_role():
    t = Target(role=Role.REVIEWER, departments=frozenset({3, 4}))
    assert why_not(REVIEWER, Action.SIGN_OFF_STAGE, t) is None
    assert why_not(Actor("staff", 8, Role.CHIEF, department_id=4), Action.SIGN_OFF_STAGE, t) is None
    assert "not listed" in (why_not(Actor("staff", 9, Role.REVIEWER, department_id=5), Action.SIGN_OFF_STAGE, t) or "")
    assert why_not(Actor("staff", 10, Role.HANDLER, department_id=3), Action.SIGN_OFF_STAGE, t) is not None
    assert why_not(Actor("staff", 11, Role.CLERK), Action.SIGN_OFF_STAGE, t) is not None  # the window: no department
    assert why_not(Actor("applicant"), Action.SIGN_OFF_STAGE, t) is not None
    assert why_not(Actor("staff", 1, Role.CLERK), Action.SET_ACCEPTANCE_OPTIONS) is None
    assert why_not(Actor("staff", 2, Role.HANDLER, department_id=3), Action.SET_ACCEPTANCE_OPTIONS) is not None
