"""Performance assessment (绩效考核, issue 12 item 6): monthly indicators per department, node and
city from the counters ``federation.library.apply_records`` maintains in lib_assessment and, for
事项纳入率, lib_assessment_items (formulas: node.domain.assessment), rankings and CSV/XLSX export.

Hook for complaints: ``count_complaint(uow, origin, department_code, month)`` adds one (or ``n``)
to the complaint counter in the caller's unit of work; the complaints code calls it when a
complaint is registered (and with ``n=-1`` if one is withdrawn as unfounded).
"""
from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import Table, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from node.domain import assessment as rules
from node.domain.divisions import in_subtree, subtree_prefix
from node.domain.errors import DomainError
from node.domain.policy import Action, require
from node.persistence.models import LibAssessment, LibAssessmentItem

from .context import Work

LEVELS = ("department", "node", "city")
FORMATS = ("json", "csv", "xlsx")


def bump_assessment(session: Session, delta: dict[Any, dict[str, int]],
                    names: dict[tuple[str, str], str] | None = None) -> None:
    """Add ``delta`` ((origin, department, month) -> counter -> n) into lib_assessment (this
    transaction; one query to read the touched rows, one executemany each to insert and update)."""
    at: Table = LibAssessment.__table__  # type: ignore[assignment]
    origins = sorted({k[0] for k in delta})
    months = sorted({k[2] for k in delta})
    have = {(r.origin, r.department_code, r.month): r._asdict() for r in session.execute(
        select(at).where(at.c.origin.in_(origins), at.c.month.in_(months)))}
    new, old = [], []
    for key in sorted(delta):
        row = have.get(key)
        name = (names or {}).get((key[0], key[1]))
        if row is None:
            row = {"origin": key[0], "department_code": key[1], "month": key[2], "department_name": name or "",
                   **dict.fromkeys(rules.COUNTERS, 0)}
            new.append(row)
        else:
            old.append(row)
            if name:
                row["department_name"] = name
        for c, v in delta[key].items():
            row[c] += v
    if new:
        session.execute(at.insert(), new)
    if old:
        stmt = update(at).where(at.c.origin == bindparam("_o"), at.c.department_code == bindparam("_d"),
                                at.c.month == bindparam("_m"))
        session.execute(stmt, [{**{c: r[c] for c in ("department_name", *rules.COUNTERS)},
                                "_o": r["origin"], "_d": r["department_code"], "_m": r["month"]} for r in old])


def bump_items(session: Session, delta: dict[Any, dict[str, int]]) -> None:
    """Add ``delta`` ((origin, department, month, item_code) -> received/online -> n) into
    lib_assessment_items (this transaction; one query to read the touched rows, one executemany
    each to insert and update). Rows that fall to zero stay (the ranking counts rows above zero)."""
    it: Table = LibAssessmentItem.__table__  # type: ignore[assignment]
    origins = sorted({k[0] for k in delta})
    months = sorted({k[2] for k in delta})
    items = sorted({k[3] for k in delta})
    have = {(r.origin, r.department_code, r.month, r.item_code): r._asdict() for r in session.execute(
        select(it).where(it.c.origin.in_(origins), it.c.month.in_(months), it.c.item_code.in_(items)))}
    new, old = [], []
    for key in sorted(delta):
        row = have.get(key)
        if row is None:
            row = {"origin": key[0], "department_code": key[1], "month": key[2], "item_code": key[3],
                   **dict.fromkeys(rules.ITEM_COUNTERS, 0)}
            new.append(row)
        else:
            old.append(row)
        for c, v in delta[key].items():
            row[c] += v
    if new:
        session.execute(it.insert(), new)
    if old:
        stmt = update(it).where(it.c.origin == bindparam("_o"), it.c.department_code == bindparam("_d"),
                                it.c.month == bindparam("_m"), it.c.item_code == bindparam("_i"))
        session.execute(stmt, [{**{c: r[c] for c in rules.ITEM_COUNTERS}, "_o": r["origin"],
                                "_d": r["department_code"], "_m": r["month"], "_i": r["item_code"]} for r in old])


def item_counts(session: Session, month: str) -> list[tuple[str, str, int, int]]:
    """(origin, department, items handled, items online) of the month: one GROUP BY over
    lib_assessment_items (an item counts once it received a case; online once one came online)."""
    it = LibAssessmentItem
    q = (select(it.origin, it.department_code,
                func.sum(case((it.received > 0, 1), else_=0)), func.sum(case((it.online > 0, 1), else_=0)))
         .where(it.month == month).group_by(it.origin, it.department_code))
    return [(o, d, int(h or 0), int(n or 0)) for o, d, h, n in session.execute(q)]


def count_complaint(uow: Work, origin: str, department_code: str, month: str, n: int = 1) -> None:
    """The complaints hook: count ``n`` complaints against (origin, department) in ``month``."""
    rules.check_month(month)
    bump_assessment(uow.session, {(origin, department_code, month): {"complaints": n}})


