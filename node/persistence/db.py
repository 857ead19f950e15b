"""Engine and session factory; tenant isolation applied to every ORM read."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, TextClause, create_engine, event, func, select, text
from sqlalchemy.engine import Compiled
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from .models import Case, TenantScoped


def make_engine(url: str, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            # IMMEDIATE takes the write lock up front: two writers never deadlock on upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    from .audit import capture_after_flush  # audit uses this module's pipelined()

    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "do_orm_execute", _scope_reads)
    # Every flush's changes are captured for the audit chain (appended by the unit of work at
    # commit; a session used outside one writes no Audited rows). Once here, not per session.
    event.listen(factory, "after_flush", capture_after_flush)
    return factory


def _scope_reads(state: ORMExecuteState) -> None:
    """Department staff read only their department's rows; agents only their point's cases."""
    if not state.is_select or state.execution_options.get("all_tenants"):
        return
    info = state.session.info
    tenant = info.get("tenant")
    if tenant is not None:
        state.statement = state.statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.department_id == tenant, include_aliases=True)
        )
    point = info.get("service_point")
    if point is not None:
        state.statement = state.statement.options(
            with_loader_criteria(Case, lambda cls: cls.service_point_id == point, include_aliases=True)
        )


# A column expression: the reserved ids of several tables as one array, table after table
# (``:id_seqs`` names a table's sequence once per id wanted). It can ride in another SELECT, so
# reserving costs no round trip of its own. One flat array (no generate_series over counts) keeps
# the planner's row estimate small, so a prepared statement holding it settles on its generic plan
# instead of being re-planned on every execution.
RESERVE_IDS_SQL = """ARRAY(SELECT nextval(CAST(t.seq AS regclass))
      FROM unnest(CAST(:id_seqs AS text[])) WITH ORDINALITY AS t(seq, i) ORDER BY t.i)"""
_RESERVE_IDS = text("SELECT " + RESERVE_IDS_SQL)
_SERIAL_SEQ = text("SELECT pg_get_serial_sequence(:t, 'id')")


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


def id_request(session: Session, counts: dict[Table, int]) -> IdRequest:
    conn = session.connection()
    seqs: dict[str, str] = conn.info.setdefault("serial_sequences", {})  # per DBAPI connection
    for t in counts:
        if t.name not in seqs:
            seqs[t.name] = conn.execute(_SERIAL_SEQ, {"t": t.name}).scalar_one()
    wanted = [(t.name, n) for t, n in counts.items()]
    return IdRequest(wanted, {"id_seqs": [seqs[name] for name, n in wanted for _ in range(n)]})


def allocate_ids(session: Session, counts: dict[Table, int]) -> dict[str, list[int]]:
    """Reserve primary keys for rows about to be inserted with explicit ids (``audit.insert_rows``).

    PostgreSQL: from each table's own sequence, all tables in one statement (or inside another
    SELECT: ``id_request`` and ``RESERVE_IDS_SQL``). SQLite: the transaction began IMMEDIATE, so
    this writer holds the database's write lock and the ids after the current maximum are its own."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
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
