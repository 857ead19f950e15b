"""The uplink's wake-up (federation.wakeup): a transaction that grows the log wakes the listener
when it commits -- not before, and not at all when it rolls back."""
from __future__ import annotations

import asyncio

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from federation.wakeup import conninfo, listen, notify


def test_a_committed_notify_wakes_the_listener_and_a_rolled_back_one_does_not(pg_url):  # type: ignore[no-untyped-def]
    engine = create_engine(pg_url)

    async def scenario() -> tuple[bool, bool, bool]:
        wake, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(listen(pg_url, wake, stop))
        await asyncio.wait_for(wake.wait(), 10)  # set once when it starts listening
        wake.clear()

        def write(commit: bool) -> None:
            with Session(engine) as s:
                notify(s)
                if commit:
                    s.commit()
                else:
                    s.rollback()

        await asyncio.to_thread(write, False)
        await asyncio.sleep(0.5)
        after_rollback = wake.is_set()
        await asyncio.to_thread(write, True)
        try:
            await asyncio.wait_for(wake.wait(), 5)
        except asyncio.TimeoutError:
            pass
        after_commit = wake.is_set()
        stop.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return after_rollback, after_commit, task.done()

    try:
        after_rollback, after_commit, ended = asyncio.run(scenario())
    finally:
        engine.dispose()
    assert not after_rollback
    assert after_commit
    assert ended


def test_sqlite_has_no_listener():  # type: ignore[no-untyped-def]
    assert conninfo("sqlite:///x.db") is None
    assert conninfo("postgresql+psycopg://u:p@h:5432/d") == "postgresql://u:p@h:5432/d"
