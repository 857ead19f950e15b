"""Liveness and readiness.

``/healthz`` (liveness) answers from the process alone: it must stay cheap and must not fail
when a dependency is down, or the orchestrator would restart healthy processes in a loop while
the database is away. ``/readyz`` (readiness) asks each dependency for real — a query on the
schema's own table and a connection to the Celery broker when one is configured — each within a
short deadline, and answers 503 naming what is wrong, so traffic goes only to a node that can
serve it and whoever looks sees why. A node of a federation also says there whether its own signed
log is sound (``"federation": "ok"`` or ``"degraded: …"``, status ``degraded``, still 200: the
hall serves while the uplink waits for ``yiwang federation repair``).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from node.config import Settings
from node.services.context import NodeContext
from node.services.health import federation_health

DEADLINE_S = 2.0
OK = "ok"


def _database(ctx: NodeContext) -> Callable[[], str]:
    def query() -> str:
        with ctx.engine.connect() as c:  # the schema's own table: a migrated, reachable database
            version = c.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return OK if version else "no schema version: run `yiwang db upgrade`"

    def check() -> str:
        try:
            return query()
        except DBAPIError as e:
            if not e.connection_invalidated:
                raise
            # A pooled connection that died since its last use (the pool pings only idle ones): the
            # probe asks again on a new connection, so it reports the database as it is now.
            return query()
    return check


def _broker(url: str) -> Callable[[], str]:
    def check() -> str:
        from kombu import Connection

        options = {"socket_timeout": DEADLINE_S, "max_retries": 0}
        with Connection(url, connect_timeout=DEADLINE_S, transport_options=options) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=DEADLINE_S)
        return OK
    return check


def _describe(e: BaseException) -> str:
    first = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {first}"[:300]


def readiness(checks: dict[str, Callable[[], str]]) -> dict[str, str]:
    """Each check's answer: "ok", or what is wrong; all run at once, none waits past the deadline.
    Checks run on daemon threads: one stuck on a dead peer neither holds the answer nor keeps
    the process from exiting."""
    out: dict[str, str] = {}

    def run(name: str, fn: Callable[[], str]) -> None:
        try:
            out[name] = fn()
        except Exception as e:  # noqa: BLE001 - whatever failed is the answer
            out[name] = _describe(e)

    threads = [threading.Thread(target=run, args=item, daemon=True, name=f"readyz-{item[0]}")
               for item in checks.items()]
    for t in threads:
        t.start()
    end = time.monotonic() + DEADLINE_S + 0.5
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    return {name: out.get(name, f"no answer within {DEADLINE_S:g} s") for name in checks}


def register_health(app: Flask, settings: Settings, ctx: NodeContext) -> None:
    checks: dict[str, Callable[[], str]] = {"database": _database(ctx)}
    if settings.broker_url:
        checks["broker"] = _broker(settings.broker_url)

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        """Liveness: the process answers (no dependency is asked)."""
        return {"status": "ok", "node_id": settings.node_id}

    @app.get("/readyz")
    def readyz():  # type: ignore[no-untyped-def]
        """Readiness: the database answers a query, the broker (when configured) a connection."""
        results = readiness(checks)
        if not settings.broker_url:
            results["broker"] = "not configured (notifications are delivered in-process)"
        ready = all(v == OK for k, v in results.items() if k in checks)
        # A damaged own log blocks the uplink but not the hall: "degraded" is said, traffic still comes.
        fed = federation_health(ctx) if ready else None
        if fed is not None:
            results["federation"] = fed
        status = "unavailable" if not ready else ("degraded" if fed and fed != OK else "ok")
        body = {"status": status, "node_id": settings.node_id, "checks": results}
        return body, 200 if ready else 503
