"""The inspector's page decides a supervision order's response (办结 / 退回重办) across real nodes: the
province's inspector issues an order on a district case, the district answers, and on the case page
the answer is returned (a note required, named at the field) and, answered again, closed; the
decision travels down to the district."""
from __future__ import annotations

import pytest

from tests.integration.test_federation_grpc import county_api
from tests.integration.test_supervision_orders import (  # noqa: F401 - fed: the fixture
    DISTRICT,
    ORDERS,
    PROVINCE,
    accepted_case,
    fed,
    orders_at,
    sync,
)
from tests.support import csrf_of, ui_sign_in

pytestmark = pytest.mark.integration


def test_the_inspector_returns_then_closes_an_answered_order_from_the_case_page(fed):  # type: ignore[no-untyped-def]  # noqa: F811
    from node.api import create_app

    district, province = county_api(fed, DISTRICT), county_api(fed, PROVINCE)
    code = accepted_case(district)
    sync(fed)
    r = province.post(ORDERS, {"case_code": code, "kind": "supervise", "text": "请说明进度"}, "inspector")
    assert r.status_code == 201, r.json
    oid = r.json["id"]
    sync(fed, rounds=2)
    [mine] = orders_at(fed, DISTRICT)
    assert district.post(f"{ORDERS}/{mine.id}/response", {"text": "已安排加快审查"}, "cgj-chief").status_code == 200
    sync(fed, rounds=2)

    ui = create_app(ctx=fed.ctxs[PROVINCE]).test_client()
    ui_sign_in(ui, "inspector")
    url = f"/staff/inspector/cases/{code}"
    html = ui.get(url).get_data(as_text=True)
    assert "已安排加快审查" in html and f'/staff/inspector/orders/{oid}/decision' in html and "退回重办" in html
    token = csrf_of(html)
    r = ui.post(f"/staff/inspector/orders/{oid}/decision", data={"csrf_token": token, "case_code": code,
                                                                 "decision": "return", "note": " "})
    assert r.status_code == 302
    html = ui.get(url).get_data(as_text=True)
    assert "督办单未能退回" in html and "字段：note" in html
    assert province.get(f"{ORDERS}/{oid}", "inspector").json["state"] == "responded"  # nothing changed
    r = ui.post(f"/staff/inspector/orders/{oid}/decision", data={"csrf_token": token, "case_code": code,
                                                                 "decision": "return", "note": "请说明具体办结时限"})
    assert r.status_code == 302
    html = ui.get(url).get_data(as_text=True)
    assert "督办单已退回" in html and "审核意见：请说明具体办结时限" in html
    assert f'/staff/inspector/orders/{oid}/decision' not in html  # nothing to decide until answered again
    sync(fed, rounds=2)
    assert orders_at(fed, DISTRICT)[0].state == "returned"
    assert district.post(f"{ORDERS}/{mine.id}/response", {"text": "两个工作日内办结"}, "cgj-chief").status_code == 200
    sync(fed, rounds=2)
    r = ui.post(f"/staff/inspector/orders/{oid}/decision", data={"case_code": code, "decision": "close"})
    assert r.status_code == 400  # no CSRF token
    r = ui.post(f"/staff/inspector/orders/{oid}/decision", data={"csrf_token": token, "case_code": code,
                                                                 "decision": "close"})
    assert r.status_code == 302
    assert "督办单已办结" in ui.get(url).get_data(as_text=True)
    assert province.get(f"{ORDERS}/{oid}", "inspector").json["state"] == "closed"
    sync(fed, rounds=2)
    assert orders_at(fed, DISTRICT)[0].state == "closed"

    chief = create_app(ctx=fed.ctxs[PROVINCE]).test_client()
    token = ui_sign_in(chief, "cgj-chief")
    r = chief.post(f"/staff/inspector/orders/{oid}/decision", data={"csrf_token": token, "case_code": code,
                                                                    "decision": "return", "note": "x"})
    assert r.status_code == 403
