"""Do the live rows agree with what the audit chain recorded? (``yiwang audit verify``, beat)

A valid chain proves only that its entries were not edited; a row changed with plain SQL behind
the application (a stage time in ``case_transitions``, ``cases.accepted_at``) leaves the chain
intact. So every ``Audited`` table is replayed: each row's entries (insert: every column; update:
the new value of each changed column; delete) give the values the row must hold now, and those
are compared with the row. Found: a column that differs, a row the chain has no entry for (extra),
a row the chain created and never deleted that is gone (missing), a row the chain deleted that is
back. Entries that record no change (``read``, ``fetch``) are skipped; so is ``password_hash``,
which the chain never holds.

Streamed, never the whole database in memory: per table the entries come in
``(row_key, seq)`` order from the index ``ix_audit_log_row`` (migration 0012), grouped by row,
and checked ``BATCH`` rows at a time against the live rows fetched by primary key. PostgreSQL's
entries still queued for linking (``audit_queue``) are replayed after the linked ones. Run it in
one snapshot (``snapshot``) so rows and entries are seen as of the same moment.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from itertools import groupby
from typing import Any, Iterator

from sqlalchemy import Column, Connection, Date, DateTime, Engine, Table, create_engine, event, func, select
from sqlalchemy.pool import NullPool

from .audit import _jsonable
from .models import Audited, AuditEntry, AuditQueued, Base

CHANGE_OPS = ("insert", "update", "delete")
SKIPPED_COLUMNS = frozenset({"password_hash"})
BATCH = 2000
_DELETED = object()


@dataclass(frozen=True)
class RowDifference:
    """One live row that disagrees with the chain. ``problem``: ``differs`` (``column``, both
    values), ``extra`` (no entry for the row), ``missing`` (the chain's row is gone),
    ``deleted_but_present`` (the chain deleted it). ``seq``: the row's last entry, if any."""

    table: str
    key: str
    problem: str
    column: str | None = None
    chain: Any = None
    live: Any = None
    seq: int | None = None

    @property
    def subject(self) -> str:
        return f"{self.table}:{self.key}"

    def describe(self) -> str:
        at = f" (last entry #{self.seq})" if self.seq else ""
        if self.problem == "differs":
            return (f"{self.subject} column {self.column}: the chain recorded {self.chain!r}, "
                    f"the row holds {self.live!r}{at}")
        return {"extra": f"{self.subject}: a row the audit chain has no entry for",
                "missing": f"{self.subject}: the chain recorded this row{at} but it is gone",
                "deleted_but_present": f"{self.subject}: the chain recorded its deletion{at} but the row is present",
                }[self.problem]

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key, "problem": self.problem, "column": self.column,
                "chain": self.chain, "live": _jsonable(self.live), "seq": self.seq}


@dataclass
class ReplayReport:
    rows: int = 0
    entries: int = 0
    differences: list[RowDifference] = field(default_factory=list)
    more: int = 0
    """Differences found beyond those kept (``limit``)."""

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class AuditedTable:
    table: Table
    pk: Column[Any]
    columns: dict[str, Column[Any]]
    """The chain's names for the columns (mapper attribute keys) -> the columns."""


@cache
def audited_tables() -> tuple[AuditedTable, ...]:
    out = []
    for m in sorted(Base.registry.mappers, key=lambda m: str(m.local_table)):
        if not issubclass(m.class_, Audited):
            continue
        t = m.local_table
        assert isinstance(t, Table) and len(t.primary_key.columns) == 1, t
        cols = {a.key: t.c[a.columns[0].key] for a in m.column_attrs if a.key not in SKIPPED_COLUMNS}
        out.append(AuditedTable(t, next(iter(t.primary_key.columns)), cols))
    return tuple(out)


def _kind(col: Column[Any]) -> str:
    t = col.type
    if isinstance(t, DateTime) or isinstance(getattr(t, "impl", None), DateTime):
        return "datetime"
    return "date" if isinstance(t, Date) else "value"


def _same(kind: str, chain: Any, live: Any) -> bool:
    """The chain holds JSON values (times as ISO text, in the zone they were written in); a time
    is the same instant whatever its offset."""
    if chain is None or live is None:
        return chain is None and live is None
    if kind == "datetime":
        try:
            return isinstance(live, datetime) and datetime.fromisoformat(chain) == live
        except (TypeError, ValueError):
            return False
    if kind == "date":
        return isinstance(live, date) and chain == live.isoformat()
    return bool(chain == live or _jsonable(live) == chain)


def _entries(conn: Connection, table: str) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """(key, seq, op, changes) of ``table``'s row changes: linked ones by (row_key, seq) from the
    index, then the queued ones (PostgreSQL) -- merged per key by the caller."""
    e = AuditEntry.__table__.c
    q = (select(e.row_key, e.seq, e.op, e.payload).where(e.table_name == table, e.op.in_(CHANGE_OPS))
         .order_by(e.row_key, e.seq).execution_options(yield_per=BATCH))
    for key, seq, op, payload in conn.execute(q):
        yield key, seq, op, json.loads(bytes(payload))["changes"]


