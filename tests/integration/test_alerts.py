"""An alert is raised once: later sightings are counted on it, on both backends and across sessions."""
from datetime import timedelta
from threading import Barrier, Thread

import pytest
from sqlalchemy import select

from node.persistence.alerts import raise_alert
from node.persistence.models import Alert

pytestmark = pytest.mark.integration


def _raise(ctx, now, subject="330106#7", kind="fork"):
    with ctx.factory() as s:
        i = raise_alert(s, now, kind=kind, origin="330106", detail="two records #7", proof={"seq": 7},
                        raised_by=ctx.node_id, subject=subject, peer="330106")
        s.commit()
        return i


def test_the_same_incident_seen_again_is_a_sighting_not_a_new_row(ctx, clock):
    t0 = clock.now()
    ids = {_raise(ctx, t0 + timedelta(seconds=i)) for i in range(5)}
    other = _raise(ctx, t0, subject="330106#8")
    with ctx.factory() as s:
        rows = s.scalars(select(Alert).order_by(Alert.id)).all()
        assert len(ids) == 1 and other not in ids and len(rows) == 2
        a = rows[0]
        assert (a.sightings, a.state, a.created_at, a.last_seen) == (5, "open", t0, t0 + timedelta(seconds=4))
        assert a.proof == {"seq": 7} and a.raised_by == ctx.node_id and a.subject == "330106#7"


def test_a_resolved_incident_that_comes_back_is_opened_again(ctx, clock):
    t0 = clock.now()
    i = _raise(ctx, t0)
    with ctx.factory() as s:
        a = s.get(Alert, i)
        a.state, a.state_by = "resolved", "admin"
        s.commit()
    assert _raise(ctx, t0 + timedelta(minutes=1)) == i
    with ctx.factory() as s:
        a = s.get(Alert, i)
        assert (a.state, a.state_by, a.sightings, a.updated_at) == ("open", None, 2, t0 + timedelta(minutes=1))


def test_two_servers_raising_at_once_make_one_incident(ctx, clock):
    n = 8
    gate = Barrier(n)
    errors = []

    def worker():
        try:
            gate.wait()
            _raise(ctx, clock.now())
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with ctx.factory() as s:
        rows = s.scalars(select(Alert)).all()
    assert not errors and len(rows) == 1 and rows[0].sightings == n
