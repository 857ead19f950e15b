"""The per-node, hash-chained audit log.

Every insert, update and delete of an ``Audited`` row is captured after each flush and written
when the unit of work commits, inside the same transaction: entry *n* stores ``prev_hash`` = hash
of entry *n-1* and ``hash = sha256(prev_hash || payload)``; the payload is kept as the exact bytes
hashed. SQLite chains the entries in that transaction. PostgreSQL queues them there
(``audit_queue``: committed with the change, so never lost) and links them into the chain right
after the commit (``chain_queued``, one batch for many transactions under load): the chain head
is then never locked by a request's transaction, where it was held until that transaction's WAL
flush and made concurrent submissions wait on one another. Until linked (milliseconds; a crash
leaves them queued for the next chainer, and ``yiwang audit verify`` links them first) queued
entries are outside the chain. Rows written with Core (``insert_rows``) travel in the same round
trip as the queue insert and the COMMIT.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Table, TextClause, bindparam, insert, inspect, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from .models import Audited, AuditEntry, AuditHead
from .session import links_after_commit, unit_of_work
from .sql import pipelined

if TYPE_CHECKING:
    from .uow import UnitOfWork

GENESIS = "0" * 64
CHANGES_JSON = "changes_json"  # an entry's canonical "changes", when encoded already


@dataclass
class AuditBuffer:
    """What the audit chain will record of this unit of work (see ``persistence.audit``)."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    rows: list[tuple[Table, str]] = field(default_factory=list)
    """PostgreSQL: (table, rows as JSON) inserted by the same statement as the audit queue insert."""
    with_commit: list[tuple[TextClause, dict[str, Any]]] = field(default_factory=list)
    """PostgreSQL: other statements of this unit of work's last writes (a hook's queue insert),
    sent in the same round trip as the rows, the audit queue insert and the COMMIT."""


