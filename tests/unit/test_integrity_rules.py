"""Pure integrity rules: each rule positive and negative."""
from __future__ import annotations

from datetime import date, datetime

from node.domain.calendar import WorkingCalendar, shipped_schedules
from node.domain.integrity import (
    CST,
    Kind,
    Observed,
    check_case,
    check_idle,
    check_log_gap,
    check_never_moved,
    check_stopped_syncing,
    log_gap,
    missing_ranges,
)

DAY = 86_400_000
T0 = 1_780_000_000_000


def ev(seq: int, event: str, status: str, idx: int = -1, kind: str = "", t: int | None = None,
       recv: int | None = None) -> Observed:
    at = T0 + seq * 1000 if t is None else t
    return Observed("330105", seq, f"h{seq}", "SC1", event, status, idx, kind, at, recv)


def happy() -> list[Observed]:
    return [
        ev(1, "submit", "submitted"),
        ev(2, "accept", "in_progress", 1, "undertake"),
        ev(3, "undertake", "in_progress", 2, "review"),
        ev(4, "review", "in_progress", 3, "approve"),
        ev(5, "approve", "in_progress", 4, "conclude"),
        ev(6, "conclude", "concluded"),
    ]


def kinds(events: list[Observed]) -> list[str]:
    return [f.kind for f in check_case(events)]


def test_a_regular_case_has_no_finding() -> None:
    assert kinds(happy()) == []


def test_a_skipped_stage_is_found() -> None:
    evs = happy()
    evs[3] = ev(4, "review", "in_progress", 4, "conclude")  # approve (3) skipped
    del evs[4]
    assert Kind.SKIPPED_STAGE in kinds(evs)


def test_an_event_out_of_order_is_found() -> None:
    evs = happy()
    evs[2] = ev(3, "approve", "in_progress", 2, "review")  # approve while at undertake
    found = check_case(evs)
    assert next(f.kind for f in found) == Kind.OUT_OF_ORDER
    assert [e.seq for e in found[0].evidence] == [2, 3]


def test_a_result_without_acceptance() -> None:
    evs = [ev(1, "submit", "submitted"), ev(2, "conclude", "concluded")]
    assert Kind.RESULT_WITHOUT_ACCEPTANCE in kinds(evs)
    assert Kind.RESULT_WITHOUT_ACCEPTANCE not in kinds(happy())


def test_an_acceptance_after_a_refusal() -> None:
    evs = [ev(1, "submit", "submitted"), ev(2, "refuse", "refused"), ev(3, "accept", "in_progress", 1, "undertake")]
    found = check_case(evs)
    assert Kind.ACCEPT_AFTER_REFUSAL in [f.kind for f in found]
    assert Kind.ACCEPT_AFTER_REFUSAL not in kinds([ev(1, "submit", "submitted"), ev(2, "refuse", "refused")])


def test_time_running_backwards() -> None:
    evs = happy()
    evs[3] = ev(4, "review", "in_progress", 3, "approve", t=T0)  # earlier than seq 3
    found = [f for f in check_case(evs) if f.kind == Kind.TIME_BACKWARDS]
    assert len(found) == 1 and [e.seq for e in found[0].evidence] == [3, 4]


def test_time_in_the_future_beyond_tolerance() -> None:
    evs = happy()
    evs[5] = ev(6, "conclude", "concluded", t=T0 + DAY, recv=T0 + 10_000)
    assert Kind.FUTURE_TIME in kinds(evs)
    evs[5] = ev(6, "conclude", "concluded", t=T0 + 60_000, recv=T0 + 10_000)  # within 5 minutes
    assert Kind.FUTURE_TIME not in kinds(evs)


def test_the_key_is_stable() -> None:
    evs = [ev(1, "submit", "submitted"), ev(2, "conclude", "concluded")]
    assert [f.key for f in check_case(evs)] == [f.key for f in check_case(list(evs))]


def _wd(a: date, b: date) -> int:
    return (b - a).days


def test_never_moved() -> None:
    evs = happy()[:3]
    today = date.fromtimestamp((T0 + 30 * DAY) / 1000)
    f = check_never_moved(evs, today, 10, _wd)
    assert f is not None and f.kind == Kind.NEVER_MOVED and f.key == "never_moved:SC1:330105/3"  # once per idle stretch
    assert check_never_moved(evs, date.fromtimestamp((T0 + 3 * DAY) / 1000), 10, _wd) is None
    assert check_never_moved(happy(), today, 10, _wd) is None  # concluded
    assert check_never_moved(happy()[:1], today, 10, _wd) is None  # never accepted


def test_log_gap() -> None:
    f = check_log_gap("330105", [1, 2, 4, 5], 5)
    assert f is not None and "3" in f.detail
    assert check_log_gap("330105", [1, 2, 3], 3) is None


def test_missing_ranges_and_the_gap_detail() -> None:
    assert missing_ranges([2, 3, 7, 8], 10) == [(1, 1), (4, 6), (9, 10)]
    assert missing_ranges([1, 2, 3], 3) == [] and missing_ranges([], 2) == [(1, 2)]
    assert missing_ranges([1, 5], 3) == [(2, 3)]  # beyond the head: not asked about
    f = log_gap("330105", [(1, 1), (4, 6)], 9)
    assert f is not None and f.detail == "missing seq 1, 4-6 below head 9 (4 records)" and f.key == "log_gap:330105"
    assert log_gap("330105", [], 9) is None


