"""Integrity detection (环节完整性监察) on an upper node, over the signed records it holds.

Two entry points, both writing through :func:`record` (``INSERT .. ON CONFLICT (key) DO NOTHING``:
a finding is raised once, whatever the number of replays, reruns, restarts or concurrent runs):

- :func:`scan_applied` -- the per-case rules (:func:`node.domain.integrity.check_case`) for exactly
  the cases a batch of a child's records touched, called by ``inbox.receive_batch`` right after
  ``library.apply_records`` in the same unit of work. Each case's history is read back from the
  library's ``lib_events`` (one query for every case of the batch, by its ``service_code`` index),
  never by re-reading the origin's ``fed_records``.
- :func:`scan_logs` -- the whole-log rules of the periodic job (``node.ports.IntegrityScanner``,
  the beat task ``yiwang.scan_integrity``): log gaps (``fed_records`` against ``fed_heads``), cases
  that never moved (``lib_cases``, working days on the node's calendar) and children that stopped
  syncing (``fed_links``: when the child's head last advanced here, when it was last seen).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, any_, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from federation.envelope import Parsed
from node.domain.calendar import WorkingCalendar
from node.domain.integrity import (
    CST,
    Finding,
    Observed,
    check_case,
    check_idle,
    check_stopped_syncing,
    log_gap,
)
from node.persistence.models import (
    FedHead,
    FedLink,
    FedRecord,
    IntegrityFinding,
    LibCase,
    LibEvent,
)

if TYPE_CHECKING:
    from node.persistence.uow import UnitOfWork

FUTURE_TOLERANCE_MS = 5 * 60_000
NEVER_MOVED_WORKING_DAYS = 10
STALL = timedelta(hours=1)
_SQLITE_IN = 5000  # codes per IN (...) on SQLite: a whole batch (server.MAX_BATCH) in one query
_GAP_RUNS = 21  # missing runs read per origin (the detail names 20)


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _aware(dt: datetime) -> datetime:
    """SQLite gives datetimes back naive; they were stored in CST."""
    return dt.replace(tzinfo=CST) if dt.tzinfo is None else dt


def record(session: Session, findings: Iterable[Finding], now: datetime) -> int:
    """Insert the findings not raised yet, in one statement; returns how many were new. Rows go
    in key order, so two transactions raising overlapping findings at once wait for each other
    instead of deadlocking (PostgreSQL)."""
    rows: dict[str, dict[str, Any]] = {}
    for f in findings:
        rows.setdefault(f.key, {
            "key": f.key, "kind": f.kind, "subject": f.subject, "origin": f.origin, "detail": f.detail,
            "evidence": [{"origin": e.origin, "seq": e.seq, "hash": e.hash} for e in f.evidence],
            "raised_at": now, "head_seq": f.head_seq})
    if not rows:
        return 0
    ins = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (ins(IntegrityFinding).values([rows[k] for k in sorted(rows)])
            .on_conflict_do_nothing(index_elements=["key"]).returning(IntegrityFinding.id))
    return len(session.execute(stmt).all())


_HISTORY_COLUMNS = (LibEvent.service_code, LibEvent.origin, LibEvent.seq, LibEvent.record_hash, LibEvent.event,
                    LibEvent.status, LibEvent.stage_index, LibEvent.stage_kind, LibEvent.at)


def history(session: Session, codes: set[str],
            received: dict[tuple[str, int], int] | None = None) -> dict[str, list[Observed]]:
    """The cases' histories from ``lib_events``, each in log order, in one query (PostgreSQL: one
    array parameter; SQLite: up to ``_SQLITE_IN`` codes per query). ``received``: the time (ms)
    this node stored a record, by (origin, seq), for the ``future_time`` rule."""
    received = received or {}
    ordered = sorted(codes)
    if session.get_bind().dialect.name == "postgresql":
        queries = [select(*_HISTORY_COLUMNS).where(
            LibEvent.service_code == any_(bindparam("codes", ordered, type_=ARRAY(LibEvent.service_code.type))))]
    else:
        queries = [select(*_HISTORY_COLUMNS).where(LibEvent.service_code.in_(ordered[i:i + _SQLITE_IN]))
                   for i in range(0, len(ordered), _SQLITE_IN)]
    out: dict[str, list[Observed]] = {}
    for q in queries:
        for code, origin, seq, hash_, event, status, idx, kind, at in session.execute(
                q.order_by(LibEvent.service_code, LibEvent.seq)):
            out.setdefault(code, []).append(Observed(origin, seq, hash_, code, event, status, idx, kind,
                                                     _ms(_aware(at)), received.get((origin, seq))))
    return out


def scan_applied(session: Session, fresh: Sequence[Parsed], now: datetime) -> int:
    """The per-case rules for the cases ``fresh`` (records just stored and applied, in this
    transaction) touched, over each case's whole history; returns how many findings were new.
    A fresh record was received ``now`` (its ``fed_records.stored_at``); the case's older records
    were judged for ``future_time`` when they arrived."""
    codes = {r.msg.case_event.service_code for r in fresh if r.msg.HasField("case_event")}
    if not codes:
        return 0
    session.flush()
    at = _ms(now)
    cases = history(session, codes, {(r.origin, r.seq): at for r in fresh})
    return record(session, [f for evs in cases.values() for f in check_case(evs, FUTURE_TOLERANCE_MS)], now)


# ---------------------------------------------------------------- the periodic job


def never_moved(session: Session, now: datetime, calendar: WorkingCalendar,
                max_working_days: int = NEVER_MOVED_WORKING_DAYS) -> list[Finding]:
    """Accepted cases in progress whose last record is more than ``max_working_days`` working days
    old on ``calendar``, from the library's rows (``ix_lib_cases_idle``: status, last record's
    time). A case more than N working days idle is more than N calendar days idle, so only rows
    older than that are read and then counted exactly."""
    today = now.astimezone(CST).date()
    rows = session.execute(select(LibCase.origin, LibCase.record_seq, LibCase.record_hash, LibCase.service_code,
                                  LibCase.last_event, LibCase.status, LibCase.stage_index, LibCase.stage_kind,
                                  LibCase.last_event_at)
                           .where(LibCase.status == "in_progress", LibCase.accepted_at.is_not(None),
                                  LibCase.last_event_at < now - timedelta(days=max_working_days)))
    out = []
    for origin, seq, hash_, code, event, status, idx, kind, at in rows:
        last = Observed(origin, seq, hash_, code, event, status, -1 if idx is None else idx, kind,
                        _ms(_aware(at)))
        f = check_idle(last, True, today, max_working_days, calendar.working_days_between)
        if f is not None:
            out.append(f)
    return out


def _missing(session: Session, origin: str, head: int) -> list[tuple[int, int]]:
    """The first missing runs of ``origin``'s log in 1..head (a window over its primary key)."""
    runs = [(a, b) for a, b in session.execute(text(
        "SELECT seq + 1, nxt - 1 FROM (SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS nxt FROM fed_records "
        "WHERE origin = :o) t WHERE nxt > seq + 1 ORDER BY seq LIMIT :n"), {"o": origin, "n": _GAP_RUNS})]
    low, top = session.execute(select(func.min(FedRecord.seq), func.max(FedRecord.seq))
                               .where(FedRecord.origin == origin)).one()
    if low is not None and low > 1:
        runs.insert(0, (1, low - 1))
    if top is not None and top < head:
        runs.append((top + 1, head))
    return runs


