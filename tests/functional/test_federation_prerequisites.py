"""Prerequisites verified by result across real node processes: a business licence issued at Xihu
(330106) verified when a case is accepted at Gongshu (330105), through the city's library (the
district's HTTP process asks its parent at the address its uplink recorded); the city's federation
process killed: the acceptance is refused as unverifiable, and works again once it is back."""
from __future__ import annotations

import signal

import pytest

from tests.functional.test_federation_nodes import ID, Http, agree, fed, wait_until  # noqa: F401 - fed: fixture
from tests.support import minimal_pdf

pytestmark = [pytest.mark.functional, pytest.mark.slow]
BIZ, FOOD = "330000-XK-SJ-001", "330105-XK-SJ-005"


def _mats(node: Http, codes: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"material_code": c, "upload_id": node.upload(f"{c}.pdf", minimal_pdf(c))} for c in codes]


def _food(node: Http, number: str):  # type: ignore[no-untyped-def]
    return node.call("POST", "/api/v1/cases", {
        "item_code": FOOD, "applicant": {"name": "张三明", "id_number": ID}, "accept": True,
        "materials": _mats(node, ("application", "id", "food-safety")),
        "prerequisites": [{"item_code": BIZ, "license_number": number}]}, user="clerk")


def test_a_licence_of_xihu_accepted_at_gongshu_through_the_city(fed):  # type: ignore[no-untyped-def]
    xihu, gongshu = Http(fed["330106"].url), Http(fed["330105"].url)
    st, out = xihu.call("POST", "/api/v1/public/applications", {
        "item_code": BIZ, "applicant": {"name": "张三明", "id_number": ID},
        "materials": _mats(xihu, ("application", "id", "premises"))})
    assert st == 201, out
    code = out["code"]
    for event in ("accept", "conclude"):
        st, case = xihu.call("GET", f"/api/v1/cases/{code}", user="clerk")
        st, case = xihu.call("POST", f"/api/v1/cases/{code}/transitions",
                             {"event": event, "version": case["version"]}, user="clerk")
        assert st == 200, case
    number = case["license"]["number"]
    assert number.startswith("330106-")
    wait_until(lambda: agree(fed, "330106", "330100"), what="Xihu's records at the city")

    def accepted():  # type: ignore[no-untyped-def]
        st, body = _food(gongshu, number)
        return (st, body) if st == 201 else None  # 503 until Gongshu's uplink has run once

    st, body = wait_until(accepted, what="acceptance at Gongshu")
    [p] = body["prerequisites"]
    assert p["valid"] and p["answered_by"] == "330100" and p["result_item_code"] == BIZ and p["reference"] == number

    fed.kill("330100", "fed", signal.SIGKILL)
    st, body = _food(gongshu, number)
    assert st == 503, body
    assert "could not be verified" in body["message"] and "330100" in body["message"]
    fed.start("330100", "fed")
    wait_until(accepted, what="acceptance once the city is back")
