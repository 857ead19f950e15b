"""``fed_down`` ids commit in id order on PostgreSQL: a child pulls the rows after its cursor, so a row
committed late under a lower id (two children's batches relayed at once) would be passed over for good.
Its writers serialize on ``lock_down_index`` until they commit."""
from __future__ import annotations

import threading
import time

import pytest

from federation.addressed import lock_down_index, read_down
from node.persistence.models import FedDown, FedRecord
from node.services.context import SYSTEM


def _record(ctx, origin: str, seq: int) -> None:  # type: ignore[no-untyped-def]
    with ctx.uow(SYSTEM) as uow:
        uow.session.add(FedRecord(origin=origin, seq=seq, body=b"body-%d" % seq, signature=b"sig", hash="%064x" % seq,
                                  leaf="%064x" % seq, key_id="k", received_from=None, stored_at=uow.now))
        uow.commit()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has one writer: nothing to order
def test_relays_written_at_once_commit_in_id_order(ctx):  # type: ignore[no-untyped-def]
    _record(ctx, "330106", 1)
    _record(ctx, "330107", 1)
    first = ctx.uow(SYSTEM)
    first.__enter__()
    lock_down_index(first, "330100")
    lock_down_index(first, "330100")  # again in the same unit of work: a no-op
    first.session.add(FedDown(dest="330105", origin="330106", seq=1, stored_at=first.now))
    first.session.flush()
    done = threading.Event()

    def second() -> None:
        with ctx.uow(SYSTEM) as uow:
            lock_down_index(uow, "330100")
            uow.session.add(FedDown(dest="330105", origin="330107", seq=1, stored_at=uow.now))
            uow.commit()
        done.set()

    t = threading.Thread(target=second)
    t.start()
    time.sleep(0.7)
    assert not done.is_set(), "a second writer of fed_down went ahead while the first had not committed"
    first.commit()
    first.__exit__(None, None, None)
    t.join(10)
    assert done.is_set()
    with ctx.factory() as s:
        rows = read_down(s, {"330105"}, 0, 10)
        ids = {r.origin: r.id for r in s.query(FedDown)}
    assert [b for _, b, _ in rows] == [b"body-1", b"body-1"] and ids["330106"] < ids["330107"]
