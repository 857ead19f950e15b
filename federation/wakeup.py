"""Waking the uplink when the log grows, instead of it finding out on its next poll.

On PostgreSQL every transaction that adds records to the signed log (a seal of this node's own
events, an addressed record sealed in a request's unit of work, a batch received from a child)
also sends ``NOTIFY yiwang_log``; PostgreSQL delivers it when -- and only if -- that transaction
commits. The uplink of the federation process listens on its own connection and starts its next
push at once. The poll (``Uplink.idle``) stays as the fallback: a lost listener connection, or
SQLite (which has no notifications), only costs that much latency, never a record.
"""
from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

CHANNEL = "yiwang_log"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")
log = logging.getLogger("yiwang.wakeup")


def notify(session: Session) -> None:
    """Tell the listeners, when this transaction commits, that the log grew (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY)


def conninfo(database_url: str) -> str | None:
    """The libpq connection string of a PostgreSQL ``database_url`` (None for any other database)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(database_url: str, wake: asyncio.Event, stop: asyncio.Event, retry: float = 2.0) -> None:
    """Set ``wake`` on every notification of ``CHANNEL`` until ``stop``; reconnects after a failure
    (meanwhile the uplink polls). Returns at once where the database has no notifications."""
    info = conninfo(database_url)
    if info is None:
        return
    import psycopg

    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(info, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                wake.set()  # whatever was sealed while not listening is pushed now
                gen = conn.notifies()
                async for _ in gen:
                    wake.set()
                    if stop.is_set():
                        break
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the poll covers for a lost listener
            log.info("log listener: %s (polling meanwhile; again in %.0fs)", e, retry)
        try:
            await asyncio.wait_for(stop.wait(), timeout=retry)
        except asyncio.TimeoutError:
            pass


async def wait_any(stop: asyncio.Event, wake: asyncio.Event, timeout: float) -> None:
    """Until ``stop`` or ``wake`` is set, at most ``timeout`` seconds."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
