"""The shared resource library (审批资源共享库): verified records applied into queryable tables.

Applying is idempotent and ordered per origin: the same record applied twice leaves the same
row; a record older than what a row already reflects does not move it back.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from sqlalchemy import Connection, Table, any_, bindparam, delete, inspect, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from federation.envelope import Parsed
from node.domain import assessment, lights
from node.domain.calendar import WorkingCalendar, shipped_schedules
from node.domain.servicecode import division_of
from node.persistence.models import LibCase, LibEvent, LibLicense
from node.services.assessment import bump_assessment, bump_items
from node.services.supervision import CountKey, bump_counts, count_key, move_count, row_lights

CST = timezone(timedelta(hours=8), "CST")
_IN_CHUNK = 1000  # keys per IN (...) when loading a batch's rows
_COPY_MIN = 50  # rows: fewer go by plain INSERT/UPDATE (COPY costs an extra round trip or two)


_CALENDAR = WorkingCalendar(shipped_schedules())  # the national calendar: the same at every node
_WD_CACHE: dict[tuple[date, date], int] = {}


def WORKING_DAYS(start: date, end: date) -> int:
    """Working days in (start, end] on the national calendar (cached: the apply loop asks often)."""
    n = _WD_CACHE.get((start, end))
    if n is None:
        if len(_WD_CACHE) > 200_000:
            _WD_CACHE.clear()
        n = _WD_CACHE[(start, end)] = _CALENDAR.working_days_between(start, end)
    return n


def _dt(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, CST) if ms else None


def _date(s: str) -> date | None:
    return date.fromisoformat(s) if s else None


def apply_record(session: Session, rec: Parsed) -> None:
    apply_records(session, [rec])


def _postgres(session: Session) -> Connection | None:
    """This transaction's connection when it is PostgreSQL through psycopg 3 (COPY is available)."""
    conn = session.connection()
    return conn if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg" else None


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in this transaction: with ``COPY`` on PostgreSQL (several times cheaper per
    row than an executemany of INSERTs), an executemany elsewhere. Values go through the columns'
    bind processing either way (so a naive datetime is refused as on any insert)."""
    if not rows:
        return
    conn = _postgres(session) if len(rows) >= _COPY_MIN else None
    if conn is None:
        session.execute(table.insert(), rows)
        return
    cols = list(rows[0])
    procs = [(i, p) for i, p in enumerate(table.c[c].type.bind_processor(conn.dialect) for c in cols) if p]
    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in cols)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
        for r in rows:
            values = [r[c] for c in cols]
            for i, p in procs:
                values[i] = p(values[i])
            copy.write_row(values)


def _load(session: Session, table: Table, key: str, keys: set[str]) -> dict[str, dict[str, Any]]:
    col = table.c[key]
    names = [c.key for c in table.columns]
    at = names.index(key)
    ordered = sorted(keys)
    if _postgres(session) is not None:  # one array parameter instead of a thousand
        stmt = _LOAD_PG.get((table.name, key))
        if stmt is None:  # built once per table: cheaper than building (and cache-keying) one per batch
            stmt = _LOAD_PG[(table.name, key)] = select(table).where(col == any_(bindparam("keys", type_=ARRAY(col.type))))
        rows = session.connection().execute(stmt, {"keys": ordered})
        return {row[at]: dict(zip(names, row)) for row in rows}
    queries = [select(table).where(col.in_(ordered[i:i + _IN_CHUNK])) for i in range(0, len(ordered), _IN_CHUNK)]
    return {row[at]: dict(zip(names, row)) for q in queries for row in session.execute(q)}


_LOAD_PG: dict[tuple[str, str], Any] = {}


def _write(session: Session, table: Table, key: str, rows: dict[str, dict[str, Any]], new: set[str],
           changed: set[str]) -> None:
    old = sorted(changed - new)
    if len(new) + len(old) >= _COPY_MIN and _postgres(session) is not None:
        # The changed rows are rewritten whole: deleted and copied in again with the new ones (in
        # this transaction, so nobody sees them missing) — far cheaper than an UPDATE per row.
        if old:
            col = table.c[key]
            session.execute(delete(table).where(col == any_(bindparam("keys", old, type_=ARRAY(col.type)))))
        insert_rows(session, table, [rows[k] for k in sorted(new)] + [rows[k] for k in old])
        return
    if new:
        session.execute(table.insert(), [rows[k] for k in sorted(new)])
    if old:
        stmt = update(table).where(table.c[key] == bindparam("_key"))
        params = []
        for k in old:
            p = {c: v for c, v in rows[k].items() if c != key}
            p["_key"] = k
            params.append(p)
        session.execute(stmt, params)


def _assess(session: Session, cases: dict[str, dict[str, Any]], changed: set[str],
            before: dict[str, dict[Any, dict[str, int]]], before_items: dict[str, dict[Any, dict[str, int]]]) -> None:
    """Move the changed cases between the assessment counters and the per-item counts: minus what
    each contributed before the batch, plus what it contributes now (node.domain.assessment) — in
    this transaction."""
    delta: dict[Any, dict[str, int]] = {}
    items: dict[Any, dict[str, int]] = {}
    names: dict[tuple[str, str], str] = {}
    for code in changed:
        row = cases[code]
        assessment.add_into(delta, before.get(code, {}), -1)
        assessment.add_into(delta, assessment.contributions(row, WORKING_DAYS), 1)
        assessment.add_into(items, before_items.get(code, {}), -1)
        assessment.add_into(items, assessment.item_contributions(row), 1)
        names[(row["origin"], row["department_code"] or "")] = row["department_name"] or ""
    delta = {k: v for k, v in delta.items() if any(v.values())}
    if delta:
        bump_assessment(session, delta, names)
    items = {k: v for k, v in items.items() if any(v.values())}
    if items:
        bump_items(session, items)


def _expire(session: Session, cls: type, keys: set[str]) -> None:
    """Rows written with Core: an instance of them already in the session must not hide the change."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, cls) and inspect(obj).identity[0] in keys:
            session.expire(obj)


