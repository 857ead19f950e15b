"""Pure integrity rules: each rule positive and negative."""
from __future__ import annotations

from datetime import date

from node.domain.integrity import (
    Kind,
    Observed,
    check_case,
    check_log_gap,
    check_never_moved,
    check_stopped_syncing,
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
    assert f is not None and f.kind == Kind.NEVER_MOVED and f.key == "never_moved:SC1"
    assert check_never_moved(evs, date.fromtimestamp((T0 + 3 * DAY) / 1000), 10, _wd) is None
    assert check_never_moved(happy(), today, 10, _wd) is None  # concluded
    assert check_never_moved(happy()[:1], today, 10, _wd) is None  # never accepted


def test_log_gap() -> None:
    f = check_log_gap("330105", [1, 2, 4, 5], 5)
    assert f is not None and "3" in f.detail
    assert check_log_gap("330105", [1, 2, 3], 3) is None


def test_stopped_syncing() -> None:
    hour = 3_600_000
    assert check_stopped_syncing("330105", 7, T0, T0 + 30 * hour, T0 + 30 * hour, 24 * hour) is not None
    assert check_stopped_syncing("330105", 7, T0, None, T0 + 30 * hour, 24 * hour) is None  # not seen: offline
    assert check_stopped_syncing("330105", 7, T0, T0 + hour, T0 + 2 * hour, 24 * hour) is None
