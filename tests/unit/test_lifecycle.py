import pytest

from node.domain.errors import IllegalTransition, InvalidInput, PermissionDenied
from node.domain.items import validate_stages
from node.domain.lifecycle import TABLE, Actor, CaseState, Event, Processing, Result, Status, allowed_events, decide
from node.domain.roles import Role

pytestmark = pytest.mark.unit
STAGES = validate_stages([
    {"kind": "accept", "time_limit_days": 1, "role": "clerk"},
    {"kind": "undertake", "time_limit_days": 2, "role": "handler"},
    {"kind": "review", "name": "初审", "time_limit_days": 1, "role": "reviewer"},
    {"kind": "review", "name": "复审", "time_limit_days": 1, "role": "reviewer"},
    {"kind": "approve", "time_limit_days": 1, "role": "approver"},
    {"kind": "conclude", "time_limit_days": 0, "role": "clerk"},
], promised=5)


def staff(role):
    return Actor("staff", 1, Role(role), 1)


def test_happy_path_walks_every_stage_in_order():
    s = CaseState(Status.SUBMITTED)
    path = [(Event.ACCEPT, "clerk"), (Event.UNDERTAKE, "handler"), (Event.REVIEW, "reviewer"),
            (Event.REVIEW, "reviewer"), (Event.APPROVE, "approver"), (Event.CONCLUDE, "clerk")]
    for ev, role in path:
        d = decide(s, STAGES, ev, staff(role))
        s = d.after
    assert s.status == Status.CONCLUDED and d.result == Result.APPROVED


def test_illegal_transition_lists_allowed():
    with pytest.raises(IllegalTransition) as e:
        decide(CaseState(Status.SUBMITTED), STAGES, Event.APPROVE, staff("approver"))
    assert e.value.extra["allowed_transitions"] == ["accept", "refuse", "request_supplement", "withdraw"]


def test_no_stage_can_be_skipped():
    s = CaseState(Status.IN_PROGRESS, 1)  # undertake
    for ev in (Event.REVIEW, Event.APPROVE, Event.CONCLUDE):
        with pytest.raises(IllegalTransition):
            decide(s, STAGES, ev, staff("chief"))


def test_wrong_role_is_refused():
    with pytest.raises(PermissionDenied):
        decide(CaseState(Status.IN_PROGRESS, 1), STAGES, Event.UNDERTAKE, staff("reviewer"))
    with pytest.raises(PermissionDenied):
        decide(CaseState(Status.IN_PROGRESS, 1), STAGES, Event.UNDERTAKE, Actor("applicant"))


def test_reasons_required():
    for ev, st in ((Event.REFUSE, CaseState(Status.SUBMITTED)), (Event.DENY, CaseState(Status.IN_PROGRESS, 4)),
                   (Event.REQUEST_SUPPLEMENT, CaseState(Status.IN_PROGRESS, 1))):
        with pytest.raises(InvalidInput) as e:
            decide(st, STAGES, ev, staff("chief"), reason="  ")
        assert e.value.field == "reason"


def test_supplement_stops_and_resumes_at_same_stage():
    d = decide(CaseState(Status.IN_PROGRESS, 2), STAGES, Event.REQUEST_SUPPLEMENT, staff("reviewer"), reason="缺图纸")
    assert d.after == CaseState(Status.SUPPLEMENTING, None, Status.IN_PROGRESS, 2) and d.clock_stops
    back = decide(d.after, STAGES, Event.SUPPLY, Actor("applicant"))
    assert back.after == CaseState(Status.IN_PROGRESS, 2) and back.clock_resumes


def test_send_back_and_deny():
    assert decide(CaseState(Status.IN_PROGRESS, 3), STAGES, Event.SEND_BACK, staff("reviewer"), reason="x").after.stage_index == 2
    d = decide(CaseState(Status.IN_PROGRESS, 4), STAGES, Event.DENY, staff("approver"), reason="不符合规划")
    assert d.after.status == Status.CONCLUDED and d.result == Result.DENIED


def test_paper_result_only_for_paper_cases():
    s = CaseState(Status.IN_PROGRESS, 1)
    assert "record_paper_result" not in allowed_events(s, STAGES, Processing.ONLINE)
    d = decide(s, STAGES, Event.RECORD_PAPER_RESULT, staff("clerk"), Processing.PAPER, result=Result.APPROVED)
    assert d.result == Result.APPROVED


def test_terminal_states_allow_nothing():
    for st in (Status.CONCLUDED, Status.REFUSED, Status.WITHDRAWN):
        assert allowed_events(CaseState(st), STAGES, Processing.PAPER) == []
    assert not any(p in (Status.CONCLUDED, Status.REFUSED, Status.WITHDRAWN) for p, _ in TABLE)


@pytest.mark.parametrize("stages,field", [
    ([{"kind": "undertake", "time_limit_days": 1, "role": "handler"}], "stages[0].kind"),
    ([{"kind": "accept", "time_limit_days": 1, "role": "clerk"}, {"kind": "review", "time_limit_days": 1, "role": "reviewer"},
      {"kind": "undertake", "time_limit_days": 1, "role": "handler"}, {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}], "stages[2].kind"),
    ([{"kind": "accept", "time_limit_days": 1, "role": "clerk"}] + [{"kind": "review", "time_limit_days": 0, "role": "reviewer"}] * 7
     + [{"kind": "conclude", "time_limit_days": 0, "role": "clerk"}], "stages"),
    ([{"kind": "accept", "time_limit_days": 1, "role": "clerk"}, {"kind": "undertake", "time_limit_days": 9, "role": "handler"},
      {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}], "stages"),
    ([{"kind": "accept", "time_limit_days": 1, "role": "agent"}, {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}], "stages[0].role"),
])
def test_stage_rules(stages, field):
    with pytest.raises(InvalidInput) as e:
        validate_stages(stages, promised=5)
    assert e.value.field == field