_SHIPPED: list[WorkingCalendar] = []


def _light_context(session: Session) -> tuple[WorkingCalendar, float, date]:
    """The calendar, the yellow share and today of the unit of work applying (a node's), else the
    shipped calendar, the default share and today's date in CST."""
    uow = session.info.get("uow")
    cal = getattr(uow, "calendar", None)
    ctx = getattr(uow, "ctx", None)
    now = getattr(uow, "now", None)
    if callable(cal) and ctx is not None:
        calendar = cal()
        share = float(getattr(ctx.settings, "light_warn_share", lights.DEFAULT_SHARE))
    else:
        if not _SHIPPED:
            _SHIPPED.append(WorkingCalendar(shipped_schedules()))
        calendar, share = _SHIPPED[0], lights.DEFAULT_SHARE
    today = (now if isinstance(now, datetime) else datetime.now(CST)).astimezone(CST).date()
    return calendar, share, today


_PARTITIONS: set[tuple[str, str]] = set()  # (database, month) known to have a partition of lib_events


def partition_name(month: date) -> str:
    return f"lib_events_{month.year:04d}{month.month:02d}"


def ensure_partitions(session: Session, months: Iterable[date]) -> list[str]:
    """PostgreSQL: a monthly partition of ``lib_events`` for each month (first day) not yet known
    to have one; returns the ones created. A month whose rows already went to the default
    partition (created late) keeps them there: ``yiwang supervision partitions`` is not needed for
    correctness, only for pruning. Each creation is its own savepoint: a failure leaves the batch intact."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return []
    db = str(conn.engine.url)
    created = []
    for m in sorted(set(months)):
        if (db, m.isoformat()) in _PARTITIONS:
            continue
        name = partition_name(m)
        if conn.exec_driver_sql("SELECT to_regclass(%(n)s)", {"n": name}).scalar() is None:
            nxt = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql(
                        f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF lib_events "
                        f"FOR VALUES FROM ('{m.isoformat()} 00:00:00+08') TO ('{nxt.isoformat()} 00:00:00+08')")
                created.append(name)
            except Exception:  # rows of that month in the default partition already: they stay there
                pass
        _PARTITIONS.add((db, m.isoformat()))
    return created


def apply_records(session: Session, recs: Iterable[Parsed]) -> None:
    """Apply records in order, with the same result as applying them one at a time: the rows the
    batch touches are loaded in one query per table and each changed row is written once. Every
    record that moves a case row is kept in ``lib_events`` too (once: a record applied again
    does not move the row), and the row's lights are recomputed."""
    events = [(r, r.msg.case_event) for r in recs if r.msg.HasField("case_event")]
    if not events:
        return
    session.flush()  # anything added through the ORM in this transaction is seen by the queries below
    ct: Table = LibCase.__table__  # type: ignore[assignment]
    lt: Table = LibLicense.__table__  # type: ignore[assignment]
    cases = _load(session, ct, "service_code", {ev.service_code for _, ev in events})
    numbers = {ev.license.number for _, ev in events if ev.HasField("license") and ev.license.number}
    licenses = _load(session, lt, "number", numbers) if numbers else {}
    new_cases: set[str] = set()
    changed_cases: set[str] = set()
    new_lics: set[str] = set()
    changed_lics: set[str] = set()
    history: list[dict[str, Any]] = []
    cal, share, today = _light_context(session)
    before: dict[str, dict[Any, dict[str, int]]] = {}  # a changed case's contribution before this batch
    before_items: dict[str, dict[Any, dict[str, int]]] = {}  # ... and to the per-item counts
    counted: dict[str, CountKey | None] = {}  # ... and the lib_counts row it counted in
    for rec, ev in events:
        code = ev.service_code
        if code not in before:
            row = cases.get(code)
            before[code] = assessment.contributions(row, WORKING_DAYS) if row is not None else {}
            before_items[code] = assessment.item_contributions(row) if row is not None else {}
            counted[code] = count_key(row)
        _apply(rec, ev, cases, licenses, new_cases, changed_cases, new_lics, changed_lics, history, cal)
    for code in changed_cases:
        row_lights(cases[code], cal, share, today)
    _write(session, ct, "service_code", cases, new_cases, changed_cases)
    _assess(session, cases, changed_cases, before, before_items)
    moved: dict[CountKey, int] = {}
    for code in changed_cases:
        move_count(moved, counted.get(code), count_key(cases[code]))
    bump_counts(session, moved)
    complaints: dict[Any, dict[str, int]] = {}
    for h in history:  # a complaint (投诉) counts against the case's department in its month, once per record kept
        if h["event"] == "complaint":
            key = (h["origin"], h["department_code"] or "", assessment.month_of(h["at"]))
            complaints.setdefault(key, {"complaints": 0})["complaints"] += 1
    if complaints:
        bump_assessment(session, complaints)
    if history:
        if _postgres(session) is not None:
            months = {h["at"].astimezone(CST).date().replace(day=1) for h in history}
            # the next month's too: made a month ahead, its partition exists before any row of it arrives
            ensure_partitions(session, months | {(m + timedelta(days=32)).replace(day=1) for m in months})
        insert_rows(session, LibEvent.__table__, history)  # type: ignore[arg-type]
    _write(session, lt, "number", licenses, new_lics, changed_lics)
    if session.identity_map:
        _expire(session, LibCase, changed_cases - new_cases)
        _expire(session, LibLicense, changed_lics - new_lics)


