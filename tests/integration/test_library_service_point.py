"""The village service point in the signed record and the shared library (issue 11 item 8): a case
an agent submits through service point kq-bm carries ``service_point`` in its signed ``CaseEvent``
(field 32); the parent's library stores it in ``lib_cases.service_point`` and filters by it; a
record from a node one version behind (no field 32) is applied with the column empty. Real gRPC
with mutual TLS, SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from federation.envelope import Signer, parse, seal
from federation.identity import load_identity
from federation.library import apply_records
from federation.pb.v1 import federation_pb2 as pb
from node.persistence.models import FedRecord, LibCase
from tests.integration.test_federation_grpc import county_api, start, uplink
from tests.integration.test_linked_pg import pg_federation, sqlite_federation
from tests.support import ID_NUMBER

pytestmark = pytest.mark.integration

DISTRICT, CITY = "330105", "330100"
TOWN_ITEM = "330105-QT-KQ-001"


@pytest.fixture(params=["sqlite", "postgresql"])
def fed(request, tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    make = sqlite_federation if request.param == "sqlite" else pg_federation
    yield from make(tmp_path, templates, clock, monkeypatch)


def agent_submits(api: Any) -> str:
    mats = [{"material_code": m, "upload_id": api.upload("pdf", m)} for m in ("application", "id", "village-opinion")]
    r = api.post("/api/v1/cases", {"item_code": TOWN_ITEM, "applicant": {"name": "王村民", "id_number": ID_NUMBER},
                                   "materials": mats}, "agent-kq")
    assert r.status_code == 201, r.json
    return str(r.json["code"])


def push_up(fed: Any) -> None:
    async def run() -> None:
        city, caddr = await start(fed, CITY)
        try:
            await uplink(fed, DISTRICT, caddr).sync_once()
        finally:
            await city.stop(None)

    asyncio.run(run())


def events_of(ctx: Any, code: str) -> list[pb.CaseEvent]:
    with ctx.factory() as s:
        rows = s.scalars(select(FedRecord).where(FedRecord.origin == DISTRICT).order_by(FedRecord.seq))
        evs = [parse(r.body, r.signature).msg for r in rows]
    return [m.case_event for m in evs if m.HasField("case_event") and m.case_event.service_code == code]


def test_an_agent_case_carries_its_service_point_to_the_library(fed):  # type: ignore[no-untyped-def]
    district, city = county_api(fed, DISTRICT), county_api(fed, CITY)
    by_agent = agent_submits(district)
    district.fire(by_agent, "accept", "clerk")
    at_window = district.apply_online()
    [sub, acc] = events_of(fed.ctxs[DISTRICT], by_agent)
    assert (sub.event, sub.channel, sub.service_point) == ("submit", "agent", "kq-bm")
    assert acc.service_point == "kq-bm"  # every record of the case, not only the submission
    assert all(e.service_point == "" for e in events_of(fed.ctxs[DISTRICT], at_window))

    push_up(fed)
    assert [e.service_point for e in events_of(fed.ctxs[CITY], by_agent)] == ["kq-bm", "kq-bm"]  # verbatim
    r = city.get("/api/v1/library/cases?service_point=kq-bm", "inspector")
    assert r.status_code == 200, r.json
    assert [x["service_code"] for x in r.json["items"]] == [by_agent] and r.json["total"] == 1
    row = r.json["items"][0]
    assert (row["channel"], row["service_point"], row["last_event"]) == ("agent", "kq-bm", "accept")
    other = city.get(f"/api/v1/library/cases?region={DISTRICT}", "inspector").json["items"]
    assert {x["service_code"]: x["service_point"] for x in other}[at_window] is None
    assert city.get("/api/v1/library/cases?service_point=xx-bm", "inspector").json["total"] == 0
    bad = city.get("/api/v1/library/cases?service_point=" + "x" * 33, "inspector")
    assert bad.status_code == 422 and "service_point" in str(bad.json), bad.json


def test_a_record_from_a_node_one_version_behind_has_no_service_point(fed):  # type: ignore[no-untyped-def]
    """An older node sends the same ``CaseEvent`` without field 32: the library applies it with the
    column empty; the next record of a newer node fills it, and an older one empties it again (each
    record says what its signer knew)."""
    district = county_api(fed, DISTRICT)
    code = agent_submits(district)
    [ev] = events_of(fed.ctxs[DISTRICT], code)
    old = pb.CaseEvent()
    old.CopyFrom(ev)
    old.ClearField("service_point")
    assert pb.CaseEvent.FromString(old.SerializeToString()).service_point == ""
    ident = load_identity(fed[DISTRICT].data_dir)
    signer = Signer(ident.node_id, ident.key_id, ident.sign)
    older = seal(signer, 9001, b"\0" * 32, 1, old)
    newer = seal(signer, 9002, older.hash, 2, ev)
    with fed.ctxs[CITY].factory() as s, s.begin():
        apply_records(s, [older])
    with fed.ctxs[CITY].factory() as s:
        row = s.get(LibCase, code)
        assert (row.channel, row.service_point, row.record_seq) == ("agent", None, 9001)
    with fed.ctxs[CITY].factory() as s, s.begin():
        apply_records(s, [newer])
    with fed.ctxs[CITY].factory() as s:
        assert s.get(LibCase, code).service_point == "kq-bm"
