"""Towns and sub-district offices (镇/街道) as units of the district hall (村—镇—区三级联审): their
own staff and items, tenancy against department staff, a villager's case submitted by the village
agent and worked by the town; the admin API that builds the units, and its refusals."""
from __future__ import annotations

import pytest

from tests.support import ID_NUMBER

pytestmark = pytest.mark.integration

TOWN_ITEM = "330105-QT-KQ-001"


def units(api) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    r = api.get("/api/v1/departments")
    assert r.status_code == 200
    return {d["code"]: d for d in r.json}


def agent_submits(api, item: str = TOWN_ITEM) -> str:  # type: ignore[no-untyped-def]
    mats = [{"material_code": m, "upload_id": api.upload("pdf", m)} for m in ("application", "id", "village-opinion")]
    r = api.post("/api/v1/cases", {"item_code": item, "applicant": {"name": "王村民", "id_number": ID_NUMBER},
                                   "materials": mats}, "agent-kq")
    assert r.status_code == 201, r.json
    return r.json["code"]


def test_the_demo_town_and_its_service_point(api):  # type: ignore[no-untyped-def]
    u = units(api)
    assert u["kq"]["kind"] == "town" and u["kq"]["parent_unit_id"] is None
    assert u["kq-bm"]["kind"] == "service_point" and u["kq-bm"]["parent_unit_id"] == u["kq"]["id"]
    assert u["cgj"]["kind"] == "department" and u["cgj"]["parent_unit_id"] is None
    staff = {s["username"]: s for s in api.get("/api/v1/staff", "admin").json}
    assert staff["kq-handler"]["department_id"] == u["kq"]["id"] and staff["kq-handler"]["role"] == "handler"
    assert staff["kq-approver"]["role"] == "approver"
    item = api.get(f"/api/v1/catalog/items/{TOWN_ITEM}")
    assert item.status_code == 200 and item.json["department_id"] == u["kq"]["id"]


def test_villager_case_by_the_agent_worked_by_the_town(api):  # type: ignore[no-untyped-def]
    u = units(api)
    code = agent_submits(api)
    case = api.case(code, "agent-kq")  # the agent sees the cases of their service point
    assert case["channel"] == "agent" and case["service_point_id"] == u["kq-bm"]["id"]
    assert case["department_id"] == u["kq"]["id"]
    # Department staff do not see the town's case, nor act on it.
    assert api.get(f"/api/v1/cases/{code}", "cgj-handler").status_code == 404
    assert api.post(f"/api/v1/cases/{code}/transitions", {"event": "accept", "version": 1},
                    "cgj-chief").status_code == 404
    api.fire(code, "accept", "clerk")
    assert api.case(code, "kq-handler")["stage"]["name"] == "街道承办"
    # A department's handler cannot fire the town's stage; a town approver cannot skip the handler.
    assert api.post(f"/api/v1/cases/{code}/transitions", {"event": "undertake", "version": 3},
                    "cgj-handler").status_code == 404
    api.fire(code, "undertake", "kq-approver", expect=403)
    api.fire(code, "undertake", "kq-handler", opinion="村意见齐全，同意")
    api.fire(code, "approve", "kq-approver")
    done = api.fire(code, "conclude", "clerk")
    assert done["status"] == "concluded" and done["result"] == "approved"
    assert [t["actor_role"] for t in done["transitions"]] == ["agent", "clerk", "handler", "approver", "clerk"]


def test_town_staff_see_their_town_only(api):  # type: ignore[no-untyped-def]
    town_case = agent_submits(api)
    dept_case = api.apply_online()
    assert api.get(f"/api/v1/cases/{dept_case}", "kq-handler").status_code == 404
    mine = {c["code"] for c in api.get("/api/v1/cases", "kq-handler").json["items"]}
    assert mine == {town_case}
    theirs = {c["code"] for c in api.get("/api/v1/cases", "cgj-handler").json["items"]}
    assert dept_case in theirs and town_case not in theirs
    hall = {c["code"] for c in api.get("/api/v1/cases", "clerk").json["items"]}
    assert {town_case, dept_case} <= hall


def _item(code: str, dept_id: int) -> dict:
    return {"code": code, "department_id": dept_id, "name": "街道测试事项", "kind": "promised",
            "legal_limit_days": 10, "promised_limit_days": 3,
            "stages": [{"kind": "accept", "time_limit_days": 1, "role": "clerk"},
                       {"kind": "undertake", "time_limit_days": 1, "role": "handler"},
                       {"kind": "approve", "time_limit_days": 1, "role": "approver"},
                       {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}],
            "materials": [{"code": "application", "name": "申请表", "file_types": ["pdf"]}]}


