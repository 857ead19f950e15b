"""The per-node, hash-chained audit log.

Every insert, update and delete of an ``Audited`` row is captured after each flush and, when the
unit of work commits, appended to ``audit_log`` inside the same transaction: entry *n* stores
``prev_hash`` = hash of entry *n-1* and ``hash = sha256(prev_hash || payload)``. The payload is
kept as the exact bytes hashed. The chain head row is locked only for the final append, so the
serialisation point is as short as possible: on PostgreSQL the lock, the chaining, the insert and
the head update are a single statement, sent together with the COMMIT (psycopg pipeline mode), so
the lock is held for that statement and the WAL flush only, never across a client round trip.
Rows written with Core (``insert_rows``) travel in the same round trip, one statement before it.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator

from sqlalchemy import BigInteger, LargeBinary, String, Table, TextClause, bindparam, insert, inspect, select, text, update
from sqlalchemy.orm import Session

from .db import pipelined
from .models import Audited, AuditEntry, AuditHead

GENESIS = "0" * 64
PENDING = "audit_pending"
ROWS = "audit_rows_pending"  # (table, rows as JSON) written together with the audit append (PostgreSQL)
CHANGES_JSON = "changes_json"  # an entry's canonical "changes", when encoded already


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
    pending: list[dict[str, Any]] = session.info.setdefault(PENDING, [])
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
            key = ",".join(str(v) for v in mapper.primary_key_from_instance(obj))
            pending.append({"table": mapper.local_table.name, "key": key, "op": op, "changes": changes})


def capture_rows(session: Session, table_name: str, op: str, rows: list[dict[str, Any]], key: str = "id") -> None:
    """Audit rows written with Core statements (not through a flush): the same entry an ORM
    insert of those values would have produced. ``rows`` must hold every column."""
    pending: list[dict[str, Any]] = session.info.setdefault(PENDING, [])
    for r in rows:
        # The row itself (values are made JSON-able by the encoder): not copied unless it holds a secret.
        changes = r if "password_hash" not in r else {k: v for k, v in r.items() if k != "password_hash"}
        pending.append({"table": table_name, "key": str(r[key]), "op": op, "changes": changes,
                        CHANGES_JSON: canonical(changes)})


@functools.cache
def _check_json_safe(table: Table) -> None:
    """Rows travel to PostgreSQL as their audit JSON: no bytes (hex there) and no secret (left out)."""
    if any(isinstance(c.type, LargeBinary) for c in table.c) or "password_hash" in table.c:
        raise ValueError(f"{table.name}: binary or secret columns cannot travel as the audited JSON")


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (every column, ids included: see ``db.allocate_ids``) audited as inserts.

    On PostgreSQL the rows are written at commit by the very statement that appends their audit
    entries (one round trip for a whole new case), from the same JSON their audit entries hold:
    do not read them back in the same unit of work. Elsewhere they are inserted at once."""
    pending: list[dict[str, Any]] = session.info.setdefault(PENDING, [])
    first = len(pending)
    capture_rows(session, table.name, "insert", rows)
    if session.get_bind().dialect.name == "postgresql":
        _check_json_safe(table)
        rows_json = b"[" + b",".join(e[CHANGES_JSON] for e in pending[first:]) + b"]"
        session.info.setdefault(ROWS, []).append((table, rows_json.decode()))
    else:
        session.connection().execute(insert(table), rows)


# Built once: the hot path only binds values (no statement construction or cache-key walk per commit).
_LOCK_HEAD = (update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + bindparam("n", type_=BigInteger()))
              .returning(AuditHead.seq, AuditHead.hash))
_SET_HEAD_HASH = update(AuditHead).where(AuditHead.id == 1).values(hash=bindparam("head_hash", type_=String()))