def log_gaps(session: Session) -> list[Finding]:
    """Each origin with a head here whose records 1..max(head, highest held) are not all held:
    one count per origin (an index-only scan), the holes looked for only where the count is short.
    Origins held sparsely (addressed records from outside the subtree) have no head and no rule."""
    heads = dict(session.execute(select(FedHead.origin, FedHead.seq)).all())
    held = {o: (n, top) for o, n, top in session.execute(
        select(FedRecord.origin, func.count(), func.max(FedRecord.seq)).group_by(FedRecord.origin))}
    out = []
    for origin, head in sorted(heads.items()):
        n, top = held.get(origin, (0, 0))
        upto = max(head, top)
        if n == 0 or n >= upto:
            continue
        f = log_gap(origin, _missing(session, origin, upto), upto)
        if f is not None:
            out.append(f)
    return out


def stopped_syncing(session: Session, now: datetime, stall: timedelta = STALL) -> list[Finding]:
    """Children whose own log's head here has not advanced for longer than ``stall`` although
    they called in after that (``fed_links``: ``head_seq``, ``head_advanced_at``, ``last_seen_at``);
    the evidence is the last record of theirs held (``fed_records`` at ``head_seq``)."""
    rows = session.execute(select(FedLink.peer, FedLink.head_seq, FedLink.head_advanced_at, FedLink.last_seen_at,
                                  FedRecord.hash)
                           .join(FedRecord, and_(FedRecord.origin == FedLink.peer, FedRecord.seq == FedLink.head_seq),
                                 isouter=True)
                           .where(FedLink.direction == "child", FedLink.head_advanced_at.is_not(None),
                                  FedLink.head_seq.is_not(None)))
    out = []
    stale_ms = int(stall.total_seconds() * 1000)
    for peer, seq, advanced, seen, hash_ in rows:
        if seq is None or advanced is None:  # (excluded by the query)
            continue
        f = check_stopped_syncing(peer, seq, _ms(_aware(advanced)), _ms(_aware(seen)) if seen else None, _ms(now),
                                  stale_ms, hash_)
        if f is not None:
            out.append(f)
    return out


def scan_logs(session: Session, now: datetime, calendar: WorkingCalendar,
              idle_working_days: int = NEVER_MOVED_WORKING_DAYS, stall: timedelta = STALL) -> int:
    """The periodic job: log gaps, cases that never moved, children that stopped syncing; returns
    how many findings were new."""
    return record(session, log_gaps(session) + never_moved(session, now, calendar, idle_working_days)
                  + stopped_syncing(session, now, stall), now)


class LogScanner:
    """``node.ports.IntegrityScanner``, installed by ``federation.plugin``."""

    def scan_logs(self, uow: UnitOfWork, calendar: WorkingCalendar, idle_working_days: int,
                  stall: timedelta) -> int:
        return scan_logs(uow.session, uow.now, calendar, idle_working_days, stall)
