"""The library's record history (lib_events) and the lights kept on lib_cases as records apply."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select, text

from federation.envelope import Signer, parse
from federation.library import apply_records
from federation.plugin import attach
from node.domain.lifecycle import Actor
from node.persistence.models import FedRecord, LibCase, LibEvent
from node.services import supervision
from node.services.context import CST
from tests.integration.test_federation_log import KEY, county_records, push

pytestmark = pytest.mark.integration


@pytest.fixture
def county(ctx):
    attach(ctx, Signer("330105", "k1", KEY.sign), b"province-wide-test-key")
    return ctx


def _events(ctx, code):
    with ctx.factory() as s:
        return list(s.scalars(select(LibEvent).where(LibEvent.service_code == code).order_by(LibEvent.seq)))


def test_every_applied_record_is_kept_once_with_its_deadlines_and_hash(api, county):
    code = api.apply_online()
    api.to_conclusion(code)
    evs = _events(county, code)
    assert [e.event for e in evs] == ["submit", "accept", "undertake", "review", "approve", "conclude"]
    assert [e.actor_role for e in evs][1:] == ["clerk", "handler", "reviewer", "approver", "clerk"]
    with county.factory() as s:
        hashes = {r.seq: r.hash for r in s.scalars(select(FedRecord))}
        row = s.get(LibCase, code)
    assert all(e.record_hash == hashes[e.seq] and e.origin == "330105" for e in evs)
    accept = evs[1]
    assert accept.promised_deadline is not None and accept.legal_deadline is not None
    assert accept.stage_deadline is not None and accept.stage_index >= 0
    assert evs[-1].stage_deadline is None and evs[-1].result == "approved"
    assert row.light in ("on_time", "late") and row.stage_light is None and row.light_changes_on is None
    # applying the same records again (a replay) adds nothing
    raw = county_records(county)
    with county.factory() as s:
        s.info["uow"] = None
        apply_records(s, [parse(b, sig) for b, sig in raw])
        s.commit()
    assert len(_events(county, code)) == 6


def test_parent_keeps_history_idempotently_by_origin_and_seq(api, county, parent):
    code = api.apply_online()
    api.to_conclusion(code)
    raw = county_records(county)
    push(parent, raw[:3])
    push(parent, raw)  # a replayed prefix plus the rest
    push(parent, raw)
    evs = _events(parent, code)
    assert [(e.origin, e.seq) for e in evs] == [("330105", i) for i in range(1, 7)]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # PostgreSQL's case alone
def test_postgres_partitions_by_month(api, county, db_url):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    with county.factory() as s:
        kind = s.execute(text("SELECT relkind FROM pg_class WHERE relname = 'lib_events'")).scalar()
        where = s.execute(text("SELECT DISTINCT tableoid::regclass::text FROM lib_events")).scalars().all()
        parts = s.execute(text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = "
                               "'lib_events'::regclass ORDER BY 1")).scalars().all()
    assert kind == "p"
    assert where == ["lib_events_202603"]  # March 2026: the clock's month
    assert parts == ["lib_events_202603", "lib_events_202604", "lib_events_default"]  # next month made ahead


def _on(clock, d):
    clock.set(datetime.combine(d, datetime.min.time(), CST).replace(hour=10))


def test_lights_follow_the_records_and_the_periodic_refresh(api, county, clock):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")  # Monday 2 March: promised 5 working days, the undertake stage 2
    with county.factory() as s:
        row = s.get(LibCase, code)
        assert (row.light, row.stage_light) == ("green", "green")
        assert row.due_on == row.promised_deadline == date(2026, 3, 9) and row.stage_started_on == date(2026, 3, 2)
        assert row.stage_deadline == date(2026, 3, 4)
        assert row.light_changes_on == date(2026, 3, 3)  # the stage has one working day left on Tuesday
    assert (api.case(code)["light"], api.case(code)["stage_light"]) == ("green", "green")
    assert county.run(Actor("system"), supervision.refresh_lights) == 0  # nothing due yet: nothing touched
    _on(clock, date(2026, 3, 3))
    assert county.run(Actor("system"), supervision.refresh_lights) == 1
    with county.factory() as s:
        row = s.get(LibCase, code)
        assert (row.light, row.stage_light, row.light_changes_on) == ("green", "yellow", date(2026, 3, 5))
    assert county.run(Actor("system"), supervision.refresh_lights) == 0
    _on(clock, date(2026, 3, 10))  # a job that did not run for days catches up in one pass
    assert county.run(Actor("system"), supervision.refresh_lights) == 1
    with county.factory() as s:
        row = s.get(LibCase, code)
        assert (row.light, row.stage_light, row.light_changes_on) == ("red", "red", None)
    assert (api.case(code)["light"], api.case(code)["stage_light"]) == ("red", "red")


def test_supplement_freezes_the_light_and_an_extension_moves_it(api, county, clock):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    api.fire(code, "undertake", "cgj-handler", opinion="材料齐全，符合条件")
    api.fire(code, "request_supplement", "cgj-reviewer", reason="设计图不清晰")
    with county.factory() as s:
        row = s.get(LibCase, code)
        assert row.supplement_started_on == date(2026, 3, 2) and row.light_changes_on is None
        frozen = (row.light, row.stage_light)
    clock.advance(days=30)
    county.run(Actor("system"), supervision.refresh_lights)
    with county.factory() as s:
        row = s.get(LibCase, code)
        assert (row.light, row.stage_light) == frozen
