"""PostgreSQL fast paths behind the persistence interface: ids reserved up front, statements
pipelined with the transaction's BEGIN and COMMIT."""
from __future__ import annotations

import json
from dataclasses import dataclass
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, TextClause, func, select, text
from sqlalchemy.engine import Compiled
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# A column expression: the reserved ids of several tables as one array, table after table
# (``:id_seqs`` names a table's sequence once per id wanted). It can ride in another SELECT, so
# reserving costs no round trip of its own. One flat array (no generate_series over counts) keeps
# the planner's row estimate small, so a prepared statement holding it settles on its generic plan
# instead of being re-planned on every execution.
RESERVE_IDS_SQL = """ARRAY(SELECT nextval(CAST(t.seq AS regclass))
      FROM unnest(CAST(:id_seqs AS text[])) WITH ORDINALITY AS t(seq, i) ORDER BY t.i)"""
_RESERVE_IDS = text("SELECT " + RESERVE_IDS_SQL)
_SERIAL_SEQ = text("SELECT pg_get_serial_sequence(:t, 'id')")
MANY_IDS = 500
"""Above this many ids at once, each table's are reserved by a statement of their own that names its
sequence once (``_RESERVE_MANY``)."""
_RESERVE_MANY = text("SELECT ARRAY(SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n) AS g(i) ORDER BY g.i)")


@dataclass
class IdRequest:
    """Which tables want how many ids (PostgreSQL): ``params`` bind ``RESERVE_IDS_SQL``."""

    counts: list[tuple[str, int]]
    params: dict[str, list[Any]]

    def split(self, flat: list[int]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        at = 0
        for name, n in self.counts:
            out[name] = sorted(flat[at:at + n])
            at += n
        return out


def _sequences(conn: Connection, tables: Iterable[Table]) -> dict[str, str]:
    """Each table's id sequence, looked up once per DBAPI connection."""
    seqs: dict[str, str] = conn.info.setdefault("serial_sequences", {})
    for t in tables:
        if t.name not in seqs:
            seqs[t.name] = conn.execute(_SERIAL_SEQ, {"t": t.name}).scalar_one()
    return seqs


def id_request(session: Session, counts: dict[Table, int]) -> IdRequest:
    seqs = _sequences(session.connection(), counts)
    wanted = [(t.name, n) for t, n in counts.items()]
    return IdRequest(wanted, {"id_seqs": [seqs[name] for name, n in wanted for _ in range(n)]})


def allocate_ids(session: Session, counts: dict[Table, int]) -> dict[str, list[int]]:
    """Reserve primary keys for rows about to be inserted with explicit ids (``audit.insert_rows``).

    PostgreSQL: from each table's own sequence, all tables in one statement (or inside another
    SELECT: ``id_request`` and ``RESERVE_IDS_SQL``). SQLite: the transaction began IMMEDIATE, so
    this writer holds the database's write lock and the ids after the current maximum are its own."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        if sum(counts.values()) > MANY_IDS:  # a job's batch: each sequence named once, not once per id
            seqs = _sequences(conn, counts)
            return {t.name: conn.execute(_RESERVE_MANY, {"seq": seqs[t.name], "n": n}).scalar_one() if n else []
                    for t, n in counts.items()}
        req = id_request(session, counts)
        return req.split(conn.execute(_RESERVE_IDS, req.params).scalar_one())
    out: dict[str, list[int]] = {}
    for t, n in counts.items():
        top = conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one() if n else 0
        out[t.name] = list(range(top + 1, top + 1 + n))
    return out


_COMPILED: dict[TextClause, Compiled] = {}


def pipelined(conn: Connection, statements: list[tuple[TextClause, dict[str, Any]]],
              commit: bool = False) -> list[tuple[Any, ...]]:
    """Run ``statements`` in the connection's transaction through psycopg's pipeline mode:
    whatever psycopg must send first (the transaction's BEGIN), the statements and, with
    ``commit``, the COMMIT travel in one round trip. Returns the last statement's rows; driver
    errors come out as SQLAlchemy's (IntegrityError ...), as from ``conn.execute``."""
    raw: Any = conn.connection.driver_connection
    sent = []
    for stmt, params in statements:
        compiled = _COMPILED.get(stmt)
        if compiled is None:
            compiled = _COMPILED[stmt] = stmt.compile(dialect=conn.dialect)
        sent.append((compiled.string, compiled.construct_params(params)))
    try:
        with raw.pipeline():
            for sql, args in sent:
                cur = raw.execute(sql, args)
            if commit:
                raw.commit()
        return cur.fetchall() if cur.description else []
    except conn.dialect.loaded_dbapi.Error as e:
        raise DBAPIError.instance(sent[-1][0], sent[-1][1], e, conn.dialect.loaded_dbapi.Error) from e


def insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...]) -> set[tuple[Any, ...]]:
    """Insert those of ``rows`` (each with the keys of the first) whose ``key`` (a unique
    constraint's columns) is not taken yet, in the rows' order; returns the keys inserted. A
    concurrent transaction inserting the same keys waits for this one's commit and then inserts
    none of them.

    PostgreSQL: one statement, the rows bound as one JSON array shaped by the table's own row type
    (no SQL text growing with the rows, nothing to compile again); elsewhere SQLAlchemy's
    multi-row insert ("insertmanyvalues") with ON CONFLICT DO NOTHING."""
    if not rows:
        return set()
    names = list(rows[0])
    dialect = conn.dialect.name
    if dialect == "postgresql":
        cols = ", ".join(names)
        stmt = _INSERT_NEW.get((table.name, tuple(names), key))
        if stmt is None:
            stmt = _INSERT_NEW[(table.name, tuple(names), key)] = text(
                f"INSERT INTO {table.name} ({cols}) SELECT {', '.join('x.' + n for n in names)} "
                f"FROM jsonb_populate_recordset(NULL::{table.name}, CAST(:rows AS jsonb)) WITH ORDINALITY AS x "
                f"ORDER BY x.ordinality ON CONFLICT ({', '.join(key)}) DO NOTHING RETURNING {', '.join(key)}")
        payload = json.dumps(rows, default=_json_value, ensure_ascii=False)  # (keys beyond rows[0]'s are ignored)
        return set(map(tuple, conn.execute(stmt, {"rows": payload})))
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        ins = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(key))
    else:  # pragma: no cover - the node runs on SQLite or PostgreSQL
        return {tuple(conn.execute(table.insert().values(**r).returning(*(table.c[k] for k in key))).one())
                for r in rows}
    return {tuple(r) for r in conn.execute(ins.returning(*(table.c[k] for k in key)), rows)}


_INSERT_NEW: dict[tuple[str, tuple[str, ...], tuple[str, ...]], TextClause] = {}


def _json_value(v: Any) -> Any:
    if hasattr(v, "isoformat"):  # date, datetime (with its offset: timestamptz reads it)
        return v.isoformat()
    raise TypeError(f"{type(v).__name__} is not a JSON value")
