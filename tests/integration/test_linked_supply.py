"""A supplement asked for by a part worked at another node is answered where the applicant holds the
code (市区两级联动, issue 11): the city's handler asks for a material; the district tells the applicant
under the joint case's code (the city says nothing itself); the applicant (or the window) supplies it
at the district; the city's case gets the file's digest, its handler reads the bytes fetched from the
district, and the clock runs again. Every refusal: a material not asked for, another department, a
second supply, a supply the city is not waiting for, a wrong ID tail. Over real gRPC with mutual TLS
in one process, on SQLite."""
from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
from sqlalchemy import select

from node.persistence.models import Case, FedAddressed, FedRecord, Notification
from node.services.addressed import send_message
from node.services.context import SYSTEM
from tests.integration.test_federation_grpc import county_api
from tests.integration.test_fetch_material import Served
from tests.integration.test_linked_parts import CITY, DISTRICT, accept, linked_cases, publish_linked, sync
from tests.integration.test_linked_pg import sqlite_federation
from tests.support import ID_NUMBER, material_bytes, ui_sign_in

pytestmark = pytest.mark.integration
ASKED = [{"material_code": "design", "name": "设计效果图"}]


@pytest.fixture
def fed(tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    yield from sqlite_federation(tmp_path, templates, clock, monkeypatch)


def notes(fed: Any, node: str) -> list[tuple[str, str]]:
    with fed.ctxs[node].factory() as s:
        return [(n.template, n.body) for n in s.scalars(select(Notification).order_by(Notification.id))]


def sent_kinds(fed: Any, node: str, kind: str) -> list[tuple[str, str | None]]:
    with fed.ctxs[node].factory() as s:
        return [(r.state, r.code) for r in s.scalars(select(FedAddressed).where(
            FedAddressed.direction == "out", FedAddressed.kind == kind).order_by(FedAddressed.seq))]


def city_case(fed: Any) -> Case:
    [lc] = linked_cases(fed)
    return lc


def test_the_applicant_supplies_a_city_part_at_the_district(fed, monkeypatch):  # type: ignore[no-untyped-def]
    publish_linked(fed)
    district, city = county_api(fed, DISTRICT), county_api(fed, CITY)
    j = accept(district)
    sync(fed, DISTRICT)
    lc = city_case(fed)
    # the city's handler sees the materials the part was dispatched with (bytes at the district)
    listed = city.case(lc.code, "gh-handler")["materials"]
    assert sorted(m["digest"] for m in listed) == sorted(m["digest"] for m in j["materials"])
    before_city = len(notes(fed, CITY))
    city.fire(lc.code, "request_supplement", "gh-handler", reason="效果图不清晰", missing=ASKED)
    assert len(notes(fed, CITY)) == before_city  # the city does not message the applicant itself
    sync(fed, DISTRICT)  # down: the request, sealed to the district
    part = district.case(j["code"])["joint"]["parts"][1]
    assert part["status"] == "supplementing", part
    assert part["progress"]["supplement"]["missing"][0]["material_code"] == "design"
    assert part["progress"]["supplement"]["reason"] == "效果图不清晰"
    told = [b for t, b in notes(fed, DISTRICT) if t == "supplement"]
    assert len(told) == 1 and j["code"] in told[0] and "设计效果图" in told[0]  # under the code the applicant holds
    # the request repeated (a report while it waits, or a node sending it again and again): told once
    for _ in range(2):
        fed.ctxs[CITY].run(SYSTEM, send_message, DISTRICT, "part_progress",
                           {"code": lc.code, "status": "supplementing", "event": "request_supplement"},
                           {"supplement": {"reason": "效果图不清晰", "missing": ASKED * 60}}, subject=j["code"], part=2)
    sync(fed, DISTRICT)
    assert [t for t, _ in notes(fed, DISTRICT)].count("supplement") == 1
    assert len(district.case(j["code"])["joint"]["parts"][1]["progress"]["supplement"]["missing"]) == 40  # bounded
    with fed.ctxs[CITY].factory() as s:  # the signed record carries the request sealed to the district only
        seq = s.scalar(select(FedAddressed.seq).where(FedAddressed.kind == "part_progress",
                                                      FedAddressed.direction == "out").order_by(FedAddressed.seq.desc()))
        body = bytes(s.get(FedRecord, (CITY, seq)).body)
        assert "效果图不清晰".encode() not in body and "设计效果图".encode() not in body

    # refusals at the district, nothing sent
    url = f"/api/v1/public/cases/{j['code']}/parts/2/supply"
    up = district.upload("pdf", "clear-design")
    r = district.post(url, {"id_last4": ID_NUMBER[-4:], "materials": [{"material_code": "id", "upload_id": up}]})
    assert r.status_code == 422 and "materials[0].material_code" in str(r.json), r.json
    r = district.post(url, {"id_last4": "0000", "materials": [{"material_code": "design", "upload_id": up}]})
    assert r.status_code == 404
    r = district.post(f"/api/v1/cases/{j['code']}/parts/2/supply",
                      {"materials": [{"material_code": "design", "upload_id": up}]}, "cgj-handler")
    assert r.status_code in (403, 404), r.json
    r = district.post(f"/api/v1/public/cases/{j['code']}/parts/9/supply",
                      {"id_last4": ID_NUMBER[-4:], "materials": [{"material_code": "design", "upload_id": up}]})
    assert r.status_code == 404 and "part" in str(r.json), r.json
    assert sent_kinds(fed, DISTRICT, "part_supply") == []

    r = district.post(url, {"id_last4": ID_NUMBER[-4:], "materials": [{"material_code": "design", "upload_id": up}]})
    assert r.status_code == 200, r.json
    assert r.json["joint"]["parts"][1]["status"] == "supplementing"  # until the city reports it moving
    again = district.upload("pdf", "again")
    r = district.post(url, {"id_last4": ID_NUMBER[-4:], "materials": [{"material_code": "design", "upload_id": again}]})
    assert r.status_code == 409 and "part" in str(r.json), r.json  # sent already: not twice
    assert sent_kinds(fed, DISTRICT, "part_supply") == [("sent", None)]
    digest = hashlib.sha256(bytes(fed.ctxs[DISTRICT].store.get(
        district.case(j["code"])["materials"][-1]["digest"]))).hexdigest()

    sync(fed, DISTRICT)  # up: the city applies the supply; its clock runs again
    lc = city_case(fed)
    assert lc.status == "in_progress"
    view = city.case(lc.code, "gh-handler")
    assert digest in [m["digest"] for m in view["materials"]]
    served = Served(fed, DISTRICT)
    try:
        monkeypatch.setenv("YIWANG_FEDERATION_PEERS", f"{DISTRICT}={served.addr}")
        got = city.get(f"/api/v1/cases/{lc.code}/materials/{digest}", "gh-handler")
        assert got.status_code == 200 and hashlib.sha256(got.data).hexdigest() == digest
    finally:
        served.stop()
    sync(fed, DISTRICT)  # down: the ack and the progress
    part = district.case(j["code"])["joint"]["parts"][1]
    assert part["status"] == "in_progress" and "supplement" not in (part["progress"] or {}), part
    assert sent_kinds(fed, DISTRICT, "part_supply") == [("acked", None)]

    # a supply the city is not waiting for is refused there and the district is told
    fed.ctxs[DISTRICT].run(SYSTEM, send_message, CITY, "part_supply", {"joint_code": j["code"], "part": 2},
                           {"materials": [{"material_code": "design", "digest": digest}]}, subject=j["code"], part=2)
    sync(fed, DISTRICT, rounds=2)
    assert sent_kinds(fed, DISTRICT, "part_supply")[-1] == ("refused", "not_supplementing")
    assert city_case(fed).status == "in_progress"


def test_the_track_page_asks_for_a_city_part_and_the_applicant_supplies_it_there(fed):  # type: ignore[no-untyped-def]
    publish_linked(fed)
    district, city = county_api(fed, DISTRICT), county_api(fed, CITY)
    j = accept(district)
    sync(fed, DISTRICT)
    city.fire(city_case(fed).code, "request_supplement", "gh-handler", reason="效果图不清晰", missing=ASKED)
    sync(fed, DISTRICT)
    from node.api import create_app

    public = create_app(ctx=fed.ctxs[DISTRICT]).test_client()
    form = public.get(f"/track?code={j['code']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    page = public.post("/track", data={"code": j["code"], "id_last4": ID_NUMBER[-4:],
                                       **({"csrf_token": token.group(1)} if token else {})}).get_data(as_text=True)
    assert "设计效果图" in page and "效果图不清晰" in page and 'name="part" value="2"' in page, page

    ui = create_app(ctx=fed.ctxs[DISTRICT]).test_client()
    ui_sign_in(ui, "clerk")
    html = ui.get(f"/staff/window/cases/{j['code']}").get_data(as_text=True)
    assert "设计效果图" in html and 'name="part" value="2"' in html
    # the applicant sends the file from the track page (a file of a type not asked for is refused there)
    wrong = public.post("/track/supply", data={"code": j["code"], "id_last4": ID_NUMBER[-4:], "part": "2",
                                               "s_file_design": (io.BytesIO(material_bytes("ofd", "d")), "d.ofd"),
                                               **({"csrf_token": token.group(1)} if token else {})},
                        content_type="multipart/form-data")
    assert wrong.status_code == 422 and sent_kinds(fed, DISTRICT, "part_supply") == [], wrong.status_code
    import sys; print(re.findall(r"flash error[^<]*</?[^<]*", wrong.get_data(as_text=True)), file=sys.stderr)
    done = public.post("/track/supply", data={"code": j["code"], "id_last4": ID_NUMBER[-4:], "part": "2",
                                              "s_file_design": (io.BytesIO(material_bytes("pdf", "d")), "d.pdf"),
                                              **({"csrf_token": token.group(1)} if token else {})},
                       content_type="multipart/form-data")
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and "正在送达办理该事项的节点" in page, page
    assert sent_kinds(fed, DISTRICT, "part_supply") == [("sent", None)]
    html = ui.get(f"/staff/window/cases/{j['code']}").get_data(as_text=True)
    assert "正在送达" in html and 'name="part" value="2"' not in html  # the window sees it sent, no second form
    up = district.upload("pdf", "window-design")
    r = district.post(f"/api/v1/cases/{j['code']}/parts/2/supply",
                      {"materials": [{"material_code": "design", "upload_id": up}]}, "clerk")
    assert r.status_code == 409, r.json
    # the joint case withdrawn: its parts take no more materials, and the pages stop asking
    w = district.post(f"/api/v1/public/cases/{j['code']}/withdrawal", {"id_last4": ID_NUMBER[-4:], "reason": "不办了"})
    assert w.status_code == 200, w.json
    with fed.ctxs[DISTRICT].factory() as s:
        from node.persistence.models import CasePart

        jid = s.scalar(select(Case.id).where(Case.code == j["code"]).execution_options(all_tenants=True))
        row = s.scalar(select(CasePart).where(CasePart.joint_case_id == jid, CasePart.part_no == 2)
                       .execution_options(all_tenants=True))
        row.remote_info = {k: v for k, v in row.remote_info.items() if k != "supply_sent_at"}
        s.commit()
    late = district.upload("pdf", "late-design")
    r = district.post(f"/api/v1/cases/{j['code']}/parts/2/supply",
                      {"materials": [{"material_code": "design", "upload_id": late}]}, "clerk")
    assert r.status_code == 409 and "withdrawn" in r.json["message"], r.json
    assert 'name="part" value="2"' not in ui.get(f"/staff/window/cases/{j['code']}").get_data(as_text=True)