def _bad(field: str, msg: str) -> DomainError:
    return DomainError(f"{field}: {msg}", field, location="query")


def parse_args(args: Any) -> dict[str, str]:
    """The query (month, level, by, format, region) checked: a bad value is a 400 naming the field."""
    out: dict[str, str] = {}
    try:
        out["month"] = rules.check_month(args.get("month"))
    except ValueError as e:
        raise _bad("month", str(e).split(": ", 1)[1]) from None
    out["level"] = args.get("level", "department")
    if out["level"] not in LEVELS:
        raise _bad("level", f"one of {', '.join(LEVELS)}, got {out['level']!r}")
    try:
        out["by"] = rules.check_by(args.get("by", "score"))
    except ValueError as e:
        raise _bad("by", str(e).split(": ", 1)[1]) from None
    out["format"] = args.get("format", "json")
    if out["format"] not in FORMATS:
        raise _bad("format", f"one of {', '.join(FORMATS)}, got {out['format']!r}")
    region = args.get("region")
    if region is not None:
        from node.domain.divisions import check_node_id
        try:
            out["region"] = check_node_id(region, "region")
        except ValueError as e:
            raise _bad("region", str(e).split(": ", 1)[1]) from None
    return out


def ranking(uow: Work, month: str, level: str = "department", by: str = "score",
            region: str | None = None) -> list[dict[str, Any]]:
    """The month's ranking at ``level`` (department: per department code across the region, as the
    province ranks its 43 departments; node: per origin; city: per origin's city), best first."""
    require(uow.actor, Action.READ_ASSESSMENT)
    rules.check_month(month)
    rules.check_by(by)
    here = uow.ctx.node_id
    if region is not None and not in_subtree(region, here):
        raise DomainError(f"region: {region} is outside this node's region {here}", "region",
                          location="query")
    scope = region or here
    # one GROUP BY at the level (the month's rows summed in the database, not loaded one by one)
    t = LibAssessment
    key: Any = {"department": t.department_code, "node": t.origin,
                "city": case((func.substr(t.origin, 3, 4) == "0000", t.origin),
                             else_=func.substr(t.origin, 1, 4) + "00")}[level]  # rules.city_of
    q = select(key, func.max(t.department_name), *[func.sum(getattr(t, c)) for c in rules.COUNTERS]) \
        .where(t.month == month, t.origin.startswith(subtree_prefix(scope))).group_by(key)
    groups: dict[str, dict[str, int]] = {}
    labels: dict[str, str] = {}
    for k, name, *sums in uow.session.execute(q):
        groups[k] = {c: int(v or 0) for c, v in zip(rules.COUNTERS, sums)}
        if level == "department" and name:
            labels[k] = name

    def key_of(origin: str, department_code: str) -> str:
        return {"department": department_code, "node": origin, "city": rules.city_of(origin)}[level]
    items: dict[str, list[int]] = {}  # key -> [handled, online], summed per (origin, department)
    for origin, dept, handled, online in item_counts(uow.session, month):
        if not in_subtree(origin, scope):
            continue
        k = key_of(origin, dept)
        if k in groups:  # (an item received a case in the month, so its group has a row too)
            n = items.setdefault(k, [0, 0])
            n[0] += handled
            n[1] += online
    ranked = rules.rank([(k, rules.indicators(g, *items.get(k, (0, 0)))) for k, g in groups.items()], by)
    return [{"rank": pos, "code": key, "name": labels.get(key, ""), **ind.__dict__} for pos, key, ind in ranked]


COLUMNS = (("rank", "排名"), ("code", "代码"), ("name", "名称"), ("received", "受理数"), ("concluded", "办结数"),
           ("completion_rate", "办结率"), ("early_rate", "提前办结率"), ("on_time_rate", "按时办结率"),
           ("speedup", "平均提速"), ("overdue", "超期数"), ("satisfaction", "好评率"), ("avg_score", "平均评分"),
           ("evaluated", "评价数"), ("complaints", "投诉数"), ("items_handled", "办件事项数"),
           ("items_online", "网办事项数"), ("online_item_rate", "事项纳入率"), ("score", "综合得分"))


def _cell(v: Any) -> Any:
    return "" if v is None else (round(v, 4) if isinstance(v, float) else v)


def export(rows: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([h for _, h in COLUMNS])
        for r in rows:
            w.writerow([_cell(r[k]) for k, _ in COLUMNS])
        return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 CSV correctly
    import xlsxwriter
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("绩效考核")
    for j, (_, h) in enumerate(COLUMNS):
        sheet.write(0, j, h)
    for i, r in enumerate(rows, start=1):
        for j, (k, _) in enumerate(COLUMNS):
            sheet.write(i, j, _cell(r[k]))
    book.close()
    return out.getvalue()
