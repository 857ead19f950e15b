"""Engine and session factory; tenant isolation applied to every ORM read."""
from __future__ import annotations

import time

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from .audit import capture_after_flush
from .files import secure_sqlite
from .models import Case, TenantScoped
from .session import unit_of_work


def make_engine(url: str, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        secure_sqlite(url)  # 0600 before SQLite creates it (its WAL and shm files take its mode)
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
    # Prepared statements keep PostgreSQL's default plan cache (generic plans after five runs): forcing
    # custom plans re-planned every statement and every foreign-key check a submission makes (~19), about
    # 0.9 ms of PostgreSQL CPU per submission. The one statement whose generic plan went bad as its tables
    # grew (intake's read of the uploads with their bound case, a hash join over a sequential scan of
    # case_materials) now looks the binding up per upload through its partial unique index.
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip per checkout: a pooled connection that
    sat idle for more than ``IDLE_PING_SECONDS`` (a database restart, a firewall's idle cut) is
    pinged before it is handed out, and replaced if the ping fails (the pool retries the checkout
    with a new connection). One busy under load is reused within milliseconds and is not pinged:
    ``pool_pre_ping`` cost a ``SELECT 1`` round trip on every request. A connection that breaks
    mid-request is invalidated by SQLAlchemy, with its pool, as before."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, rec):  # type: ignore[no-untyped-def]
        rec.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, rec, _proxy):  # type: ignore[no-untyped-def]
        since = rec.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as e:  # noqa: BLE001 - any failure of the ping means a dead connection
            raise exc.DisconnectionError(f"pooled connection failed its ping: {e}") from e
        if not alive:
            raise exc.DisconnectionError("pooled connection failed its ping")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "do_orm_execute", _scope_reads)
    # Every flush's changes are captured for the audit chain (appended by the unit of work at
    # commit; a session used outside one writes no Audited rows). Once here, not per session.
    event.listen(factory, "after_flush", capture_after_flush)
    return factory


def _scope_reads(state: ORMExecuteState) -> None:
    """Department staff read only their department's rows; agents only their point's cases
    (``policy.read_scope`` of the unit of work's actor)."""
    if not state.is_select or state.execution_options.get("all_tenants"):
        return
    uow = unit_of_work(state.session)
    if uow is None:
        return
    tenant = uow.tenant
    if tenant is not None:
        state.statement = state.statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.department_id == tenant, include_aliases=True)
        )
    point = uow.service_point
    if point is not None:  # an agent: the service point's cases, and those they act in as the free agent (代办)
        agent = uow.actor.staff_id if uow.actor is not None and uow.actor.staff_id is not None else -1
        state.statement = state.statement.options(
            with_loader_criteria(Case, lambda cls: (cls.service_point_id == point) | (cls.agent_staff_id == agent),
                                 include_aliases=True)
        )
