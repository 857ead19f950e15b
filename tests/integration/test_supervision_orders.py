"""Supervision and correction orders (督办、纠错) across levels over real gRPC with mutual TLS, in one
process (one database per node): the province's inspector orders on a district case, it is pulled
down via the city, applied once onto the department's queue, answered, the answer arrives at the
province, closed; returned and answered again; a correction needs its fix; every refusal (a county
ordering upward, an unknown case, a non-inspector, twice closing, another department answering, a
sideways record from a sibling) with nothing half written."""
from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import pytest
from sqlalchemy import func, select

from node.persistence.models import FedAddressed, Notification, SupOrder
from node.services.addressed import send_message
from node.services.context import SYSTEM
from tests.integration.test_federation_grpc import county_api, start, uplink

pytestmark = pytest.mark.integration

PROVINCE, CITY, DISTRICT, EAST = "330000", "330100", "330105", "330106"


@pytest.fixture(params=["sqlite", "postgresql"])
def fed(request, tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    """The in-process federation (province, city, two districts), each node on its own SQLite or
    PostgreSQL database."""
    import shutil
    from contextlib import ExitStack
    from datetime import datetime, timedelta

    from federation.demo import Federation
    from federation.plugin import attach_identity
    from node.config import Settings
    from node.services.context import NodeContext
    from tests.conftest import _pg_copy

    monkeypatch.setenv("YIWANG_ID_HASH_KEY", "test-federation-key")
    f = Federation(tmp_path / "fed", http_base=0, grpc_base=0)
    f.prepare_identities()
    clock.set(datetime.now(UTC) + timedelta(seconds=1))
    ctxs = {}
    with ExitStack() as stack:
        for node_id, n in f.nodes.items():
            if request.param == "sqlite":
                shutil.copy(templates["sqlite"], n.data_dir / "yiwang.db")
                url = f"sqlite:///{n.data_dir / 'yiwang.db'}"
            else:
                gen = _pg_copy(templates)
                url = next(gen)
                stack.callback(lambda g=gen: next(g, None))
            c = NodeContext.build(Settings.from_env({}, database_url=url, data_dir=n.data_dir, node_id=node_id),
                                  clock=clock.now)
            attach_identity(c)
            c.dispatch_notifications = lambda ids: None
            ctxs[node_id] = c
        f.ctxs = ctxs  # type: ignore[attr-defined]
        yield f
        for c in ctxs.values():
            c.engine.dispose()
ORDERS = "/api/v1/supervision/orders"


def sync(fed: Any, rounds: int = 1) -> None:
    """``rounds`` of: the districts push to (and pull from) the city, the city to the province."""
    async def run() -> None:
        province, paddr = await start(fed, PROVINCE)
        city, caddr = await start(fed, CITY)
        try:
            for _ in range(rounds):
                for n in (DISTRICT, EAST):
                    await uplink(fed, n, caddr).sync_once()
                await uplink(fed, CITY, paddr).sync_once()
                for n in (DISTRICT, EAST):
                    await uplink(fed, n, caddr).sync_once()
        finally:
            await city.stop(None)
            await province.stop(None)

    asyncio.run(run())


def accepted_case(api: Any) -> str:
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    return str(code)


def orders_at(fed: Any, node: str) -> list[SupOrder]:
    with fed.ctxs[node].factory() as s:
        return list(s.scalars(select(SupOrder).order_by(SupOrder.id)))


def count_rows(fed: Any, node: str, model: Any) -> int:
    with fed.ctxs[node].factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_order_travels_down_is_answered_returned_answered_again_and_closed(fed):  # type: ignore[no-untyped-def]
    district, province = county_api(fed, DISTRICT), county_api(fed, PROVINCE)
    code = accepted_case(district)
    sync(fed)  # the case reaches the province's library
    assert province.get("/api/v1/library/cases?region=330105", "inspector").json["total"] >= 1

    r = province.post(ORDERS, {"case_code": code, "kind": "supervise", "text": "请加快办理并说明进度",
                               "due_days": 3}, "inspector")
    assert r.status_code == 201, r.json
    issued = r.json
    assert issued["state"] == "issued" and issued["owner_node"] == DISTRICT and issued["due_date"]
    assert issued["ref"] == f"{PROVINCE}-{issued['id']}"

    sync(fed, rounds=2)  # down via the city, applied at the district, acked back up
    [mine] = orders_at(fed, DISTRICT)
    assert mine.side == "owner" and mine.state == "delivered" and mine.ref == issued["ref"]
    assert mine.text == "请加快办理并说明进度" and mine.department_code == "cgj"
    # on the department's queue: its chief and handler see it, another department does not
    q = district.get(ORDERS, "cgj-chief")
    assert q.status_code == 200 and [o["ref"] for o in q.json] == [issued["ref"]]
    assert district.get(ORDERS, "gh-chief").json == []
    assert district.get(f"{ORDERS}/{mine.id}", "gh-chief").status_code == 403
    with fed.ctxs[DISTRICT].factory() as s:
        notes = list(s.scalars(select(Notification).where(Notification.template == "supervision_delivered")))
    assert notes and all(issued["ref"] in n.body for n in notes)
    on_case = district.case(code, "cgj-handler")["supervision_orders"]
    assert [(o["ref"], o["state"], o["kind"]) for o in on_case] == [(issued["ref"], "delivered", "supervise")]
    # the issuer sees it delivered (the ack came back)
    assert province.get(f"{ORDERS}/{issued['id']}", "inspector").json["state"] == "delivered"

    # another department's chief cannot answer; the department's chief can
    r = district.post(f"{ORDERS}/{mine.id}/response", {"text": "已处理"}, "gh-chief")
    assert r.status_code == 403 and "order_id" in r.json["errors"]["json"], r.json
    r = district.post(f"{ORDERS}/{mine.id}/response", {"text": "已安排加快审查"}, "cgj-chief")
    assert r.status_code == 200 and r.json["state"] == "responded", r.json
    r = district.post(f"{ORDERS}/{mine.id}/response", {"text": "再次反馈"}, "cgj-chief")
    assert r.status_code == 409, r.json  # answered already, waiting for the issuer

    sync(fed, rounds=2)
    got = province.get(f"{ORDERS}/{issued['id']}", "inspector").json
    assert got["state"] == "responded" and got["response_text"] == "已安排加快审查" and got["rounds"] == 1
    with fed.ctxs[PROVINCE].factory() as s:
        assert s.scalar(select(func.count()).select_from(Notification)
                        .where(Notification.template == "supervision_responded")) == 1

    # returned (a note is required), answered again, closed; closing twice is refused
    r = province.post(f"{ORDERS}/{issued['id']}/decision", {"decision": "return"}, "inspector")
    assert r.status_code == 422 and "note" in r.json["errors"]["json"], r.json
    r = province.post(f"{ORDERS}/{issued['id']}/decision", {"decision": "return", "note": "请说明具体时限"},
                      "inspector")
    assert r.status_code == 200 and r.json["state"] == "returned"
    sync(fed, rounds=2)
    assert orders_at(fed, DISTRICT)[0].state == "returned"
    r = district.post(f"{ORDERS}/{mine.id}/response", {"text": "将于两个工作日内办结"}, "cgj-chief")
    assert r.status_code == 200 and r.json["rounds"] == 2
    sync(fed, rounds=2)
    r = province.post(f"{ORDERS}/{issued['id']}/decision", {"decision": "close"}, "cgj-chief")
    assert r.status_code == 403  # (a department account at the province is not an inspector)
    r = province.post(f"{ORDERS}/{issued['id']}/decision", {"decision": "close"}, "inspector")
    assert r.status_code == 200 and r.json["state"] == "closed", r.json
    r = province.post(f"{ORDERS}/{issued['id']}/decision", {"decision": "close"}, "inspector")
    assert r.status_code == 409 and "state" in r.json["errors"]["json"]
    sync(fed, rounds=2)
    assert orders_at(fed, DISTRICT)[0].state == "closed"
    listed = province.get(ORDERS, "inspector").json
    assert [(o["ref"], o["state"]) for o in listed] == [(issued["ref"], "closed")]
    # every record applied once and acknowledged
    with fed.ctxs[PROVINCE].factory() as s:
        states = sorted((r.kind, r.state) for r in s.scalars(select(FedAddressed).where(
            FedAddressed.direction == "out", FedAddressed.kind != "ack")))
    assert states == [("supervision_decision", "acked"), ("supervision_decision", "acked"),
                      ("supervision_order", "acked")]


def test_a_correction_requires_its_fix_done_through_the_state_machine(fed):  # type: ignore[no-untyped-def]
    district, city = county_api(fed, DISTRICT), county_api(fed, CITY)
    code = accepted_case(district)
    sync(fed)
    r = city.post(ORDERS, {"case_code": code, "kind": "correct", "text": "受理意见不规范，请纠正"}, "inspector")
    assert r.status_code == 201 and r.json["owner_node"] == DISTRICT, r.json
    sync(fed, rounds=2)
    [mine] = orders_at(fed, DISTRICT)
    before = district.case(code)["version"]
    url = f"{ORDERS}/{mine.id}/response"
    r = district.post(url, {"text": "已纠正"}, "cgj-chief")
    assert r.status_code == 422 and "fix" in r.json["errors"]["json"], r.json
    old_seq = max(t["seq"] for t in district.case(code)["transitions"])  # the acceptance, before the order
    r = district.post(url, {"text": "已纠正", "fix": {"description": "重新出具承办意见", "transition_seq": old_seq}},
                      "cgj-chief")
    assert r.status_code == 422 and "fix.transition_seq" in r.json["errors"]["json"], r.json
    assert orders_at(fed, DISTRICT)[0].state == "delivered"  # nothing half written
    # the corrective action through the normal state machine, then the response names it
    done = district.fire(code, "undertake", "cgj-handler", opinion="经纠正：材料齐全，符合条件")
    assert done["version"] > before
    seqs = [t["seq"] for t in done["transitions"]]
    assert max(seqs) == old_seq + 1
    r = district.post(url, {"text": "已纠正", "fix": {"description": "重新出具承办意见",
                                                    "transition_seq": max(seqs)}}, "cgj-handler")
    assert r.status_code == 200 and r.json["fix"]["transition_seq"] == max(seqs), r.json
    sync(fed, rounds=2)
    got = city.get(ORDERS, "inspector").json[0]
    assert got["state"] == "responded" and got["fix"]["description"] == "重新出具承办意见"


def test_refusals_write_nothing(fed):  # type: ignore[no-untyped-def]
    district, city, east = county_api(fed, DISTRICT), county_api(fed, CITY), county_api(fed, EAST)
    code = accepted_case(district)
    sync(fed)
    # a non-inspector, an unknown case, a bad kind / due date
    r = city.post(ORDERS, {"case_code": code, "kind": "supervise", "text": "x"}, "cgj-chief")
    assert r.status_code == 403 and "role" in r.json["errors"]["json"]
    r = city.post(ORDERS, {"case_code": "330105-20261202-ZZZZZZ", "kind": "supervise", "text": "x"}, "inspector")
    assert r.status_code in (404, 422) and "case_code" in r.json["errors"]["json"], r.json
    r = city.post(ORDERS, {"case_code": code, "kind": "urge", "text": "x"}, "inspector")
    assert r.status_code == 422 and "kind" in r.json["errors"]["json"]
    r = city.post(ORDERS, {"case_code": code, "kind": "supervise", "text": "x", "due_days": 0}, "inspector")
    assert r.status_code == 422 and "due_days" in r.json["errors"]["json"]
    # a county cannot order upward nor on its own (or a sibling's) cases
    r = district.post(ORDERS, {"case_code": code, "kind": "supervise", "text": "x"}, "inspector")
    assert r.status_code in (403, 404) and "case_code" in r.json["errors"]["json"], r.json
    with fed.ctxs[DISTRICT].factory() as s:
        from node.persistence.models import LibCase
        own = s.get(LibCase, code)
    if own is not None:  # a county's library holding its own case: refused as not below it
        assert r.status_code == 403
    r = east.post(ORDERS, {"case_code": code, "kind": "supervise", "text": "x"}, "inspector")
    assert r.status_code in (403, 404)
    for n in (CITY, DISTRICT, EAST):
        assert count_rows(fed, n, SupOrder) == 0
    with fed.ctxs[CITY].factory() as s:
        assert s.scalar(select(func.count()).select_from(FedAddressed).where(FedAddressed.direction == "out")) == 0

    # a sideways record (a sibling's, really signed by it) and a forged-kind record: refused at the
    # district, the sender told in the ack, nothing applied
    header = {"ref": f"{EAST}-1", "case_code": code, "kind": "supervise", "due_days": None}
    fed.ctxs[EAST].run(SYSTEM, send_message, DISTRICT, "supervision_order", header, {"text": "越级督办"},
                       subject=code)
    fed.ctxs[EAST].run(SYSTEM, send_message, DISTRICT, "supervision_response", {"ref": f"{CITY}-1"},
                       {"text": "伪造反馈"}, subject=code)
    sync(fed, rounds=2)
    assert count_rows(fed, DISTRICT, SupOrder) == 0
    with fed.ctxs[EAST].factory() as s:
        got = sorted((r.kind, r.state, r.code) for r in s.scalars(select(FedAddressed).where(
            FedAddressed.direction == "out")))
    assert got == [("supervision_order", "refused", "not_an_ancestor"),
                   ("supervision_response", "refused", "unknown_order")], got

    # an order on a case the owner does not have (the city's library row for a removed case)
    from node.persistence.models import LibCase
    with fed.ctxs[CITY].factory() as s:
        row = s.get(LibCase, code)
        assert row is not None
    from datetime import date

    from node.domain import servicecode
    ghost = servicecode.make_code(DISTRICT, date.today(), fed.ctxs[DISTRICT].random_part())
    with fed.ctxs[CITY].factory() as s, s.begin():
        s.add(LibCase(**{**{c.key: getattr(row, c.key) for c in LibCase.__table__.columns}, "service_code": ghost}))
    r = city.post(ORDERS, {"case_code": ghost, "kind": "supervise", "text": "核查"}, "inspector")
    assert r.status_code == 201, r.json
    sync(fed, rounds=2)
    got = city.get(f"{ORDERS}/{r.json['id']}", "inspector").json
    assert got["state"] == "refused" and got["refusal"] == "unknown_case", got
    assert count_rows(fed, DISTRICT, SupOrder) == 0


def test_complaints_bad_ratings_and_their_rectification_are_visible_upward(fed):  # type: ignore[no-untyped-def]
    """Each is a signed case event of the owner's log: the city holds them in the case's history."""
    district = county_api(fed, DISTRICT)
    code = district.apply_online()
    district.to_conclusion(code)
    last4 = "002X"
    assert district.post(f"/api/v1/public/cases/{code}/evaluation", {"id_last4": last4, "score": 1,
                                                                     "comment": "态度差"}).status_code == 201
    [rect] = district.get("/api/v1/rectifications", "cgj-chief").json
    assert district.post(f"/api/v1/rectifications/{rect['id']}/close", {"note": "已约谈窗口人员"},
                         "cgj-chief").status_code == 200
    r = district.post("/api/v1/supervision/complaints", {"code": code, "id_last4": last4, "text": "多次往返"})
    assert r.status_code == 201, r.json
    assert district.post(f"/api/v1/supervision/complaints/{r.json['id']}/conclusion",
                         {"finding": "partly", "conclusion": "部分属实"}, "inspector").status_code == 200
    sync(fed)
    ctx = fed.ctxs[CITY]
    with ctx.factory() as s:
        events = [e.event for e in ctx.signed_history.case_events(s, DISTRICT, code)]
    assert events[-4:] == ["evaluation", "rectification_closed", "complaint", "complaint_concluded"], events