def test_two_supplies_at_once_send_one_postgresql(tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    """PostgreSQL: the window and the applicant's agent at the same moment supply the same remote
    part, five times over; the joint case and the part row are locked, so each time one is sent and
    the other gets 409, and only the winner's file is kept with the case."""
    from node.persistence.models import CaseMaterial, CasePart
    from tests.integration.test_linked_pg import pg_federation
    from tests.support import at_once

    gen = pg_federation(tmp_path, templates, clock, monkeypatch)
    fed = next(gen)
    try:
        publish_linked(fed)
        district = county_api(fed, DISTRICT)
        j = accept(district)
        clients = [county_api(fed, DISTRICT) for _ in range(2)]
        for c in clients:
            c.get("/api/v1/auth/me", "clerk")  # signed in before the race
        for round_ in range(5):
            with fed.ctxs[DISTRICT].factory() as s:  # as a part_progress asking for the design leaves it
                jid = s.scalar(select(Case.id).where(Case.code == j["code"]).execution_options(all_tenants=True))
                row = s.scalar(select(CasePart).where(CasePart.joint_case_id == jid, CasePart.part_no == 2)
                               .execution_options(all_tenants=True))
                row.status = "supplementing"
                row.remote_info = {"supplement": {"reason": "效果图不清晰", "missing": ASKED}}
                s.commit()
            ups = [district.upload("pdf", f"race-{round_}-{i}") for i in range(2)]
            pairs = iter(zip(clients, ups))

            def supply(barrier, pairs=pairs):  # type: ignore[no-untyped-def]
                c, up = next(pairs)
                barrier.wait()
                return c.post(f"/api/v1/cases/{j['code']}/parts/2/supply",
                              {"materials": [{"material_code": "design", "upload_id": up}]}, "clerk").status_code

            codes, errors = at_once(supply)
            assert errors == [] and sorted(codes) == [200, 409], (round_, codes)
            with fed.ctxs[DISTRICT].factory() as s:
                kept = s.scalars(select(CaseMaterial.upload_id).where(CaseMaterial.case_id == jid,
                                                                      CaseMaterial.upload_id.in_(ups))
                                 .execution_options(all_tenants=True)).all()
            assert len(kept) == 1, round_  # the loser's file is not kept with the case
        assert [st for st, _ in sent_kinds(fed, DISTRICT, "part_supply")] == ["sent"] * 5
    finally:
        gen.close()
