"""Joint cases across levels (市区两级联动) over real gRPC with mutual TLS, in one process: a district
joint case with one part owned by the city; the dispatch, the city's linked case worked through the
city's API, progress and result back, the joint conclusion; every refusal (item not owned, unknown
part, not the part's owner, a second result, a replay, an unknown or revoked destination)."""
from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select

from federation.identity import load_identity
from federation.registry import install_directory, publish_directory, revoke
from node.persistence.models import (
    Alert,
    Case,
    CasePart,
    FedAddressed,
    FedDownCursor,
    Notification,
)
from node.services import catalog
from node.services.addressed import send_message
from node.services.context import SYSTEM
from tests.integration.test_federation_grpc import county_api, fed, start, uplink  # noqa: F401 - the fixture
from tests.support import ID_NUMBER, SIGN_FORM, SIGN_MATERIALS, run_part

pytestmark = pytest.mark.integration

DISTRICT, CITY, EAST = "330105", "330100", "330106"
LINKED = "330105-LB-CG-009"
LOCAL_PART, REMOTE_PART = "330105-XK-CG-001", "330105-XK-GH-001"  # the city holds the same catalog here
FORM = SIGN_FORM


def publish_linked(fed: Any, code: str = LINKED, remote: str = REMOTE_PART, node: str = CITY) -> None:
    """A joint item of the district with one part owned by ``node``."""
    ctx = fed.ctxs[DISTRICT]
    with ctx.factory() as s:
        base = catalog.current_version(s, "330105-LB-CG-001")
        data = {f: getattr(base, f) for f in ("kind", "legal_limit_days", "promised_limit_days", "materials",
                                               "stages", "legal_basis", "conditions")}
        dept = base.item.department_id
    data.update(code=code, name="店招店牌设置（市区联办）", department_id=dept, decision="all_must_approve",
                parts=[{"item_code": LOCAL_PART}, {"item_code": remote, "node": node}], issues_license=False)
    ctx.run(SYSTEM, catalog.publish_item, data)


def accept(api: Any, item: str = LINKED, expect: int = 201) -> Any:
    mats = [{"material_code": m, "upload_id": api.upload(k, m)} for m, k in SIGN_MATERIALS.items()]
    r = api.post("/api/v1/cases", {"item_code": item, "applicant": {"name": "张三明", "id_number": ID_NUMBER,
                                                                    "phone": "13912345678"},
                                   "materials": mats, "form": FORM, "accept": True, "green_channel": True}, "clerk")
    assert r.status_code == expect, r.json
    return r.json



def sync(fed: Any, *nodes: str, rounds: int = 1) -> None:
    """``rounds`` of each named child's uplink to the city (pushes its log, pulls what is addressed below)."""
    async def run() -> None:
        city, caddr = await start(fed, CITY)
        try:
            for _ in range(rounds):
                for n in nodes:
                    await uplink(fed, n, caddr).sync_once()
        finally:
            await city.stop(None)

    asyncio.run(run())


def linked_cases(fed: Any) -> list[Case]:
    with fed.ctxs[CITY].factory() as s:
        return list(s.scalars(select(Case).where(Case.linked_from.is_not(None)).execution_options(all_tenants=True)))


def sent(fed: Any, node: str, kind: str) -> list[tuple[str, str | None]]:
    with fed.ctxs[node].factory() as s:
        return [(r.state, r.code) for r in s.scalars(select(FedAddressed).where(
            FedAddressed.direction == "out", FedAddressed.kind == kind).order_by(FedAddressed.seq))]


def alerts(fed: Any, node: str) -> set[str]:
    with fed.ctxs[node].factory() as s:
        return {a.kind for a in s.scalars(select(Alert))}


def remote_row(fed: Any, joint_code: str) -> CasePart:
    with fed.ctxs[DISTRICT].factory() as s:
        jid = s.scalar(select(Case.id).where(Case.code == joint_code).execution_options(all_tenants=True))
        return s.scalar(select(CasePart).where(CasePart.joint_case_id == jid, CasePart.remote_node.is_not(None))
                        .execution_options(all_tenants=True))


