"""A pooled PostgreSQL connection that died while idle (a database restart, a firewall's idle cut)
is replaced at checkout instead of failing the request that draws it; one reused at once is not
pinged (no ``SELECT 1`` round trip per request)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import event, text

import node.persistence.db as db


def _pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as c:
        return int(c.execute(text("select pg_backend_pid()")).scalar_one())


def test_dead_idle_connection_is_replaced_and_busy_one_not_pinged(pg_url, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.3)
    engine = db.make_engine(pg_url, pool_size=1)
    other = db.make_engine(pg_url, pool_size=1)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        first = _pid(engine)
        statements.clear()
        assert _pid(engine) == first  # reused at once: the same backend, no ping before the query
        assert statements == ["select pg_backend_pid()"]

        with other.connect() as c:
            assert c.execute(text("select pg_terminate_backend(:p)"), {"p": first}).scalar_one()
        time.sleep(0.5)
        second = _pid(engine)  # idle long enough: pinged, found dead, replaced
        assert second != first
    finally:
        engine.dispose()
        other.dispose()


def test_without_the_idle_ping_the_dead_connection_fails_the_request(pg_url, monkeypatch):  # type: ignore[no-untyped-def]
    """What the ping is for: with it off, the request drawing the dead connection fails."""
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    engine = db.make_engine(pg_url, pool_size=1)
    other = db.make_engine(pg_url, pool_size=1)
    try:
        first = _pid(engine)
        with other.connect() as c:
            c.execute(text("select pg_terminate_backend(:p)"), {"p": first})
        time.sleep(0.2)
        with pytest.raises(Exception):
            _pid(engine)
        assert _pid(engine) != first  # and the pool recovers on the next one
    finally:
        engine.dispose()
        other.dispose()
