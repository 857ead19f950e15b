"""The assessment formulas (node.domain.assessment): contributions, indicators, ranking, checks."""
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from node.domain import assessment as a

CST = timezone(timedelta(hours=8))
pytestmark = pytest.mark.unit


def wd(start: date, end: date) -> int:  # calendar days stand in for working days here
    return max((end - start).days, 0)


def row(**kw):
    base = dict(origin="330105", department_code="D", accepted_at=None, concluded_at=None,
                legal_deadline=None, promised_deadline=None, evaluation_score=None)
    return {**base, **kw}


def test_received_and_concluded_count_in_their_own_months():
    r = row(accepted_at=datetime(2026, 1, 31, 20, tzinfo=CST), concluded_at=datetime(2026, 2, 3, tzinfo=CST),
            legal_deadline=date(2026, 2, 10), promised_deadline=date(2026, 2, 5), evaluation_score=5)
    c = a.contributions(r, wd)
    assert c[("330105", "D", "2026-01")] == {"received": 1}
    feb = c[("330105", "D", "2026-02")]
    assert feb["concluded"] == feb["early"] == feb["on_time"] == 1 and "overdue" not in feb
    assert feb["speedup_sum"] == round(1e6 * (1 - 3 / 10)) and feb["speedup_n"] == 1
    assert (feb["eval_n"], feb["eval_sum"], feb["eval_good"]) == (1, 5, 1)


def test_month_is_china_time():
    utc_evening = datetime(2026, 1, 31, 17, tzinfo=UTC)  # 2026-02-01 01:00 CST
    assert list(a.contributions(row(accepted_at=utc_evening), wd)) == [("330105", "D", "2026-02")]


def test_overdue_against_promise_then_legal_and_no_deadline_is_on_time():
    late = row(concluded_at=datetime(2026, 3, 9, tzinfo=CST), promised_deadline=date(2026, 3, 8),
               legal_deadline=date(2026, 3, 20))
    assert a.contributions(late, wd)[("330105", "D", "2026-03")]["overdue"] == 1
    legal_only = row(concluded_at=datetime(2026, 3, 9, tzinfo=CST), legal_deadline=date(2026, 3, 9))
    c = a.contributions(legal_only, wd)[("330105", "D", "2026-03")]
    assert c.get("on_time") == 1 and "early" not in c  # early is against a promise only
    assert a.contributions(row(concluded_at=datetime(2026, 3, 9, tzinfo=CST)), wd)[("330105", "D", "2026-03")]["on_time"] == 1


def test_moving_between_counters_is_old_out_new_in():
    acc: dict = {}
    old = row(accepted_at=datetime(2026, 3, 1, tzinfo=CST))
    new = row(accepted_at=datetime(2026, 3, 1, tzinfo=CST), concluded_at=datetime(2026, 4, 2, tzinfo=CST))
    a.add_into(acc, a.contributions(old, wd), 1)
    a.add_into(acc, a.contributions(old, wd), -1)
    a.add_into(acc, a.contributions(new, wd), 1)
    assert acc[("330105", "D", "2026-03")] == {"received": 1}
    assert acc[("330105", "D", "2026-04")]["concluded"] == 1


def test_indicators_and_composite():
    i = a.indicators({"received": 4, "concluded": 2, "on_time": 2, "early": 1, "speedup_sum": 1_000_000,
                      "speedup_n": 2, "eval_n": 2, "eval_good": 1, "eval_sum": 7, "complaints": 1})
    assert (i.completion_rate, i.on_time_rate, i.early_rate, i.speedup, i.satisfaction, i.avg_score) == \
        (0.5, 1.0, 0.5, 0.5, 0.5, 3.5)
    assert i.score == 30 + 20 * 0.5 + 15 * 0.5 + 15 * 0.5 + 20 * 0.5 - 2
    empty = a.indicators({})
    assert empty.completion_rate is None and empty.score == 0


def test_rank_is_deterministic_and_missing_values_last():
    good = a.indicators({"received": 1, "concluded": 1, "on_time": 1})
    none = a.indicators({"received": 1})
    entries = [("B", good), ("A", good), ("C", none)]
    assert [k for _, k, _ in a.rank(entries, "on_time_rate")] == ["A", "B", "C"]
    assert [k for _, k, _ in a.rank(list(reversed(entries)), "on_time_rate")] == ["A", "B", "C"]
    worse = a.indicators({"received": 1, "overdue": 3, "concluded": 3})
    assert [k for _, k, _ in a.rank([("X", worse), ("Y", good)], "overdue")] == ["Y", "X"]


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-01", None, "2026-00"])
def test_bad_month(bad):
    with pytest.raises(ValueError, match="month"):
        a.check_month(bad)


def test_bad_by_and_city():
    with pytest.raises(ValueError, match="by"):
        a.check_by("luck")
    assert a.city_of("330105") == "330100" and a.city_of("330000") == "330000" and a.city_of("330200") == "330200"


def test_item_contributions_count_the_case_for_its_item_in_the_month_of_acceptance():
    r = row(item_code="330105-XK-1", channel="online", accepted_at=datetime(2026, 1, 31, 17, tzinfo=UTC))
    assert a.item_contributions(r) == {("330105", "D", "2026-02", "330105-XK-1"): {"received": 1, "online": 1}}
    for channel in ("window", "agent", None):
        assert a.item_contributions({**r, "channel": channel}) == {
            ("330105", "D", "2026-02", "330105-XK-1"): {"received": 1, "online": 0}}
    assert a.item_contributions({**r, "accepted_at": None}) == {}  # submitted, not yet accepted: nothing
    assert a.item_contributions({**r, "origin": None}) == {}
    # a case moving channel, item or month: old out, new in, nothing left behind
    acc: dict = {}
    moved = {**r, "channel": "window", "item_code": "330105-XK-2", "accepted_at": datetime(2026, 3, 1, tzinfo=CST)}
    a.add_into(acc, a.item_contributions(r), 1)
    a.add_into(acc, a.item_contributions(r), -1)
    a.add_into(acc, a.item_contributions(moved), 1)
    assert {k: v for k, v in acc.items() if any(v.values())} == {
        ("330105", "D", "2026-03", "330105-XK-2"): {"received": 1, "online": 0}}


def test_online_item_rate_is_outside_the_score_and_ranks_missing_last():
    c = {"received": 4, "concluded": 2, "on_time": 2}
    i = a.indicators(c, items_handled=4, items_online=3)
    assert (i.items_handled, i.items_online, i.online_item_rate) == (4, 3, 0.75)
    assert i.score == a.indicators(c).score  # not part of the composite
    none = a.indicators(c)
    assert (none.items_handled, none.items_online, none.online_item_rate) == (0, 0, None)
    assert a.check_by("online_item_rate") == "online_item_rate"
    half = a.indicators(c, 2, 1)
    ranked = a.rank([("N", none), ("H", half), ("T", i)], "online_item_rate")
    assert [k for _, k, _ in ranked] == ["T", "H", "N"]