def test_a_city_part_is_dispatched_worked_at_the_city_and_concludes_the_joint_case(fed):  # type: ignore[no-untyped-def]
    publish_linked(fed)
    district, city = county_api(fed, DISTRICT), county_api(fed, CITY)
    j = accept(district)
    local, remote = j["joint"]["parts"]
    assert local["remote_node"] is None and local["status"] == "in_progress"
    assert remote["remote_node"] == CITY and remote["status"] == "submitted" and remote["code"] is None
    assert remote["link"]["state"] == "waiting" and remote["link"]["text"].startswith(f"等待 {CITY} 接收")
    assert sent(fed, DISTRICT, "part_dispatch") == [("sent", None)]

    sync(fed, DISTRICT)  # up: the city applies the dispatch, acks it and reports the acceptance
    [lc] = linked_cases(fed)
    assert lc.linked_from == f"{DISTRICT}:{j['code']}:2" and lc.status == "in_progress" and lc.green_channel
    assert lc.item_code == REMOTE_PART and lc.applicant_id_number == ID_NUMBER and lc.form == FORM
    c = city.case(lc.code, "gh-handler")  # in the city department's queue, through the city's API
    assert c["part_of"] == {"joint_code": j["code"], "part_no": 2, "origin": DISTRICT}
    assert lc.code in [x["code"] for x in city.get("/api/v1/cases", "gh-handler").json["items"]]

    sync(fed, DISTRICT)  # down: the ack and the progress
    view = district.case(j["code"])
    remote = view["joint"]["parts"][1]
    assert remote["link"]["state"] == "received" and remote["link"]["text"] == f"{CITY} 已接收"
    assert remote["status"] == "in_progress" and remote["code"] == lc.code and remote["deadline"]
    assert sent(fed, DISTRICT, "part_dispatch") == [("acked", None)]
    # the district's window page shows the city's part where it is worked and how far it got
    from node.api import create_app
    from tests.support import ui_sign_in

    ui = create_app(ctx=fed.ctxs[DISTRICT]).test_client()
    ui_sign_in(ui, "clerk")
    html = ui.get(f"/staff/window/cases/{j['code']}").get_data(as_text=True)
    assert f"{CITY} 节点办理" in html and f"{CITY} 已接收" in html and lc.code in html and "对方最新进度" in html

    run_part(city, lc.code, "gh")
    run_part(district, local["code"], "cgj")
    assert district.case(j["code"])["status"] == "in_progress"  # the city's result has not come back yet
    sync(fed, DISTRICT, rounds=2)
    done = district.case(j["code"])
    assert done["status"] == "concluded" and done["result"] == "approved", done
    r = done["joint"]["parts"][1]
    assert r["status"] == "concluded" and r["result"] == "approved" and r["progress"]["event"] == "conclude"
    # the public lookup shows the remote part with its node and status
    lookup = district.post(f"/api/v1/public/cases/{j['code']}/lookup", {"id_last4": ID_NUMBER[-4:]})
    assert lookup.status_code == 200, lookup.json
    pr = lookup.json["joint"]["parts"][1]
    assert pr["remote_node"] == CITY and pr["status"] == "concluded" and pr["link"]["state"] == "received"
    public = create_app(ctx=fed.ctxs[DISTRICT]).test_client()
    form = public.get(f"/track?code={j['code']}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    page = public.post("/track", data={"code": j["code"], "id_last4": ID_NUMBER[-4:],
                                       **({"csrf_token": token.group(1)} if token else {})}).get_data(as_text=True)
    assert f"市级（{CITY}）办理" in page  # the applicant's track page says which level works the part
    # both sides agree, nothing dispatched twice, one joint notification
    assert sent(fed, DISTRICT, "part_dispatch") == [("acked", None)]
    assert [x[0] for x in sent(fed, CITY, "part_progress")] == ["acked"] * 4
    assert sent(fed, CITY, "part_result") == [("acked", None)]
    [lc] = linked_cases(fed)
    assert (lc.status, lc.result) == ("concluded", "approved") == (r["status"], r["result"])
    with fed.ctxs[DISTRICT].factory() as s:
        jid = s.scalar(select(Case.id).where(Case.code == j["code"]).execution_options(all_tenants=True))
        kinds = [n.template for n in s.scalars(select(Notification).where(Notification.case_id == jid))]
    assert kinds.count("joint_concluded") == 1

    # one timeline upward: the city's library holds the joint case and its parts, each with its channel
    lib = city.get(f"/api/v1/library/cases?joint_code={j['code'].lower()}", "inspector")
    assert lib.status_code == 200, lib.json
    rows = {x["part_no"]: x for x in lib.json["items"]}
    assert set(rows) == {0, 1, 2}, rows
    assert rows[0]["service_code"] == j["code"] and rows[1]["service_code"] == local["code"]
    assert rows[2]["service_code"] == lc.code and rows[2]["origin"] == CITY
    assert {x["joint_code"] for x in rows.values()} == {j["code"]}
    assert rows[0]["channel"] == "window" and all(x["status"] == "concluded" for x in rows.values())
    bad = city.get("/api/v1/library/cases?channel=fax", "inspector")
    assert bad.status_code == 422 and "channel" in str(bad.json)

    # a replay: the district pulls everything again from the start -- nothing applied twice
    with fed.ctxs[DISTRICT].factory() as s:
        s.get(FedDownCursor, CITY).after_id = 0
        s.commit()
    sync(fed, DISTRICT)
    assert district.case(j["code"])["joint"]["parts"][1]["status"] == "concluded"
    assert len(linked_cases(fed)) == 1 and sent(fed, CITY, "part_result") == [("acked", None)]

    # a second result for the concluded part is refused there (part_concluded), the joint case unchanged
    fed.ctxs[CITY].run(SYSTEM, send_message, DISTRICT, "part_result", {"status": "concluded", "result": "denied"},
                       subject=j["code"], part=2)
    sync(fed, DISTRICT, rounds=2)
    assert sent(fed, CITY, "part_result")[-1] == ("refused", "part_concluded")
    assert "part_concluded" in alerts(fed, DISTRICT)
    assert district.case(j["code"])["result"] == "approved"


