"""Performance assessment (绩效考核): the pure formulas.

A case's contribution to the monthly counters is a function of its shared-library row alone
(``contributions``), so maintaining the aggregate as records are applied is: subtract the row's
old contribution, add its new one. A replayed record leaves the row, hence the counters, as they
were; a case that moves on (accepted -> concluded, evaluated later) moves between counters.

Definitions (the usual government ones, 按期统计):
- received (受理数): cases accepted (``accepted_at``) in the month, by the month of acceptance;
- concluded (办结数): cases concluded in the month (any result), by the month of conclusion;
- completion rate (办结率) = concluded in the month / received in the month (can exceed 1 when a
  month concludes backlog; None when nothing was received);
- early (提前办结): concluded on a date before the promised deadline (承诺时限);
- on time (按时办结): concluded on or before the promised deadline (the legal one when no promise;
  a case without any deadline, e.g. an immediate item, counts on time); overdue (超期) otherwise;
  early/on-time rates are over the month's concluded cases;
- speed-up (提速): 1 - used working days / legal working days, from acceptance to conclusion and to
  the legal deadline, over concluded cases with a legal limit of >= 1 working day; kept as an integer
  sum of millionths (``round(1e6 * x)``) so sums are exact and order-free;
- satisfaction (好差评): from the case's evaluation score 1-5 (0: not evaluated), counted in the
  month of conclusion: the share of 4-5 (好评率) and the average score over evaluated cases;
- complaints (投诉): fed by ``node.services.assessment.count_complaint`` (0 until complaints call it);
- item inclusion (事项纳入率, "the share of catalog items handled online"): per (origin, department,
  month of acceptance), the catalog items that received at least one case (办件事项数) and, of those,
  the items that received at least one case through the online channel (网办事项数; the case row's
  ``channel == "online"``, its latest record's); 事项纳入率 = 网办事项数 / 办件事项数 (None without
  items). Kept per item as counts of cases (``item_contributions``) so it moves like the counters;
  item codes are node-specific, so a node or city sums its (origin, department) item counts. Not
  part of the composite score.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

COUNTERS = ("received", "concluded", "early", "on_time", "overdue", "speedup_sum", "speedup_n",
            "eval_n", "eval_good", "eval_sum", "complaints")
SPEEDUP_SCALE = 1_000_000
CST = timezone(timedelta(hours=8), "CST")  # months and days are China Standard Time's

ITEM_COUNTERS = ("received", "online")  # per item: cases accepted in the month, of them online
Key = tuple[str, str, str]  # (origin, department_code, month "YYYY-MM")
ItemKey = tuple[str, str, str, str]  # (origin, department_code, month, item_code)
WorkingDays = Callable[[date, date], int]


def month_of(at: datetime | date) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def check_month(month: object, field: str = "month") -> str:
    if not isinstance(month, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"{field}: a month is YYYY-MM, got {month!r}")
    return month


def city_of(origin: str) -> str:
    """The city a node belongs to: the first 4 digits of its division code + "00" (a province's own
    cases count under the province code)."""
    return origin if origin[2:] == "0000" else origin[:4] + "00"


def contributions(row: Mapping[str, Any], working_days: WorkingDays) -> dict[Key, dict[str, int]]:
    """What one library case row adds to the counters, by (origin, department, month)."""
    out: dict[Key, dict[str, int]] = {}
    if row.get("origin") is None:
        return out
    origin, dept = row["origin"], row["department_code"] or ""
    accepted: datetime | None = row.get("accepted_at")
    concluded: datetime | None = row.get("concluded_at")
    accepted = accepted.astimezone(CST) if accepted is not None else None
    concluded = concluded.astimezone(CST) if concluded is not None else None
    if accepted is not None:
        out.setdefault((origin, dept, month_of(accepted)), {})["received"] = 1
    if concluded is not None:
        c = out.setdefault((origin, dept, month_of(concluded)), {})
        c["concluded"] = 1
        day = concluded.date()
        promised: date | None = row.get("promised_deadline")
        legal: date | None = row.get("legal_deadline")
        deadline = promised or legal
        if promised is not None and day < promised:
            c["early"] = 1
        if deadline is None or day <= deadline:
            c["on_time"] = 1
        else:
            c["overdue"] = 1
        if accepted is not None and legal is not None:
            limit = working_days(accepted.date(), legal)
            if limit > 0:
                used = working_days(accepted.date(), day)
                c["speedup_sum"] = round(SPEEDUP_SCALE * (1 - used / limit))
                c["speedup_n"] = 1
        score = row.get("evaluation_score") or 0
        if score:
            c["eval_n"], c["eval_sum"], c["eval_good"] = 1, score, 1 if score >= 4 else 0
    return out


def item_contributions(row: Mapping[str, Any]) -> dict[ItemKey, dict[str, int]]:
    """What one library case row adds to the per-item counts: its item, in the month it was
    accepted, one case received, online or not (nothing before acceptance)."""
    accepted: datetime | None = row.get("accepted_at")
    if row.get("origin") is None or accepted is None:
        return {}
    key = (row["origin"], row.get("department_code") or "", month_of(accepted.astimezone(CST)),
           row.get("item_code") or "")
    return {key: {"received": 1, "online": 1 if row.get("channel") == "online" else 0}}


def add_into(acc: dict[Any, dict[str, int]], contrib: Mapping[Any, Mapping[str, int]], sign: int) -> None:
    for key, counters in contrib.items():
        a = acc.setdefault(key, {})
        for name, v in counters.items():
            a[name] = a.get(name, 0) + sign * v


@dataclass(frozen=True)
class Indicators:
    received: int
    concluded: int
    completion_rate: float | None
    early_rate: float | None
    on_time_rate: float | None
    speedup: float | None
    overdue: int
    satisfaction: float | None  # share of 4-5 among evaluated
    avg_score: float | None
    evaluated: int
    complaints: int
    score: float  # composite
    items_handled: int = 0  # 办件事项数
    items_online: int = 0  # 网办事项数
    online_item_rate: float | None = None  # 事项纳入率 (not in the score)


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


# Composite score (0-100): 30 on-time rate + 20 completion rate (capped at 1) + 15 early rate +
# 15 speed-up (clamped to [0, 1]) + 20 satisfaction, minus 2 per complaint (floor 0); a missing
# indicator (no cases) scores 0 for its part.
WEIGHTS = {"on_time_rate": 30, "completion_rate": 20, "early_rate": 15, "speedup": 15, "satisfaction": 20}
COMPLAINT_PENALTY = 2


def indicators(c: Mapping[str, int], items_handled: int = 0, items_online: int = 0) -> Indicators:
    """The indicators of summed counters; ``items_handled``/``items_online`` are the item counts
    of the same group (summed per (origin, department): see the module's definitions)."""
    g = {n: int(c.get(n, 0) or 0) for n in COUNTERS}
    vals = {
        "completion_rate": _ratio(g["concluded"], g["received"]),
        "early_rate": _ratio(g["early"], g["concluded"]),
        "on_time_rate": _ratio(g["on_time"], g["concluded"]),
        "speedup": g["speedup_sum"] / SPEEDUP_SCALE / g["speedup_n"] if g["speedup_n"] else None,
        "satisfaction": _ratio(g["eval_good"], g["eval_n"]),
    }
    score = 0.0
    for name, w in WEIGHTS.items():
        v = vals[name]
        if v is not None:
            score += w * min(max(v, 0.0), 1.0)
    score = max(score - COMPLAINT_PENALTY * g["complaints"], 0.0)
    return Indicators(received=g["received"], concluded=g["concluded"], overdue=g["overdue"],
                      evaluated=g["eval_n"], complaints=g["complaints"],
                      avg_score=_ratio(g["eval_sum"], g["eval_n"]), score=round(score, 4),
                      items_handled=items_handled, items_online=items_online,
                      online_item_rate=_ratio(items_online, items_handled), **vals)


RANK_BY = ("score", "received", "concluded", "completion_rate", "early_rate", "on_time_rate", "speedup",
           "overdue", "satisfaction", "avg_score", "complaints", "online_item_rate")
LOWER_IS_BETTER = {"overdue", "complaints"}


def check_by(by: object, field: str = "by") -> str:
    if by not in RANK_BY:
        raise ValueError(f"{field}: rank by one of {', '.join(RANK_BY)}, got {by!r}")
    return str(by)


def rank(entries: list[tuple[str, Indicators]], by: str = "score") -> list[tuple[int, str, Indicators]]:
    """Rank (key, indicators) by one indicator, best first; a missing value ranks last; ties are
    broken by the composite score, then by more cases received, then by the key (code) ascending —
    deterministic. Equal sort values share no rank: the rank is the position (1-based)."""
    check_by(by)
    sign = 1 if by in LOWER_IS_BETTER else -1

    def sort_key(e: tuple[str, Indicators]) -> tuple[Any, ...]:
        v = getattr(e[1], by)
        return (v is None, sign * v if v is not None else 0, -e[1].score, -e[1].received, e[0])
    return [(i + 1, k, ind) for i, (k, ind) in enumerate(sorted(entries, key=sort_key))]
