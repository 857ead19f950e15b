"""Integrity detection on an upper node, over the signed records it holds (fed_records).

Per-case rules (:func:`node.domain.integrity.check_case`) run for the cases a batch of applied
records touches (:func:`scan_applied`, called from ``inbox`` right after ``apply_records``) and in
the periodic job (:func:`scan_all`), which also runs the time-based rules (never moved, log gaps).
A finding is written with ``INSERT .. ON CONFLICT (key) DO NOTHING``: raised once, whatever the
number of reruns, restarts or concurrent runs.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from federation.envelope import Parsed
from federation.pb.v1 import federation_pb2 as pb
from node.domain.integrity import (
    Finding,
    Observed,
    check_case,
    check_log_gap,
    check_never_moved,
)
from node.persistence.models import FedHead, FedRecord, IntegrityFinding

FUTURE_TOLERANCE_MS = 5 * 60_000
NEVER_MOVED_WORKING_DAYS = 10


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _observed(row: FedRecord) -> Observed | None:
    msg = pb.RecordBody()
    msg.ParseFromString(row.body)
    if not msg.HasField("case_event"):
        return None
    ev = msg.case_event
    return Observed(row.origin, row.seq, row.hash, ev.service_code, ev.event, ev.status, ev.stage_index,
                    ev.stage_kind, ev.occurred_at_ms, _ms(row.stored_at))


def _cases(session: Session, origins: Iterable[str] | None, codes: set[str] | None) -> dict[str, list[Observed]]:
    stmt = select(FedRecord).order_by(FedRecord.origin, FedRecord.seq)
    if origins is not None:
        stmt = stmt.where(FedRecord.origin.in_(sorted(set(origins))))
    out: dict[str, list[Observed]] = {}
    for row in session.scalars(stmt):
        o = _observed(row)
        if o is not None and (codes is None or o.service_code in codes):
            out.setdefault(o.service_code, []).append(o)
    return out


def record(session: Session, findings: Iterable[Finding], now: datetime) -> int:
    """Insert the findings not raised yet; returns how many were new."""
    rows = [{"key": f.key, "kind": f.kind, "subject": f.subject, "origin": f.origin, "detail": f.detail,
                 "evidence": [{"origin": e.origin, "seq": e.seq, "hash": e.hash} for e in f.evidence],
                 "raised_at": now} for f in findings]
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = 0
    for r in rows:
        stmt = ins(IntegrityFinding).values(**r).on_conflict_do_nothing(index_elements=["key"])
        new += len(session.execute(stmt.returning(IntegrityFinding.id)).all())
    return new


def scan_applied(session: Session, fresh: list[Parsed], now: datetime) -> int:
    """Per-case rules for the cases ``fresh`` (just applied) touched."""
    codes = {r.msg.case_event.service_code for r in fresh if r.msg.HasField("case_event")}
    if not codes:
        return 0
    session.flush()
    cases = _cases(session, {r.origin for r in fresh}, codes)
    return record(session, [f for evs in cases.values() for f in check_case(evs, FUTURE_TOLERANCE_MS)], now)


def weekdays_between(a: date, b: date) -> int:
    """Monday–Friday days after ``a`` up to ``b`` (the shipped holiday calendar is not consulted)."""
    n, d = 0, a
    while d < b:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n += 1
    return n


def scan_all(session: Session, now: datetime, never_moved_days: int = NEVER_MOVED_WORKING_DAYS) -> int:
    """Every rule over every record held: the periodic job."""
    findings: list[Finding] = []
    for evs in _cases(session, None, None).values():
        findings += check_case(evs, FUTURE_TOLERANCE_MS)
        nm = check_never_moved(evs, now.date(), never_moved_days, weekdays_between)
        if nm is not None:
            findings.append(nm)
    held = dict(session.execute(select(FedRecord.origin, func.max(FedRecord.seq)).group_by(FedRecord.origin)).all())
    for head in session.scalars(select(FedHead)):
        top = held.get(head.origin)
        if top is None:
            continue
        seqs = list(session.scalars(select(FedRecord.seq).where(FedRecord.origin == head.origin)))
        gap = check_log_gap(head.origin, seqs, max(head.seq, top))
        if gap is not None:
            findings.append(gap)
    return record(session, findings, now)