def test_refusals_item_not_owned_unknown_part_not_the_owner(fed):  # type: ignore[no-untyped-def]
    publish_linked(fed, "330105-LB-CG-008", remote="330100-XK-ZZ-999")  # the city has no such item
    publish_linked(fed)
    district = county_api(fed, DISTRICT)
    bad = accept(district, "330105-LB-CG-008")
    good = accept(district)
    sync(fed, DISTRICT, rounds=2)
    assert sent(fed, DISTRICT, "part_dispatch") == [("refused", "item_not_owned"), ("acked", None)]
    assert "item_not_owned" in alerts(fed, CITY)
    part = district.case(bad["code"])["joint"]["parts"][1]
    assert part["link"]["state"] == "refused" and "item_not_owned" in part["link"]["text"]
    assert district.case(bad["code"])["status"] == "in_progress" and part["status"] == "submitted"  # unchanged
    assert len(linked_cases(fed)) == 1

    # a report about a part never dispatched, and one from a node the part was not dispatched to
    fed.ctxs[CITY].run(SYSTEM, send_message, DISTRICT, "part_progress", {"status": "in_progress"},
                       subject=good["code"], part=1)  # part 1 is local
    fed.ctxs[CITY].run(SYSTEM, send_message, DISTRICT, "part_progress", {"status": "in_progress"},
                       subject="330105000000000000", part=2)
    fed.ctxs[EAST].run(SYSTEM, send_message, DISTRICT, "part_result", {"status": "concluded", "result": "approved"},
                       subject=good["code"], part=2)
    sync(fed, EAST, DISTRICT, EAST, rounds=2)
    assert [c for _, c in sent(fed, CITY, "part_progress")][-2:] == ["unknown_part", "unknown_part"]
    assert sent(fed, EAST, "part_result") == [("refused", "not_part_owner")]
    assert {"unknown_part", "not_part_owner"} <= alerts(fed, DISTRICT)
    row = remote_row(fed, good["code"])
    assert row.status == "in_progress" and row.result is None  # the city's own progress only


def test_a_dispatch_to_an_unknown_or_revoked_node_is_refused_at_acceptance(fed):  # type: ignore[no-untyped-def]
    publish_linked(fed, "330105-LB-CG-007", node="330199")
    publish_linked(fed, "330105-LB-CG-006", node=EAST)
    district = county_api(fed, DISTRICT)

    def count() -> int:
        with fed.ctxs[DISTRICT].factory() as s:
            return s.scalar(select(func.count()).select_from(Case).execution_options(all_tenants=True)) or 0

    before = count()
    r = accept(district, "330105-LB-CG-007", expect=409)
    assert "parts[1].node" in r["errors"]["json"] and "330199" in r["message"], r
    province = load_identity(fed["330000"].data_dir)
    now = datetime.now(timezone.utc)
    revoke(province, EAST, None, now - timedelta(seconds=1))
    install_directory(load_identity(fed[DISTRICT].data_dir), publish_directory(province, now))
    r = accept(district, "330105-LB-CG-006", expect=409)
    assert "parts[1].node" in r["errors"]["json"] and "revoked" in r["message"], r
    assert count() == before  # nothing written (the submission either)
    with fed.ctxs[DISTRICT].factory() as s:
        assert s.scalars(select(FedAddressed)).all() == []


def test_a_remote_part_denied_denies_the_joint_case(fed):  # type: ignore[no-untyped-def]
    publish_linked(fed)
    district, city = county_api(fed, DISTRICT), county_api(fed, CITY)
    j = accept(district)
    sync(fed, DISTRICT)
    [lc] = linked_cases(fed)
    run_part(city, lc.code, "gh", deny=True)
    run_part(district, j["joint"]["parts"][0]["code"], "cgj")
    sync(fed, DISTRICT)
    done = district.case(j["code"])
    assert (done["status"], done["result"]) == ("concluded", "denied")
    p = done["joint"]["parts"][1]
    assert p["result"] == "denied" and p["progress"]["reason"] == "设置位置不符合规划"