def _queued(conn: Connection, table: str) -> dict[str, list[tuple[int, str, dict[str, Any]]]]:
    qc = AuditQueued.__table__.c
    out: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for key, op, prefix, suffix in conn.execute(
            select(qc.row_key, qc.op, qc.prefix, qc.suffix).where(qc.table_name == table, qc.op.in_(CHANGE_OPS))
            .order_by(qc.id)):
        changes = json.loads(bytes(prefix) + b"0" + bytes(suffix))["changes"]
        out.setdefault(key, []).append((0, op, changes))
    return out


def _replay(changes: list[tuple[int, str, dict[str, Any]]]) -> Any:
    state: Any = None
    for _seq, op, ch in changes:
        if op == "insert":
            state = dict(ch)
        elif op == "delete":
            state = _DELETED
        else:
            if state is None or state is _DELETED:
                state = {}
            for k, (_old, new) in ch.items():
                state[k] = new
    return state


def _key_value(pk: Column[Any], key: str) -> Any:
    return int(key) if pk.type.python_type is int else key


class _Collector:
    def __init__(self, report: ReplayReport, limit: int) -> None:
        self.report, self.limit = report, limit

    def add(self, d: RowDifference) -> None:
        if len(self.report.differences) < self.limit:
            self.report.differences.append(d)
        else:
            self.report.more += 1


def _check_batch(conn: Connection, at: AuditedTable, expected: dict[str, tuple[Any, int]], out: _Collector) -> int:
    """Compare the rows of ``expected`` (key -> (state, last seq)) with the live rows; returns how
    many live rows were found."""
    if not expected:
        return 0
    names = list(at.columns)
    cols = [at.columns[n] for n in names]
    kinds = [_kind(c) for c in cols]
    wanted = [_key_value(at.pk, k) for k in expected]
    live = {str(r[0]): r for r in conn.execute(select(at.pk, *cols).where(at.pk.in_(wanted)))}
    for key, (state, seq) in expected.items():
        row = live.get(key)
        if row is None:
            if state is not _DELETED:
                out.add(RowDifference(at.table.name, key, "missing", seq=seq))
            continue
        if state is _DELETED:
            out.add(RowDifference(at.table.name, key, "deleted_but_present", seq=seq))
            continue
        for i, n in enumerate(names, start=1):
            if n in state and not _same(kinds[i - 1], state[n], row[i]):
                out.add(RowDifference(at.table.name, key, "differs", n, state[n], row[i], seq))
    return len(live)


def _extras(conn: Connection, at: AuditedTable, out: _Collector) -> None:
    """Live rows with no entry at all (only looked for when the counts say there are some)."""
    e = AuditEntry.__table__.c
    qc = AuditQueued.__table__.c
    last = None
    while True:
        q = select(at.pk).order_by(at.pk).limit(BATCH)
        if last is not None:
            q = q.where(at.pk > last)
        keys = list(conn.scalars(q))
        if not keys:
            return
        last = keys[-1]
        skeys = [str(k) for k in keys]
        known = set(conn.scalars(select(e.row_key).where(e.table_name == at.table.name, e.row_key.in_(skeys),
                                                         e.op.in_(CHANGE_OPS)).distinct()))
        known |= set(conn.scalars(select(qc.row_key).where(qc.table_name == at.table.name, qc.row_key.in_(skeys))))
        for k in skeys:
            if k not in known:
                out.add(RowDifference(at.table.name, k, "extra"))


def replay_rows(conn: Connection, limit: int = 1000) -> ReplayReport:
    """Replay every audited table's entries and compare with its rows (see the module)."""
    report = ReplayReport()
    out = _Collector(report, limit)
    for at in audited_tables():
        name = at.table.name
        queued = _queued(conn, name)
        expected: dict[str, tuple[Any, int]] = {}
        found = 0
        for key, group in groupby(_entries(conn, name), key=lambda x: x[0]):
            changes = [(seq, op, ch) for _, seq, op, ch in group]
            report.entries += len(changes)
            changes += queued.pop(key, [])
            expected[key] = (_replay(changes), changes[-1][0])
            if len(expected) >= BATCH:
                found += _check_batch(conn, at, expected, out)
                expected = {}
        for key, changes in queued.items():
            report.entries += len(changes)
            expected[key] = (_replay(changes), 0)
        found += _check_batch(conn, at, expected, out)
        total = conn.execute(select(func.count()).select_from(at.table)).scalar_one()
        report.rows += total
        if total > found:
            _extras(conn, at, out)
    return report




@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction that sees the whole database as of one moment, without holding up
    writers: PostgreSQL's REPEATABLE READ; on SQLite (WAL) a deferred read transaction on a
    connection of its own (the node's connections begin IMMEDIATE: the write lock)."""
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
        return
    reader = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(reader, "connect")
    def _connect(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None

    @event.listens_for(reader, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN DEFERRED")

    try:
        with reader.connect() as conn, conn.begin():
            yield conn
    finally:
        reader.dispose()
