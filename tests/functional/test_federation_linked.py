"""Joint cases across levels (市区两级联动) between real node processes: a district (330105) joint case
with one part owned by the city (330100). Accepted at the district's window; the city's federation
process applies the dispatch, is killed (-9) while it holds the part and restarted; the city works
the part through its own HTTP API; the link is cut (the district's federation process killed) and
restored midway; the result comes back and the joint case concludes. At the end both sides agree
and nothing was dispatched (or applied) twice."""
from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from node.seed import JOINT_ITEMS
from tests.functional.test_federation_nodes import ID, MATERIALS, Http, fed, wait_until  # noqa: F401 - the fixture

pytestmark = [pytest.mark.functional, pytest.mark.slow]
DISTRICT, CITY = "330105", "330100"
LINKED = "330105-LB-CG-019"
LOCAL_PART, REMOTE_PART = "330105-XK-CG-001", "330100-XK-GH-001"  # the city's own item (its planning bureau gh)
FORM = {"shop_name": "拱墅老字号面馆", "address": "杭州市拱墅区湖墅南路1号", "size": "6×1.2"}


def rows(node_dir: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{node_dir / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
    try:
        return list(con.execute(sql, args))
    finally:
        con.close()


def work(http: Http, code: str, dept: str) -> None:
    http.fire(code, "undertake", f"{dept}-handler", opinion="符合条件")
    http.fire(code, "review", f"{dept}-reviewer")
    http.fire(code, "approve", f"{dept}-approver")
    http.fire(code, "conclude", "clerk")


def test_district_joint_case_with_a_city_part_survives_kills_and_a_cut_link(fed):  # type: ignore[no-untyped-def]
    district, city = Http(fed[DISTRICT].url), Http(fed[CITY].url)
    ddir, cdir = fed[DISTRICT].data_dir, fed[CITY].data_dir
    base = next(i for i in JOINT_ITEMS if i["code"] == "330105-LB-CG-001")
    item = {k: v for k, v in base.items() if k not in ("dept", "fields")}
    item.update(code=LINKED, name="店招店牌设置（市区联办）",
                parts=[{"item_code": LOCAL_PART}, {"item_code": REMOTE_PART, "node": CITY}])
    st, out = district.call("POST", "/api/v1/items", item, "cgj-chief")
    assert st == 201, out

    mats = [{"material_code": k, "upload_id": district.upload(k, v)} for k, v in MATERIALS.items()]
    st, j = district.call("POST", "/api/v1/cases", {
        "item_code": LINKED, "materials": mats, "form": FORM, "accept": True,
        "applicant": {"name": "张三明", "id_number": ID, "phone": "13912345678"}}, "clerk")
    assert st == 201, j
    code = j["code"]
    local, remote = j["joint"]["parts"]
    assert remote["remote_node"] == CITY and remote["link"]["state"] == "waiting"

    def city_case() -> list[tuple[Any, ...]]:
        return rows(cdir, "select code, status, result from cases where linked_from=?", f"{DISTRICT}:{code}:2")

    [(ccode, _, _)] = wait_until(city_case, what="the dispatch applied at the city")
    fed.kill(CITY, "fed", signal.SIGKILL)  # the city's federation process dies while it holds the part
    st, c = city.call("GET", f"/api/v1/cases/{ccode}", user="gh-handler")  # the city's hall keeps working
    assert st == 200 and c["part_of"] == {"joint_code": code, "part_no": 2, "origin": DISTRICT}, c
    city.fire(ccode, "undertake", "gh-handler", opinion="符合条件")
    fed.start(CITY, "fed")

    def remote_part() -> dict[str, Any]:
        st, v = district.call("GET", f"/api/v1/cases/{code}", user="clerk")
        assert st == 200, v
        return v["joint"]["parts"][1]  # type: ignore[no-any-return]

    wait_until(lambda: remote_part()["link"]["state"] == "received" and remote_part()["code"] == ccode,
               what="the ack and the progress back at the district")
    wait_until(lambda: (remote_part().get("progress") or {}).get("event") == "undertake",
               what="the city's undertake reported")

    fed.kill(DISTRICT, "fed", signal.SIGKILL)  # the link cut: the district's federation process is gone
    city.fire(ccode, "review", "gh-reviewer")
    city.fire(ccode, "approve", "gh-approver")
    city.fire(ccode, "conclude", "clerk")
    work(district, local["code"], "cgj")
    time.sleep(2)
    st, v = district.call("GET", f"/api/v1/cases/{code}", user="clerk")
    assert v["status"] == "in_progress" and v["joint"]["parts"][1]["status"] == "in_progress"  # not back yet
    fed.start(DISTRICT, "fed")  # restored

    def concluded() -> Any:
        st, v = district.call("GET", f"/api/v1/cases/{code}", user="clerk")
        return v if v["status"] == "concluded" else None

    done = wait_until(concluded, what="the joint case concluded after the link came back")
    assert done["result"] == "approved"
    part = done["joint"]["parts"][1]
    # both sides agree on the part
    assert city_case() == [(ccode, "concluded", "approved")]
    assert (part["code"], part["status"], part["result"]) == (ccode, "concluded", "approved")
    # nothing dispatched twice, nothing applied twice, every report acknowledged
    assert rows(ddir, "select state from fed_addressed where direction='out' and kind='part_dispatch'") == [("acked",)]
    assert rows(cdir, "select count(*) from fed_addressed where direction='in' and kind='part_dispatch'") == [(1,)]
    assert rows(cdir, "select count(*) from cases where linked_from is not null") == [(1,)]
    wait_until(lambda: rows(cdir, "select distinct state from fed_addressed where direction='out' and "
                                  "kind in ('part_progress', 'part_result')") == [("acked",)],
               what="every progress record acknowledged")
    assert rows(cdir, "select count(*) from fed_addressed where direction='out' and kind='part_result'") == [(1,)]
    assert rows(ddir, "select count(*) from fed_addressed where direction='in' and kind='part_result' "
                      "and state='applied'") == [(1,)]
    assert rows(ddir, "select count(*) from notifications n join cases c on c.id=n.case_id where c.code=? "
                      "and n.template='joint_concluded'", code) == [(1,)]


def test_the_demo_stages_one_city_part_waiting_for_the_applicant(fed):  # type: ignore[no-untyped-def]
    """``yiwang demo`` after the start: the city's gh-handler asks (through the city's API) for a
    material on the oldest cross-level case's city part; the district shows the part waiting and
    tells the applicant under the joint code; a second run asks for nothing more."""
    from federation.demo import ask_for_a_remote_material
    from tests.support import minimal_pdf, tiny_image

    district, city = Http(fed[DISTRICT].url), Http(fed[CITY].url)
    item = district.ok("GET", "/api/v1/catalog/items/330105-LB-CG-002")
    mats = [{"material_code": m["code"], "upload_id": district.upload(
        m["code"], tiny_image("jpg", m["code"]) if (m.get("file_types") or ["pdf"])[0] in ("jpg", "png")
        else minimal_pdf(m["code"]))} for m in item["materials"] if m.get("requirement") == "required"]
    st, j = district.call("POST", "/api/v1/cases", {
        "item_code": item["code"], "materials": mats, "accept": True,
        "applicant": {"name": "李文华", "id_number": ID, "phone": "13912345679"}}, "clerk")
    assert st == 201, j
    heard: list[str] = []
    code = ask_for_a_remote_material(fed, heard.append)
    assert code is not None, heard
    assert any("asked for a material" in m for m in heard), heard

    def part() -> dict[str, Any]:
        return district.ok("GET", f"/api/v1/cases/{code}", user="clerk")["joint"]["parts"][1]  # type: ignore[no-any-return]

    wait_until(lambda: part()["status"] == "supplementing", what="the city's request back at the district")
    asked = part()["progress"]["supplement"]
    assert asked["reason"] and asked["missing"][0]["material_code"] in {m["code"] for m in item["materials"]}
    texts = [t for (t,) in rows(fed[DISTRICT].data_dir, "select body from notifications where template='supplement'")]
    assert any(code in t for t in texts), texts
    ccode = part()["code"]
    assert ask_for_a_remote_material(fed) == code  # again (a restarted demo): nothing more is asked
    events = [t["event"] for t in city.ok("GET", f"/api/v1/cases/{ccode}", user="gh-handler")["transitions"]]
    assert events.count("request_supplement") == 1, events
