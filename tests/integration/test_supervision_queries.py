"""Province-wide supervision queries (/api/v1/supervision/...): scoped by the policy, keyset paged,
bad filters named; counts by stage and light; a joint case's timeline across its parts."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from federation.envelope import Signer
from federation.plugin import attach
from tests.integration.test_federation_log import KEY
from tests.integration.test_joint_cases import PART_DEPTS, accept_bundle, part_codes
from tests.support import run_part

pytestmark = pytest.mark.integration


@pytest.fixture
def county(ctx):
    attach(ctx, Signer("330105", "k1", KEY.sign), b"province-wide-test-key")
    return ctx


def _overdue(api, clock, n):
    codes = []
    for _ in range(n):
        code = api.apply_online()
        api.fire(code, "accept", "clerk")
        codes.append(code)
    clock.advance(days=30)  # every one of them overdue now
    return codes


def test_overdue_list_keyset_pages_without_offset_or_count(api, county, clock):
    codes = _overdue(api, clock, 5)
    api.apply_online()  # submitted, not accepted: no light, not listed
    statements: list[tuple[str, object]] = []
    listen = lambda conn, cur, stmt, params, *a: statements.append((stmt.lower(), params))
    event.listen(county.engine, "before_cursor_execute", listen)
    try:
        # the lights were computed at acceptance (green); the job that runs every few minutes makes them red
        from node.services.supervision import run_escalation
        run_escalation(county)
        seen, cursor, pages = [], None, 0
        while True:
            q = "/api/v1/supervision/overdue?page_size=2&scope=case" + (f"&cursor={cursor}" if cursor else "")
            r = api.get(q, "inspector")
            assert r.status_code == 200, r.json
            seen += [c["service_code"] for c in r.json["items"]]
            assert all(c["light"] == "red" for c in r.json["items"])
            pages += 1
            cursor = r.json.get("next_cursor")
            if not cursor:
                break
    finally:
        event.remove(county.engine, "before_cursor_execute", listen)
    assert sorted(seen) == sorted(codes) and len(seen) == len(set(seen)) and pages == 3
    mine = [(s, p) for s, p in statements if "from lib_cases" in s and "light" in s]
    assert mine and not any("count(" in s for s, _ in mine)
    for s, p in mine:  # SQLite's compiler always writes "LIMIT ? OFFSET ?": there the offset is 0
        assert " offset " not in s or (county.engine.dialect.name == "sqlite" and list(p)[-1] == 0), (s, p)
    # filters: stage scope, channel, department, item
    r = api.get("/api/v1/supervision/overdue?scope=stage&stage=undertake&channel=online", "inspector")
    assert sorted(c["service_code"] for c in r.json["items"]) == sorted(codes)
    assert api.get("/api/v1/supervision/overdue?channel=window", "inspector").json["items"] == []
    assert api.get("/api/v1/supervision/yellow", "inspector").json["items"] == []
    r = api.get("/api/v1/supervision/lights?light=red&region=330105&item_code=330105-XK-CG-001", "admin")
    assert len(r.json["items"]) == 5


@pytest.mark.parametrize("query,field,status", [
    ("/overdue?page_size=0", "page_size", 422), ("/overdue?page_size=201", "page_size", 422),
    ("/overdue?region=33x", "region", 422), ("/overdue?cursor=not-a-cursor", "cursor", 422),
    ("/overdue?scope=month", "scope", 422), ("/lights?light=blue", "light", 422), ("/lights", "light", 422),
    ("/overdue?channel=fax", "channel", 422), ("/counts?by=street", "by", 422),
    ("/overdue?region=3301", "region", 403),  # the city above this county: outside its subtree
    ("/counts?region=3302", "region", 403),
])
def test_bad_filters_are_named(api, county, query, field, status):
    r = api.get(f"/api/v1/supervision{query}", "inspector")
    assert r.status_code == status, r.json
    assert field in str(r.json), r.json


@pytest.mark.parametrize("user", ["cgj-handler", "clerk", "cgj-chief"])
def test_department_staff_see_no_supervision_data(api, county, user):
    for q in ("/overdue", "/counts", "/lights?light=green"):
        r = api.get(f"/api/v1/supervision{q}", user)
        assert r.status_code == 403, (q, r.json)
    assert api.get("/api/v1/supervision/overdue").status_code == 401


def test_counts_by_stage_and_light_per_region(api, county, clock):
    _overdue(api, clock, 2)
    done = api.apply_online()
    api.to_conclusion(done)
    from node.services.supervision import run_escalation
    run_escalation(county)
    r = api.get("/api/v1/supervision/counts", "inspector")
    assert r.status_code == 200, r.json
    got = {(c["region"], c["stage_kind"], c["light"]): c["count"] for c in r.json["items"]}
    assert got[("330105", "undertake", "red")] == 2
    assert sum(v for (_, _, light), v in got.items() if light in ("on_time", "late")) == 1
    city = api.get("/api/v1/supervision/counts?by=city&region=330105", "inspector").json["items"]
    assert {c["region"] for c in city} == {"3301"}


def test_timeline_of_a_joint_case_holds_every_part(api, county):
    j = accept_bundle(api)
    codes = part_codes(j)
    for code, dept in zip(codes, PART_DEPTS):
        run_part(api, code, dept)
    for asked in (j["code"], codes[1]):  # by the joint case's code or by one part's
        r = api.get(f"/api/v1/supervision/cases/{asked}/timeline", "inspector")
        assert r.status_code == 200, r.json
        t = r.json
        assert t["joint_code"] == j["code"]
        assert {p["service_code"] for p in t["parts"]} == {j["code"], *codes}
        assert [p["part_no"] for p in t["parts"]] == [0, 1, 2, 3, 4]
        ats = [e["at"] for e in t["events"]]
        assert ats == sorted(ats)
        for code in codes:
            assert [e["event"] for e in t["events"] if e["service_code"] == code] == [
                "submit", "accept", "undertake", "review", "approve", "conclude"]
        assert all(p["light"] in ("on_time", "late") for p in t["parts"][1:])
    assert api.get("/api/v1/supervision/cases/330105-20260302-99999-9/timeline", "inspector").status_code in (404, 422)
    assert api.get(f"/api/v1/supervision/cases/{j['code']}/timeline", "gh-handler").status_code == 403


def test_handler_queue_green_channel_first_then_light(api, ctx, clock):
    late = api.apply_online()
    api.fire(late, "accept", "clerk")  # Monday: its undertake stage is due Wednesday
    clock.advance(days=3)  # Thursday
    fresh = api.apply_online()
    api.fire(fresh, "accept", "clerk")
    for code in (late, fresh):
        r = api.post(f"/api/v1/cases/{code}/claim", {}, "cgj-handler")
        assert r.status_code == 200, r.json
    q = api.get("/api/v1/cases?mine=true", "cgj-handler").json["items"]
    assert [(c["code"], c["stage_light"]) for c in q] == [(late, "red"), (fresh, "green")]  # newest first otherwise