def _cst_ms(y: int, m: int, d: int, h: int = 10) -> int:
    return int(datetime(y, m, d, h, tzinfo=CST).timestamp() * 1000)


def test_never_moved_counts_the_working_calendar_not_weekdays() -> None:
    """Last record Monday 2026-09-28; on Tuesday 2026-10-13 eleven weekdays have passed, but the
    National Day holiday (10-01..10-07 off, Saturday 10-10 a make-up working day) leaves seven."""
    cal = WorkingCalendar(shipped_schedules())
    last = Observed("330105", 9, "h9", "SC1", "undertake", "in_progress", 2, "review", _cst_ms(2026, 9, 28))
    assert check_idle(last, True, date(2026, 10, 13), 10, _weekdays) is not None
    assert check_idle(last, True, date(2026, 10, 13), 10, cal.working_days_between) is None
    assert check_idle(last, True, date(2026, 10, 13), 6, cal.working_days_between) is not None
    f = check_idle(last, True, date(2026, 10, 20), 10, cal.working_days_between)
    assert f is not None and "12 working days since 2026-09-28" in f.detail
    assert [(e.origin, e.seq, e.hash) for e in f.evidence] == [("330105", 9, "h9")]


def test_never_moved_is_judged_on_china_dates() -> None:
    """00:30 in Beijing is still the day before in UTC: the day of the record is the CST one."""
    cal = WorkingCalendar(shipped_schedules())
    late = Observed("330105", 9, "h9", "SC1", "undertake", "in_progress", 2, "review",
                    int(datetime(2026, 3, 3, 0, 30, tzinfo=CST).timestamp() * 1000))  # Tuesday in CST
    assert check_idle(late, True, date(2026, 3, 17), 10, cal.working_days_between) is None  # 3-04..3-17: 10
    assert check_idle(late, True, date(2026, 3, 18), 10, cal.working_days_between) is not None


def test_never_moved_not_for_waiting_ended_or_unaccepted_cases() -> None:
    cal = WorkingCalendar(shipped_schedules())
    today = date(2026, 12, 1)
    for status in ("supplementing", "concluded", "refused", "withdrawn"):
        last = Observed("330105", 3, "h", "SC1", "x", status, -1, "", _cst_ms(2026, 3, 2))
        assert check_idle(last, True, today, 10, cal.working_days_between) is None, status
    last = Observed("330105", 1, "h", "SC1", "submit", "submitted", -1, "", _cst_ms(2026, 3, 2))
    assert check_idle(last, False, today, 10, cal.working_days_between) is None


def _weekdays(a: date, b: date) -> int:
    from datetime import timedelta

    return sum(1 for i in range(1, (b - a).days + 1) if (a + timedelta(days=i)).weekday() < 5)


def test_a_partial_history_does_not_claim_a_missing_acceptance() -> None:
    """A library whose history began after the case did: the acceptance may be in what is not
    seen, but a transition that skips a stage is still a finding."""
    tail = happy()[3:]  # from review on
    assert kinds(tail) == []
    assert Kind.RESULT_WITHOUT_ACCEPTANCE in kinds([ev(1, "submit", "submitted"), ev(2, "conclude", "concluded")])
    assert Kind.RESULT_WITHOUT_ACCEPTANCE in [f.kind for f in check_case(tail, from_start=True)]
    skipped = [ev(4, "review", "in_progress", 3, "approve"), ev(5, "approve", "in_progress", 5, "conclude")]
    assert kinds(skipped) == [Kind.SKIPPED_STAGE]


def test_stopped_syncing() -> None:
    hour = 3_600_000
    assert check_stopped_syncing("330105", 7, T0, T0 + 30 * hour, T0 + 30 * hour, 24 * hour) is not None
    assert check_stopped_syncing("330105", 7, T0, None, T0 + 30 * hour, 24 * hour) is None  # not seen: offline
    assert check_stopped_syncing("330105", 7, T0, T0 + hour, T0 + 2 * hour, 24 * hour) is None


def test_stopped_syncing_once_per_stall_with_the_last_record_as_evidence() -> None:
    hour = 3_600_000
    f = check_stopped_syncing("330105", 7, T0, T0 + 2 * hour, T0 + 3 * hour, hour, "ab" * 32)
    assert f is not None and f.key == "stopped_syncing:330105@7" and f.head_seq == 7
    assert [(e.origin, e.seq, e.hash) for e in f.evidence] == [("330105", 7, "ab" * 32)]
    later = check_stopped_syncing("330105", 9, T0 + 5 * hour, T0 + 7 * hour, T0 + 8 * hour, hour)
    assert later is not None and later.key == "stopped_syncing:330105@9" and later.evidence == ()
    # seen only before the threshold passed, then silent: offline, not "still serves"
    assert check_stopped_syncing("330105", 7, T0, T0 + hour // 2, T0 + 3 * hour, hour) is None
    # the head advanced again since (seen and pushed): nothing
    assert check_stopped_syncing("330105", 8, T0 + 2 * hour, T0 + 2 * hour, T0 + 2 * hour + 60_000, hour) is None