_CASE_COLUMNS = tuple(c.key for c in LibCase.__table__.columns)
_LICENSE_COLUMNS = tuple(c.key for c in LibLicense.__table__.columns)


def _clock(row: dict[str, Any], ev: Any, on: date, cal: WorkingCalendar) -> None:
    """The stage start and the supplement pause the lights need, followed from the records."""
    if ev.status == "supplementing":
        if row["supplement_started_on"] is None:
            row["supplement_started_on"] = on
        return
    if row["supplement_started_on"] is not None:  # resumed: the clock ran again from today
        row["paused_days"] = (row["paused_days"] or 0) + cal.working_days_between(row["supplement_started_on"], on)
        row["supplement_started_on"] = None
        if ev.stage_index == row["stage_index"]:
            return
    if ev.stage_index < 0:
        row["stage_index"], row["stage_started_on"] = None, None
    elif ev.stage_index != row["stage_index"]:
        row["stage_index"], row["stage_started_on"] = ev.stage_index, on


def _apply(rec: Parsed, ev: Any, cases: dict[str, dict[str, Any]], licenses: dict[str, dict[str, Any]],
           new_cases: set[str], changed_cases: set[str], new_lics: set[str], changed_lics: set[str],
           history: list[dict[str, Any]] | None = None, cal: WorkingCalendar | None = None) -> None:
    at = _dt(ev.occurred_at_ms) or _dt(rec.msg.created_at_ms)
    signed_at = _dt(rec.msg.created_at_ms)
    code = ev.service_code
    if division_of(code) != rec.origin:  # (the inbox refuses such records; this holds for any caller)
        return
    row = cases.get(code)
    if row is None:
        row = cases[code] = dict.fromkeys(_CASE_COLUMNS)
        row.update(service_code=code, origin=rec.origin, record_seq=0)
        new_cases.add(code)
    elif row["origin"] != rec.origin or row["record_seq"] >= rec.seq:
        return
    changed_cases.add(code)
    row["item_code"], row["item_name"] = ev.item_code, ev.item_name
    row["department_code"], row["department_name"] = ev.department_code, ev.department_name
    row["status"], row["stage_kind"], row["stage_name"] = ev.status, ev.stage_kind, ev.stage_name
    row["last_event"], row["last_event_at"] = ev.event, at
    if ev.event == "submit":
        row["submitted_at"] = at
    if ev.event == "accept":
        row["accepted_at"] = at
    if ev.status == "concluded" and row["concluded_at"] is None:
        row["concluded_at"] = at
    row["legal_deadline"], row["promised_deadline"] = _date(ev.legal_deadline), _date(ev.promised_deadline)
    row["stage_deadline"] = _date(ev.stage_deadline)
    row["result"] = ev.result or None
    row["applicant_id_hash"], row["applicant_name_masked"] = ev.applicant_id_hash, ev.applicant_name_masked
    row["channel"] = ev.channel or None
    if ev.evaluation_score:  # 好差评 arrives with a later record; one without a score keeps it
        row["evaluation_score"] = ev.evaluation_score
    row["service_point"] = ev.service_point or None  # (a record from a node one version behind: none)
    row["joint_code"], row["part_no"] = (ev.joint_code, ev.part_no) if ev.joint_code else (None, None)
    row["record_seq"], row["record_hash"], row["key_id"], row["signed_at"] = (rec.seq, rec.hash.hex(),
                                                                              rec.msg.key_id, signed_at)
    if cal is not None and at is not None:
        _clock(row, ev, at.astimezone(CST).date(), cal)
    if history is not None and at is not None and signed_at is not None:
        history.append({
            "origin": rec.origin, "seq": rec.seq, "at": at, "service_code": code, "event": ev.event,
            "status": ev.status, "stage_index": ev.stage_index, "stage_kind": ev.stage_kind,
            "stage_name": ev.stage_name, "actor_role": ev.actor_role or None, "item_code": ev.item_code,
            "department_code": ev.department_code, "channel": ev.channel or None,
            "legal_deadline": row["legal_deadline"], "promised_deadline": row["promised_deadline"],
            "stage_deadline": row["stage_deadline"], "extension_days": ev.extension_days, "result": ev.result or None,
            "joint_code": row["joint_code"], "part_no": row["part_no"], "record_hash": row["record_hash"],
            "signed_at": signed_at})
    if ev.HasField("license") and ev.license.number:
        lic = ev.license
        lrow = licenses.get(lic.number)
        if lrow is None:
            lrow = licenses[lic.number] = dict.fromkeys(_LICENSE_COLUMNS)
            lrow.update(number=lic.number, origin=rec.origin)
            new_lics.add(lic.number)
        elif lrow["origin"] != rec.origin or lrow["record_seq"] >= rec.seq:
            return
        changed_lics.add(lic.number)
        lrow["service_code"], lrow["name"] = ev.service_code, lic.name
        lrow["holder_hash"], lrow["holder_masked"] = lic.holder_hash, lic.holder_masked
        lrow["valid_from"], lrow["valid_until"] = _date(lic.valid_from), _date(lic.valid_until)
        lrow["issuing_department"], lrow["status"], lrow["digest"] = lic.issuing_department, lic.status, lic.digest
        lrow["record_seq"], lrow["key_id"], lrow["signed_at"] = rec.seq, rec.msg.key_id, signed_at