# PostgreSQL: lock the head, chain, insert and move the head in ONE statement, so the lock is held
# for that statement and the commit only, never across client round trips. Each payload is the
# canonical JSON ``prefix || seq || suffix`` (see ``payload_parts``); the hash is computed exactly
# as below in Python: sha256(prev_hash_hex || payload), hex. The entries come as one JSON array of
# [prefix, suffix, table, key, op] (one parameter: cheaper to bind than five arrays).
_APPEND_PG_SQL = """
head AS MATERIALIZED (SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE),
e AS MATERIALIZED (
    SELECT convert_to(x.v->>0, 'UTF8') AS prefix, convert_to(x.v->>1, 'UTF8') AS suffix,
           x.v->>2 AS table_name, x.v->>3 AS row_key, x.v->>4 AS op, x.i
    FROM jsonb_array_elements(CAST(:entries AS jsonb)) WITH ORDINALITY AS x(v, i)),
chain (i, seq, payload, prev_hash, hash) AS (
    SELECT CAST(0 AS bigint), head.seq, CAST(NULL AS bytea), CAST(NULL AS varchar), CAST(head.hash AS varchar)
    FROM head
  UNION ALL
    SELECT e.i, c.seq + 1, p.payload, c.hash, CAST(encode(sha256(convert_to(c.hash, 'UTF8') || p.payload), 'hex') AS varchar)
    FROM chain c JOIN e ON e.i = c.i + 1
    CROSS JOIN LATERAL (SELECT e.prefix || convert_to(CAST(c.seq + 1 AS text), 'UTF8') || e.suffix AS payload) p
),
appended AS (
    INSERT INTO audit_log (seq, at, actor, table_name, row_key, op, payload, prev_hash, hash)
    SELECT c.seq, :at, :actor, e.table_name, e.row_key, e.op, c.payload, c.prev_hash, c.hash
    FROM chain c JOIN e ON e.i = c.i
)
UPDATE audit_head SET seq = last.seq, hash = last.hash
FROM (SELECT seq, hash FROM chain ORDER BY i DESC LIMIT 1) AS last
WHERE audit_head.id = 1
"""
_APPEND_PG = text("WITH RECURSIVE\n" + _APPEND_PG_SQL)
_INSERT_PG: dict[tuple[str, ...], TextClause] = {}


def _insert_pg(tables: tuple[str, ...]) -> TextClause:
    """One statement inserting the queued rows of every table: a data-modifying CTE per table,
    each taking its rows as one JSON array (``:rows<i>``) shaped by the table's own row type.
    Sent just before the append (same round trip): its foreign-key checks are done before the
    append takes the chain head's lock."""
    stmt = _INSERT_PG.get(tables)
    if stmt is None:
        writes = ",\n".join(f"w{i} AS (INSERT INTO {t} SELECT * FROM json_populate_recordset(NULL::{t}, "
                             f"CAST(:rows{i} AS json)))" for i, t in enumerate(tables))
        stmt = _INSERT_PG[tables] = text("WITH " + writes + "\nSELECT 1")
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


def append_pending(session: Session, commit: bool = False) -> int:
    """Chain and insert the captured entries; call after the last flush, before commit.

    ``commit=True`` (PostgreSQL with psycopg): the append and the COMMIT are sent together."""
    pending = session.info.pop(PENDING, [])
    if not pending:
        return 0
    n = len(pending)
    at = session.info["now"]
    at_iso = at.isoformat()
    actor = session.info.get("actor", "system")
    conn = session.connection()  # Core statements in the session's transaction: no ORM bulk machinery
    if conn.dialect.name == "postgresql":
        writes: list[tuple[Table, str]] = session.info.pop(ROWS, [])
        head = payload_head(at_iso, actor)
        parts = [payload_parts(e, at_iso, actor, head) for e in pending]  # before the lock
        entries = [[p.decode(), s.decode(), e["table"], e["key"][:64], e["op"]] for (p, s), e in zip(parts, pending)]
        params = {"entries": json.dumps(entries, ensure_ascii=False, separators=(",", ":")), "at": at, "actor": actor}
        statements = [(_APPEND_PG, params)]
        if writes:
            tables = tuple(conn.dialect.identifier_preparer.format_table(t) for t, _ in writes)
            statements.insert(0, (_insert_pg(tables), {f"rows{i}": rows_json for i, (_, rows_json) in enumerate(writes)}))
        if commit and conn.dialect.driver == "psycopg":
            # The append locks the chain head, which only the commit releases: sent together (with
            # the rows' insert before them), the lock is held for the append and the WAL flush
            # alone, never for a client round trip or this thread's wait for the interpreter lock
            # in a busy worker. The session's own commit that follows finds the transaction ended
            # (psycopg makes it a no-op).
            pipelined(conn, statements, commit=True)
        else:
            for stmt, p in statements:
                conn.execute(stmt, p)
        return n
    row = conn.execute(_LOCK_HEAD, {"n": n}).one()
    seq = row.seq - n
    prev = row.hash
    rows = []
    head = payload_head(at_iso, actor)
    for e in pending:
        seq += 1
        prefix, suffix = payload_parts(e, at_iso, actor, head)
        payload = prefix + str(seq).encode() + suffix
        h = hashlib.sha256(prev.encode() + payload).hexdigest()
        rows.append(dict(seq=seq, at=at, actor=actor, table_name=e["table"], row_key=e["key"][:64],
                         op=e["op"], payload=payload, prev_hash=prev, hash=h))
        prev = h
    conn.execute(insert(AuditEntry), rows)
    conn.execute(_SET_HEAD_HASH, {"head_hash": prev})
    return n


@dataclass
class VerifyReport:
    entries: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


def iter_chain(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)).all()
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