def _jsonable(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    return v


# One encoder for every canonical payload (json.dumps with these options would build one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)


def canonical(obj: Any) -> bytes:
    return _CANONICAL.encode(obj).encode()


def capture_after_flush(session: Session, _ctx: object) -> None:
    """Every flushed change of an ``Audited`` row becomes an entry of the session's unit of work
    (a bare session, outside any unit of work, must not write audited rows: nothing records them)."""
    uow = unit_of_work(session)
    if uow is None:
        return
    pending = uow.audit.entries
    for op, objs in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objs:
            if not isinstance(obj, Audited):
                continue
            st = inspect(obj)
            mapper = st.mapper
            changes: dict[str, Any] = {}
            for col in mapper.column_attrs:
                if col.key == "password_hash":
                    continue
                if op == "insert":
                    changes[col.key] = _jsonable(getattr(obj, col.key))
                elif op == "update":
                    hist = st.attrs[col.key].history
                    if not hist.has_changes():
                        continue
                    old = hist.deleted[0] if hist.deleted else None
                    new = hist.added[0] if hist.added else None
                    changes[col.key] = [_jsonable(old), _jsonable(new)]
            if op == "update" and not changes:
                continue
            vcol = mapper.version_id_col
            if op == "update" and vcol is not None:
                # The version counter is bumped by the UPDATE itself, outside the attribute history:
                # recorded too, or the row would not agree with its replayed entries.
                vkey = mapper.get_property_by_column(vcol).key
                new_version = st.dict.get(vkey)
                if vkey not in changes and isinstance(new_version, int):
                    changes[vkey] = [new_version - 1, new_version]
            key = ",".join(str(v) for v in mapper.primary_key_from_instance(obj))
            pending.append({"table": mapper.local_table.name, "key": key, "op": op, "changes": changes})


def record(uow: "UnitOfWork", table: str, key: str, op: str, changes: dict[str, Any]) -> None:
    """An entry that is not a row change (e.g. who read a case file, and why)."""
    uow.audit.entries.append({"table": table, "key": key, "op": op, "changes": changes})


def capture_rows(buffer: AuditBuffer, table_name: str, op: str, rows: list[dict[str, Any]], key: str = "id") -> None:
    """Audit rows written with Core statements (not through a flush): the same entry an ORM
    insert of those values would have produced. ``rows`` must hold every column."""
    pending = buffer.entries
    for r in rows:
        # The row itself (values are made JSON-able by the encoder): not copied unless it holds a secret.
        changes = r if "password_hash" not in r else {k: v for k, v in r.items() if k != "password_hash"}
        pending.append({"table": table_name, "key": str(r[key]), "op": op, "changes": changes,
                        CHANGES_JSON: canonical(changes)})


@functools.cache
def _primary_key(table: Table) -> str:
    return ",".join(c.key for c in table.primary_key.columns)


@functools.cache
def _integer_key(table: Table) -> bool:
    """One integer primary key column: its JSON value read as text in SQL is ``str(value)``, the key
    the Python path records (a date or a composite key would not be)."""
    cols = list(table.primary_key.columns)
    return len(cols) == 1 and isinstance(cols[0].type, Integer)


@functools.cache
def _check_json_safe(table: Table) -> None:
    """Rows travel to PostgreSQL as their audit JSON: no bytes (hex there) and no secret (left out)."""
    if any(isinstance(c.type, LargeBinary) for c in table.c) or "password_hash" in table.c:
        raise ValueError(f"{table.name}: binary or secret columns cannot travel as the audited JSON")


def insert_rows(uow: "UnitOfWork", table: Table, rows: list[dict[str, Any]], now: bool = False) -> None:
    """Insert ``rows`` (every column, ids included: see ``sql.allocate_ids``) audited as inserts.

    On PostgreSQL the rows are written at commit by the very statement that appends their audit
    entries (one round trip for a whole new case), from the same JSON their audit entries hold:
    do not read them back in the same unit of work (or pass ``now``). Elsewhere they are inserted
    at once."""
    if uow.links_after_commit and now and len(rows) >= BULK_JSON_ROWS and _integer_key(table):
        _insert_and_queue(uow, table, rows)
        return
    pending = uow.audit.entries
    first = len(pending)
    capture_rows(uow.audit, table.name, "insert", rows, key=_primary_key(table))
    if uow.links_after_commit and not now:
        _check_json_safe(table)
        rows_json = b"[" + b",".join(e[CHANGES_JSON] for e in pending[first:]) + b"]"
        uow.audit.rows.append((table, rows_json.decode()))
    else:
        uow.session.connection().execute(insert(table), rows)


def _insert_and_queue(uow: "UnitOfWork", table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL, many rows at once (a job's outbox rows): one statement inserts the rows from
    their canonical JSON and queues their audit entries, each payload put together by PostgreSQL
    from the same JSON text (``json`` keeps each element's text as sent) around it -- the same
    bytes ``payload_parts`` makes, without building every entry in Python and sending it again at
    the commit. Entries captured earlier in the unit of work are queued first (the chain keeps the
    order things happened in)."""
    _check_json_safe(table)
    if uow.audit.entries or uow.audit.rows:
        append_pending(uow)
    conn = uow.session.connection()
    name = conn.dialect.identifier_preparer.format_table(table)
    stmt = _INSERT_QUEUE.get(name)
    if stmt is None:
        stmt = _INSERT_QUEUE[name] = text(  # (the array read twice is cheaper than one row-by-row populate)
            f"WITH w AS (INSERT INTO {name} SELECT * FROM json_populate_recordset(NULL::{name}, CAST(:rows AS json)))\n"
            "INSERT INTO audit_queue (at, actor, table_name, row_key, op, prefix, suffix)\n"
            "SELECT :at, :actor, :table, left(x.v->>:pk, 64), 'insert', "
            "convert_to(:head || x.v::text || ',\"key\":' || to_json(x.v->>:pk)::text || :op, 'UTF8'), "
            "convert_to(:tail, 'UTF8') FROM json_array_elements(CAST(:rows AS json)) WITH ORDINALITY AS x(v, i) "
            "ORDER BY x.i")
    rows_json = canonical(rows)  # "[row,row,...]": each element the row's canonical JSON
    at = uow.now
    conn.execute(stmt, {"rows": rows_json.decode(), "at": at, "actor": uow.audit_actor, "table": table.name,
                        "pk": _primary_key(table), "head": payload_head(at.isoformat(), uow.audit_actor).decode(),
                        "op": _op_member("insert").decode(), "tail": _table_member(table.name).decode()})
    uow.link_needed = True


BULK_JSON_ROWS = 50
"""From this many rows on, ``insert_rows(now=True)`` on PostgreSQL sends them as one JSON array
(as the commit does) instead of a multi-row INSERT whose SQL text grows with the rows."""
_INSERT_QUEUE: dict[str, TextClause] = {}


# Built once: the hot path only binds values (no statement construction or cache-key walk per commit).
_LOCK_HEAD = (update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + bindparam("n", type_=BigInteger()))
              .returning(AuditHead.seq, AuditHead.hash))
_SET_HEAD_HASH = update(AuditHead).where(AuditHead.id == 1).values(hash=bindparam("head_hash", type_=String()))

# PostgreSQL: the entries are queued with the change they record (same transaction, no lock) and
# linked into the chain after the commit by ``chain_queued``. Each payload will be the canonical
# JSON ``prefix || seq || suffix`` (see ``payload_parts``). The entries come as one JSON array of
# [prefix, suffix, table, key, op] (one parameter: cheaper to bind than five arrays); ``id``
# (the queue order, which becomes the chain order) is taken in the array's order.
_QUEUE_SQL = """INSERT INTO audit_queue (at, actor, table_name, row_key, op, prefix, suffix)
SELECT :at, :actor, x.v->>2, x.v->>3, x.v->>4, convert_to(x.v->>0, 'UTF8'), convert_to(x.v->>1, 'UTF8')
FROM jsonb_array_elements(CAST(:entries AS jsonb)) WITH ORDINALITY AS x(v, i) ORDER BY x.i"""
_QUEUE_PG = text(_QUEUE_SQL)
_INSERT_PG: dict[tuple[str, ...], TextClause] = {}


def _insert_pg(tables: tuple[str, ...]) -> TextClause:
    """One statement inserting the queued rows of every table -- a data-modifying CTE per table,
    each taking its rows as one JSON array (``:rows<i>``) shaped by the table's own row type --
    and their audit entries into the queue (as ``_QUEUE_PG``). Sent in the same round trip as
    the COMMIT."""
    stmt = _INSERT_PG.get(tables)
    if stmt is None:
        writes = [f"w{i} AS (INSERT INTO {t} SELECT * FROM json_populate_recordset(NULL::{t}, "
                  f"CAST(:rows{i} AS json)))" for i, t in enumerate(tables)]
        writes.append(f"queued AS ({_QUEUE_SQL})")
        stmt = _INSERT_PG[tables] = text("WITH " + ",\n".join(writes) + "\nSELECT 1")
    return stmt


def payload_parts(entry: dict[str, Any], at_iso: str, actor: str, head: bytes | None = None) -> tuple[bytes, bytes]:
    """``canonical({"seq": n, "at": at_iso, "actor": actor, **entry}) == prefix + str(n).encode() + suffix``
    for an entry of table, key, op and changes (and the changes' canonical JSON, if encoded already).

    The members are written in canonical (sorted) key order: actor, at, changes, key, op, seq, table.
    ``head`` is ``payload_head(at_iso, actor)``, shared by the entries of one append."""
    changes = entry.get(CHANGES_JSON) or canonical(entry["changes"])
    prefix = b"".join((head or payload_head(at_iso, actor), changes, b',"key":', canonical(entry["key"]),
                       _op_member(entry["op"])))
    return prefix, _table_member(entry["table"])


def payload_head(at_iso: str, actor: str) -> bytes:
    return b'{"actor":' + canonical(actor) + b',"at":' + canonical(at_iso) + b',"changes":'


@functools.lru_cache(maxsize=64)
def _op_member(op: str) -> bytes:
    return b',"op":' + canonical(op) + b',"seq":'


@functools.lru_cache(maxsize=256)
def _table_member(table: str) -> bytes:
    return b',"table":' + canonical(table) + b"}"


def append_pending(uow: "UnitOfWork", commit: bool = False) -> int:
    """Write the captured entries; call after the last flush, before commit.

    SQLite: chained at once (the head is locked for the rest of a transaction that already holds
    the database's only write lock). PostgreSQL: queued in ``audit_queue`` -- no lock, so
    concurrent commits never wait for one another on the chain head (which, held until each
    commit's WAL flush, made every submission of a busy node queue behind the one before it);
    ``uow.link_needed`` tells the unit of work to have them chained after the commit
    (``chain_queued``). ``commit=True`` (psycopg): the rows, the queue insert and the COMMIT are
    sent together in one round trip."""
    pending, uow.audit.entries = uow.audit.entries, []
    also, uow.audit.with_commit = uow.audit.with_commit, []
    if not pending:
        _send(uow.session.connection(), also, commit)
        return 0
    n = len(pending)
    at = uow.now
    at_iso = at.isoformat()
    actor = uow.audit_actor
    conn = uow.session.connection()  # Core statements in the session's transaction: no ORM bulk machinery
    head = payload_head(at_iso, actor)
    if uow.links_after_commit:
        writes, uow.audit.rows = uow.audit.rows, []
        parts = [payload_parts(e, at_iso, actor, head) for e in pending]
        entries = [[p.decode(), s.decode(), e["table"], e["key"][:64], e["op"]] for (p, s), e in zip(parts, pending)]
        if writes:  # the rows and their entries by one statement
            params = {"entries": json.dumps(entries, ensure_ascii=False, separators=(",", ":")), "at": at,
                      "actor": actor}
            tables = tuple(conn.dialect.identifier_preparer.format_table(t) for t, _ in writes)
            params.update((f"rows{i}", rows_json) for i, (_, rows_json) in enumerate(writes))
            statements = [(_insert_pg(tables), params), *also]
        else:  # in chunks: one jsonb value holds at most 256 MB (a job that audited a million rows)
            statements = [*also, *((_QUEUE_PG, {"entries": json.dumps(entries[i:i + QUEUE_CHUNK], ensure_ascii=False,
                                                                        separators=(",", ":")), "at": at, "actor": actor})
                                   for i in range(0, len(entries), QUEUE_CHUNK))]
        uow.link_needed = True
        _send(conn, statements, commit)
        return n
    _send(conn, also, False)
    row = conn.execute(_LOCK_HEAD, {"n": n}).one()
    seq, prev = row.seq - n, row.hash
    rows = []
    for e in pending:
        seq += 1
        prefix, suffix = payload_parts(e, at_iso, actor, head)
        payload = prefix + str(seq).encode() + suffix
        h = hashlib.sha256(prev.encode() + payload).hexdigest()
        rows.append(dict(seq=seq, at=at, actor=actor, table_name=e["table"], row_key=e["key"][:64], op=e["op"],
                         payload=payload, prev_hash=prev, hash=h))
        prev = h
    conn.execute(insert(AuditEntry), rows)
    conn.execute(_SET_HEAD_HASH, {"head_hash": prev})
    return n


QUEUE_CHUNK = 20_000  # audit entries per queue insert (their order kept: the queue's ids follow the statements')
PIPELINE_MAX_BYTES = 1 << 20
"""Statements whose parameters hold more than this go without pipeline mode: psycopg can wait
forever in a pipeline whose messages outgrow the socket's buffers (psycopg/psycopg#685), e.g. the
entries of a unit of work that wrote a hundred thousand audited rows."""


def _param_bytes(statements: list[tuple[TextClause, dict[str, Any]]]) -> int:
    return sum(len(v) for _, p in statements for v in p.values() if isinstance(v, (str, bytes)))


def _send(conn: Any, statements: list[tuple[TextClause, dict[str, Any]]], commit: bool) -> None:
    """``commit`` (psycopg): the statements and the COMMIT in one round trip; the session's own
    commit that follows finds the transaction ended (a no-op in psycopg). A large write goes
    statement by statement, and the session's commit commits it."""
    if not statements:
        return
    if commit and conn.dialect.driver == "psycopg" and _param_bytes(statements) <= PIPELINE_MAX_BYTES:
        pipelined(conn, statements, commit=True)
    else:
        for stmt, p in statements:
            conn.execute(stmt, p)


_LINK_PG = text("SELECT audit_link(:batch)")  # the function is created by migration 0004


def chain_queued(factory: sessionmaker[Session], batch: int = 5000) -> int:
    """Link the queued entries into the chain, oldest first; returns how many were linked.

    One transaction per batch, all in PostgreSQL (``audit_link``): the head is locked (so
    chainers in several processes take turns), the committed queue read in ``id`` order, the
    entries chained, inserted into ``audit_log`` and deleted from the queue, the head moved -- all
    or nothing, so a crash leaves each entry either queued or linked, never lost. Entries of
    transactions still in flight are not visible yet and are linked by a later call (the unit of
    work asks for one after every commit that queued). Nothing is ever queued on SQLite."""
    if not links_after_commit(factory.kw["bind"]):
        return 0  # (and no transaction opened: on SQLite that would take the write lock)
    total = 0
    while True:
        with factory() as s:
            conn = s.connection()
            if conn.dialect.driver == "psycopg":
                (n,), = pipelined(conn, [(_LINK_PG, {"batch": batch})], commit=True)  # BEGIN .. COMMIT: one round trip
            else:
                n = conn.execute(_LINK_PG, {"batch": batch}).scalar_one()
            s.commit()
        total += n
        if n < batch:
            return total


@dataclass
class VerifyReport:
    entries: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


def iter_chain(session: Session, batch: int = 5000) -> Iterator[Any]:
    """The entries' (seq, prev_hash, payload, hash) in order, as plain rows (no ORM objects: a
    node's whole chain is walked)."""
    last = 0
    cols = (AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.payload, AuditEntry.hash)
    while True:
        rows = session.execute(select(*cols).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(session: Session) -> VerifyReport:
    """Walk the chain from the start; name the first entry whose link or hash is broken."""
    prev = GENESIS
    expected_seq = 1
    n = 0
    for e in iter_chain(session):
        n += 1
        if e.seq != expected_seq:
            return VerifyReport(n, False, expected_seq, f"entry {expected_seq} is missing (next present is {e.seq})")
        if e.prev_hash != prev:
            return VerifyReport(n, False, e.seq, "prev_hash does not match the hash of the entry before it")
        payload = bytes(e.payload)
        if hashlib.sha256(prev.encode() + payload).hexdigest() != e.hash:
            return VerifyReport(n, False, e.seq, "the stored hash does not match the entry's content")
        try:
            if json.loads(payload).get("seq") != e.seq:
                return VerifyReport(n, False, e.seq, "the payload names another sequence number")
        except ValueError:
            return VerifyReport(n, False, e.seq, "the payload is not valid JSON")
        prev = e.hash
        expected_seq += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != n or head.hash != prev):
        return VerifyReport(n, False, n + 1 if head.seq > n else n, f"the chain head says {head.seq} entries but {n} are present")
    return VerifyReport(n, True)
