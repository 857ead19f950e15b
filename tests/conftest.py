"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each test gets its own database cloned from a template that was built by running the Alembic
migrations and loading the demo hall once per session (SQLite: a file copy; PostgreSQL:
CREATE DATABASE ... TEMPLATE). Where PostgreSQL is absent the PostgreSQL half skips with the
reason — except under CI=true, where a missing service is a failure.
"""
from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from node.config import Settings
from node.persistence.migrate import upgrade
from node.services.context import CST, NodeContext
from tests.support import DEMO_PASSWORD, Clock, Client

PG_ADMIN_URL = os.environ.get("YIWANG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CI = os.environ.get("CI") == "true"


def _pg_available() -> str | None:
    try:
        eng = create_engine(PG_ADMIN_URL)
        with eng.connect() as c:
            c.execute(text("select 1"))
        eng.dispose()
        return None
    except Exception as e:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(e).__name__}"


def require_postgres() -> None:
    """Skip (fail under CI=true) a test that needs the PostgreSQL server itself when it is absent."""
    reason = _pg_available()
    if reason is not None:
        if CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _pg_exec(sql: str) -> None:
    eng = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(sql))
    eng.dispose()


def _seed(url: str, data_dir: Path) -> None:
    from node.seed import load_demo

    upgrade(url)
    ctx = NodeContext.build(Settings.from_env({}, database_url=url, data_dir=data_dir))
    ctx.clock = Clock().now
    list(load_demo(ctx, DEMO_PASSWORD))
    ctx.engine.dispose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("templates")
    out: dict[str, str] = {}
    sqlite_file = base / "template.db"
    _seed(f"sqlite:///{sqlite_file}", base)
    out["sqlite"] = str(sqlite_file)
    reason = _pg_available()
    if reason is None:
        name = f"yiwang_tpl_{os.getpid()}"
        _pg_exec(f"DROP DATABASE IF EXISTS {name}")
        _pg_exec(f"CREATE DATABASE {name}")
        try:
            _seed(_pg_url(name), base)
        except BaseException:  # a broken migration or seed must not leave the database behind
            _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            raise
        out["postgresql"] = name
    else:
        out["postgresql_missing"] = reason
    yield out
    if "postgresql" in out:
        _pg_exec(f"DROP DATABASE IF EXISTS {out['postgresql']} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, templates, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        f = tmp_path / "node.db"
        shutil.copy(templates["sqlite"], f)
        yield f"sqlite:///{f}"
        return
    yield from _pg_copy(templates)


@pytest.fixture
def pg_url(templates):  # type: ignore[no-untyped-def]
    """A fresh copy of the seeded PostgreSQL template (tests that need PostgreSQL itself)."""
    yield from _pg_copy(templates)


def _pg_copy(templates: dict[str, str]):  # type: ignore[no-untyped-def]
    if "postgresql" not in templates:
        if CI:
            pytest.fail(f"CI=true but {templates['postgresql_missing']}")
        pytest.skip(templates["postgresql_missing"])
    name = f"yiwang_t_{uuid.uuid4().hex[:12]}"
    _pg_exec(f"CREATE DATABASE {name} TEMPLATE {templates['postgresql']}")
    yield _pg_url(name)
    _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, tzinfo=CST))  # a Monday


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings.from_env({}, database_url=db_url, data_dir=tmp_path / "data", max_upload_bytes=256 * 1024,
                             token_ttl_hours=24 * 365 * 5)  # tests move the clock by months


@pytest.fixture
def ctx(settings, clock):  # type: ignore[no-untyped-def]
    c = NodeContext.build(settings, clock=clock.now)
    c.dispatched = []  # type: ignore[attr-defined]
    c.dispatch_notifications = c.dispatched.extend  # type: ignore[attr-defined]
    yield c
    c.engine.dispose()


@pytest.fixture
def app(ctx):  # type: ignore[no-untyped-def]
    from node.api import create_app

    return create_app(ctx=ctx)


@pytest.fixture
def api(app) -> Client:  # type: ignore[no-untyped-def]
    return Client(app.test_client())


@pytest.fixture
def parent(templates, tmp_path, clock):  # type: ignore[no-untyped-def]
    """A second node on its own SQLite copy of the seeded template (a parent receiving records)."""
    import shutil

    from node.services.context import NodeContext

    f = tmp_path / "parent.db"
    shutil.copy(templates["sqlite"], f)
    c = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{f}", data_dir=tmp_path / "p"), clock=clock.now)
    yield c
    c.engine.dispose()
