"""Engine and session factory; tenant isolation applied to every ORM read."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, Table, create_engine, event, func, select, text
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
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "do_orm_execute", _scope_reads)
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


# One statement for any set of tables: (sequence, count) pairs in, the ids out in table order.
_NEXTVALS = text("""
SELECT t.i, nextval(CAST(t.seq AS regclass)) AS id
FROM unnest(CAST(:seqs AS text[]), CAST(:counts AS int[])) WITH ORDINALITY AS t(seq, n, i)
CROSS JOIN LATERAL generate_series(1, t.n) AS g
""")
_SERIAL_SEQ = text("SELECT pg_get_serial_sequence(:t, 'id')")


def allocate_ids(session: Session, counts: dict[Table, int]) -> dict[str, list[int]]:
    """Reserve primary keys for rows about to be inserted with explicit ids (``audit.insert_rows``).

    PostgreSQL: from each table's own sequence, all tables in one round trip. SQLite: the
    transaction began IMMEDIATE, so this writer holds the database's write lock and the next ids
    after the current maximum are its own."""
    conn = session.connection()
    wanted = [(t, n) for t, n in counts.items() if n > 0]
    out: dict[str, list[int]] = {t.name: [] for t, _ in wanted}
    if conn.dialect.name == "postgresql":
        seqs: dict[str, str] = conn.info.setdefault("serial_sequences", {})
        for t, _ in wanted:
            if t.name not in seqs:
                seqs[t.name] = conn.execute(_SERIAL_SEQ, {"t": t.name}).scalar_one()
        rows = conn.execute(_NEXTVALS, {"seqs": [seqs[t.name] for t, _ in wanted], "counts": [n for _, n in wanted]})
        for i, id_ in rows:
            out[wanted[i - 1][0].name].append(id_)
        for ids in out.values():
            ids.sort()
        return out
    for t, n in wanted:
        top = conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()
        out[t.name] = list(range(top + 1, top + 1 + n))
    return out