def test_a_town_owns_items_as_a_department_does(api):  # type: ignore[no-untyped-def]
    u = units(api)
    r = api.post("/api/v1/items", _item("330105-QT-KQ-009", u["kq"]["id"]), "kq-chief")
    assert r.status_code == 201, r.json
    assert r.json["department_id"] == u["kq"]["id"]
    # Another unit's chief may not publish for the town; nobody publishes for a service point.
    assert api.post("/api/v1/items", _item("330105-QT-KQ-010", u["kq"]["id"]), "cgj-chief").status_code == 403
    r = api.post("/api/v1/items", _item("330105-QT-KQ-011", u["kq-bm"]["id"]), "admin")
    assert r.status_code == 422 and "department_id" in r.json["errors"]["json"]


def test_admin_builds_towns_and_attaches_service_points(api):  # type: ignore[no-untyped-def]
    town = api.post("/api/v1/departments", {"code": "xs", "name": "祥符街道办事处", "kind": "subdistrict"}, "admin")
    assert town.status_code == 201, town.json
    tid = town.json["id"]
    sp = api.post("/api/v1/departments", {"code": "xs-01", "name": "祥符村便民服务点", "kind": "service_point",
                                          "parent_unit_id": tid}, "admin")
    assert sp.status_code == 201 and sp.json["parent_unit_id"] == tid
    loose = api.post("/api/v1/departments", {"code": "xs-02", "name": "吉如村便民服务点", "kind": "service_point"},
                     "admin")
    assert loose.json["parent_unit_id"] is None
    moved = api.patch(f"/api/v1/departments/{loose.json['id']}", {"parent_unit_id": tid}, "admin")
    assert moved.status_code == 200 and moved.json["parent_unit_id"] == tid
    # Its staff: a handler in the town, an agent at the point; not the other way round.
    ok = api.post("/api/v1/staff", {"username": "xs-handler", "name": "祥符承办", "password": "Xiangfu-Town-2026!",
                                    "role": "handler", "department_id": tid}, "admin")
    assert ok.status_code == 201, ok.json
    bad = api.post("/api/v1/staff", {"username": "xs-agent", "name": "祥符代办", "password": "Xiangfu-Agent-2026!",
                                     "role": "agent", "department_id": tid}, "admin")
    assert bad.status_code == 422 and "department_id" in bad.json["errors"]["json"]
    assert api.patch(f"/api/v1/departments/{loose.json['id']}", {"parent_unit_id": None},
                     "admin").json["parent_unit_id"] is None


@pytest.mark.parametrize("body, needle", [
    ({"code": "zz-1", "kind": "service_point", "parent_unit_id": 99999}, "does not exist"),
    ({"code": "zz-2", "kind": "service_point", "parent_unit_id": "@kq-bm"}, "service point"),
    ({"code": "zz-3", "kind": "town", "parent_unit_id": "@kq"}, "belongs to the hall"),
    ({"code": "zz-4", "kind": "subdistrict", "parent_unit_id": "@cgj"}, "belongs to the hall"),
    ({"code": "zz-5", "kind": "department", "parent_unit_id": "@kq"}, "belongs to the hall"),
    ({"code": "zz-6", "kind": "service_point", "parent_unit_id": "@cgj"}, "town or sub-district"),
    ({"code": "zz-7", "kind": "village"}, "Must be one of"),
])
def test_bad_units_are_refused_clearly(api, body, needle):  # type: ignore[no-untyped-def]
    u = units(api)
    body = {"name": "测试单位", **body}
    if isinstance(body.get("parent_unit_id"), str):
        body["parent_unit_id"] = u[body["parent_unit_id"][1:]]["id"]
    r = api.post("/api/v1/departments", body, "admin")
    assert r.status_code == 422, r.json
    field = "kind" if body["code"] == "zz-7" else "parent_unit_id"
    assert field in r.json["errors"]["json"]
    assert needle in str(r.json["errors"]["json"][field])
    assert body["code"] not in units(api)  # nothing written


def test_cycles_and_strangers_are_refused(api):  # type: ignore[no-untyped-def]
    u = units(api)
    r = api.patch(f"/api/v1/departments/{u['kq']['id']}", {"parent_unit_id": u["kq"]["id"]}, "admin")
    assert r.status_code == 422 and "cycle" in str(r.json["errors"]["json"]["parent_unit_id"])
    r = api.patch(f"/api/v1/departments/{u['kq']['id']}", {"parent_unit_id": u["kq-bm"]["id"]}, "admin")
    assert r.status_code == 422 and "cycle" in str(r.json["errors"]["json"]["parent_unit_id"])
    assert api.patch("/api/v1/departments/99999", {"parent_unit_id": None}, "admin").status_code == 404
    # Only the hall admin builds units.
    assert api.post("/api/v1/departments", {"code": "zz-8", "name": "x", "kind": "town"}, "kq-chief").status_code == 403
    assert api.patch(f"/api/v1/departments/{u['kq-bm']['id']}", {"parent_unit_id": None},
                     "kq-chief").status_code == 403
    assert units(api)["kq-bm"]["parent_unit_id"] == u["kq"]["id"]
