"""Joint cases in one hall (联办件, 并联审批), bundles (一件事/一表式), joint stages (联合踏勘), the green
channel and the free agent — through the API, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from node.persistence.models import Case, CasePart, Notification, StageSignoff
from tests.support import ID_NUMBER, SIGN_FORM, SIGN_MATERIALS, run_part

SIGN_BUNDLE = "330105-LB-CG-001"  # 店招店牌: cgj + scjg + jj + gh, all_must_approve
OPENING = "330105-LB-SJ-001"  # 企业开办: independent
HOUSE = "330105-LB-KQ-001"  # 农村村民住宅建房: town review + planning (with 联合踏勘)
PART_DEPTS = ["cgj", "scjg", "jj", "gh"]


def materials(api: Any, kinds: dict[str, str], tag: str = "") -> list[dict[str, str]]:
    return [{"material_code": m, "upload_id": api.upload(k, m + tag)} for m, k in kinds.items()]


def accept_bundle(api: Any, item: str = SIGN_BUNDLE, form: dict[str, str] | None = None, expect: int = 201,
                  kinds: dict[str, str] | None = None, **extra: Any) -> Any:
    body = {"item_code": item, "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"},
            "materials": materials(api, kinds or SIGN_MATERIALS), "form": SIGN_FORM if form is None else form,
            "accept": True, **extra}
    r = api.post("/api/v1/cases", body, "clerk")
    assert r.status_code == expect, r.json
    return r.json


def part_codes(case: dict[str, Any]) -> list[str]:
    return [p["code"] for p in case["joint"]["parts"]]



def count(ctx: Any, model: Any, *where: Any) -> int:
    with ctx.factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def notes(ctx: Any, case_code: str) -> list[Notification]:
    with ctx.factory() as s:
        cid = s.scalar(select(Case.id).where(Case.code == case_code))
        return list(s.scalars(select(Notification).where(Notification.case_id == cid).order_by(Notification.id)))


def test_bundle_accepted_once_parts_run_in_their_departments_and_conclude_together(api, ctx):
    j = accept_bundle(api, green_channel=True)
    assert j["status"] == "in_progress" and j["green_channel"] is True and j["allowed_events"] == ["withdraw"]
    parts = j["joint"]["parts"]
    assert [p["part_no"] for p in parts] == [1, 2, 3, 4] and len(set(part_codes(j))) == 4
    assert all(p["status"] == "in_progress" and p["deadline"] for p in parts)
    # the joint deadline is the longest part's (规划: 7 working days), not the sum
    assert j["promised_deadline"] == max(p["deadline"] for p in parts)
    assert j["joint"]["status"] == "in_progress"
    # each part is a case of its own department, with the form mapped from the merged one
    gh = api.case(parts[3]["code"], "gh-handler")
    assert gh["item_code"] == "330105-XK-GH-001" and gh["part_of"] == {"joint_code": j["code"], "part_no": 4}
    assert gh["form"] == {"shop_name": "拱墅老字号面馆", "address": "杭州市拱墅区湖墅南路1号", "size": "6×1.2"}
    assert api.case(parts[1]["code"], "scjg-handler")["form"] == {"trade_name": "拱墅老字号面馆",
                                                                  "address": "杭州市拱墅区湖墅南路1号"}
    assert gh["green_channel"] is True  # inherited
    # a department's queue holds its own part only; acting on another department's part is refused (403)
    q = api.get("/api/v1/cases", "jj-handler").json
    assert [c["code"] for c in q["items"]] == [parts[2]["code"]]
    r = api.post(f"/api/v1/cases/{parts[0]['code']}/transitions", {"event": "undertake", "version": 2},
                 "jj-handler")
    assert r.status_code == 403, r.json
    # the joint case itself is not worked by hand
    r = api.post(f"/api/v1/cases/{j['code']}/transitions", {"event": "undertake", "version": j["version"]}, "clerk")
    assert r.status_code == 409, r.json
    for code, dept in zip(part_codes(j), PART_DEPTS[:3]):
        run_part(api, code, dept)
    assert api.case(j["code"])["status"] == "in_progress"
    assert [n.template for n in notes(ctx, j["code"])] == ["submitted", "accepted"]
    last = run_part(api, parts[3]["code"], "gh")
    assert last["status"] == "concluded"
    done = api.case(j["code"])
    assert done["status"] == "concluded" and done["result"] == "approved" and done["joint"]["status"] == "concluded"
    assert [p["result"] for p in done["joint"]["parts"]] == ["approved"] * 4
    # one notification for the results, none per part
    assert [n.template for n in notes(ctx, j["code"])] == ["submitted", "accepted", "joint_concluded"]
    assert all(notes(ctx, c) == [] for c in part_codes(j))
    # the merged timeline has every part's steps and the joint case's, in time order
    tl = done["joint"]["timeline"]
    assert {s["part_no"] for s in tl} == {0, 1, 2, 3, 4}
    assert tl[-1]["event"] == "conclude_joint" and sum(s["event"] == "conclude" for s in tl) == 4
    # a part concluded twice: 409
    api.fire(parts[3]["code"], "conclude", "clerk", expect=409)
    # the public lookup shows the joint case with all its parts, nothing personal of the staff
    r = api.post(f"/api/v1/public/cases/{j['code']}/lookup", {"id_last4": ID_NUMBER[-4:]})
    assert r.status_code == 200, r.json
    pub = r.json["joint"]
    assert [p["code"] for p in pub["parts"]] == part_codes(j) and "actor" not in pub["timeline"][0]
    assert r.json["applicant_name"] != "张三明"


def test_all_must_approve_one_denial_refuses_the_whole(api, ctx):
    j = accept_bundle(api)
    codes = part_codes(j)
    run_part(api, codes[0], "cgj")
    run_part(api, codes[1], "scjg", deny=True)
    run_part(api, codes[2], "jj")
    assert api.case(j["code"])["status"] == "in_progress"
    run_part(api, codes[3], "gh")
    done = api.case(j["code"])
    assert done["status"] == "concluded" and done["result"] == "denied"
    assert "不予许可" in notes(ctx, j["code"])[-1].body


def test_independent_bundle_keeps_each_result(api, ctx):
    kinds = {"application": "pdf", "articles": "pdf", "officers": "pdf", "premises": "pdf", "seal-sample": "png"}
    form = {"company_name": "杭州拱墅示例科技有限公司", "legal_rep": "张三明", "address": "拱墅区湖墅南路1号",
            "registered_capital": "100", "business_scope": "软件开发"}
    j = accept_bundle(api, OPENING, form=form, kinds=kinds)
    codes = part_codes(j)
    assert len(codes) == 5
    assert api.case(codes[1], "ga-handler")["form"] == {"org_name": "杭州拱墅示例科技有限公司", "legal_rep": "张三明"}
    for i, (code, dept) in enumerate(zip(codes, ["scjg", "ga", "scjg", "sw", "sw"])):
        run_part(api, code, dept, deny=(i == 1))
    done = api.case(j["code"])
    assert done["status"] == "concluded" and done["result"] == "partial"
    assert [p["result"] for p in done["joint"]["parts"]] == ["approved", "denied", "approved", "approved", "approved"]


def test_merged_form_missing_a_required_field_is_named_and_nothing_written(api, ctx):
    before = count(ctx, Case)
    r = accept_bundle(api, form={"address": "x", "size": "1×1"}, expect=422)
    assert "form.shop_name" in r["errors"]["json"], r
    # online too (the applicant fills the form once)
    body = {"item_code": SIGN_BUNDLE, "applicant": {"name": "张三明", "id_number": ID_NUMBER},
            "materials": materials(api, SIGN_MATERIALS, "b"), "form": {"shop_name": " "}}
    r = api.post("/api/v1/public/applications", body)
    assert r.status_code == 422 and "form.shop_name" in r.json["errors"]["json"], r.json
    assert count(ctx, Case) == before and count(ctx, CasePart) == 0


def test_acceptance_with_an_inactive_part_item_is_refused_and_nothing_written(api, ctx):
    r = api.post("/api/v1/items/330105-XK-JJ-001/status", {"status": "suspended"}, "jj-chief")
    assert r.status_code == 200, r.json
    before = count(ctx, Case)
    r = accept_bundle(api, expect=409)
    assert "parts[2].item_code" in r["errors"]["json"] and "330105-XK-JJ-001" in r["message"], r
    assert count(ctx, Case) == before and count(ctx, CasePart) == 0
    # submitted online, then accepted later: the same refusal, the case stays submitted
    code = api.post("/api/v1/public/applications", {
        "item_code": SIGN_BUNDLE, "applicant": {"name": "张三明", "id_number": ID_NUMBER},
        "materials": materials(api, SIGN_MATERIALS, "c"), "form": SIGN_FORM}).json["code"]
    api.fire(code, "accept", "clerk", expect=409)
    assert api.case(code)["status"] == "submitted" and count(ctx, CasePart) == 0


def _joint_item(**kw: Any) -> dict[str, Any]:
    base = {"code": "330105-LB-CG-099", "name": "测试联办", "kind": "joint", "legal_limit_days": 20,
            "promised_limit_days": 5, "decision": "all_must_approve",
            "parts": [{"item_code": "330105-XK-CG-001"}, {"item_code": "330105-XK-JJ-001"}],
            "stages": [{"kind": "accept", "time_limit_days": 1, "role": "clerk"},
                       {"kind": "undertake", "time_limit_days": 0, "role": "handler"},
                       {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}]}
    base.update(kw)
    return base


def test_publishing_a_joint_item_checks_its_parts(api):
    cases = [
        ({"parts": [{"item_code": "330105-XK-CG-001"}, {"item_code": "330105-XK-NO-404"}]}, "parts[1].item_code"),
        ({"parts": [{"item_code": "330105-XK-CG-001"}, {"item_code": SIGN_BUNDLE}]}, "parts[1].item_code"),
        ({"parts": [{"item_code": "330105-XK-CG-001"}, {"item_code": "330105-XK-CG-001"}]}, "parts[1].item_code"),
        ({"parts": [{"item_code": "330105-XK-CG-001"}]}, "parts"),
        ({"decision": None}, "decision"),
        ({"fields": [{"name": "a", "label": "甲", "maps_to": [{"part": "330105-XK-GH-001", "field": "x"}]}]},
         "fields[0].maps_to[0].part"),
        ({"kind": "promised"}, "parts"),
    ]
    for change, field in cases:
        body = _joint_item(**change)
        if body.get("decision") is None:
            body.pop("decision")
        r = api.post("/api/v1/items", body, "cgj-chief")
        assert r.status_code == 422 and field in r.json["errors"]["json"], (change, r.json)
    r = api.post("/api/v1/items", _joint_item(), "cgj-chief")
    assert r.status_code == 201 and r.json["parts"][1]["item_code"] == "330105-XK-JJ-001", r.json


def test_joint_site_inspection_each_listed_department_signs_once(api, ctx):
    kinds = {"application": "pdf", "id": "pdf", "household": "pdf", "village-opinion": "pdf", "site-plan": "pdf"}
    j = accept_bundle(api, HOUSE, form={}, kinds=kinds)
    town, planning = part_codes(j)
    api.fire(planning, "undertake", "gh-handler", opinion="材料齐全")
    c = api.case(planning, "gh-handler")
    assert c["stage"]["kind"] == "joint_inspection" and "sign_off" in c["allowed_events"]
    url = f"/api/v1/cases/{planning}/stages/2/signoffs"
    # firing the stage's event before everyone signed: 409 naming who is missing
    r = api.post(f"/api/v1/cases/{planning}/transitions", {"event": "sign_off", "version": c["version"]},
                 "gh-reviewer")
    assert r.status_code == 409 and r.json["pending"] == ["kq", "gh"], r.json
    assert api.post(url, {"opinion": "同意"}, "cgj-reviewer").status_code == 403  # not listed
    assert api.post(url, {"opinion": "同意"}, "kq-handler").status_code == 403  # listed, wrong role
    assert api.post(f"/api/v1/cases/{planning}/stages/1/signoffs", {"opinion": "x"}, "kq-reviewer").status_code == 422
    r = api.post(url, {"opinion": "现场踏勘符合村庄规划"}, "kq-reviewer")
    assert r.status_code == 201, r.json
    assert api.post(url, {"opinion": "再签"}, "kq-chief").status_code == 409  # same department twice
    assert api.case(planning)["stage"]["kind"] == "joint_inspection"
    r = api.post(url, {"opinion": "同意"}, "gh-reviewer")
    assert r.status_code == 201, r.json
    c = api.case(planning)
    assert c["stage"]["kind"] == "approve"
    assert [(s["department"], s["opinion"]) for s in c["signoffs"]] == [("kq", "现场踏勘符合村庄规划"), ("gh", "同意")]
    assert count(ctx, StageSignoff) == 2
    assert c["transitions"][-1]["event"] == "sign_off"
    # sent back from approval to the inspection: it is signed anew
    api.fire(planning, "send_back", "gh-approver", reason="踏勘意见不完整")
    assert api.case(planning)["signoffs"] == [] and count(ctx, StageSignoff) == 0
    for user in ("kq-reviewer", "gh-reviewer"):
        assert api.post(url, {"opinion": "复核同意"}, user).status_code == 201
    run_part(api, town, "kq")
    api.fire(planning, "approve", "gh-approver")
    api.fire(planning, "conclude", "clerk")
    assert api.case(j["code"])["result"] == "approved"


def test_a_part_supplement_moves_the_joint_deadline(api, ctx, clock):
    j = accept_bundle(api)
    codes = part_codes(j)
    longest = max(j["joint"]["parts"], key=lambda p: p["deadline"])
    code = longest["code"]
    dept = PART_DEPTS[longest["part_no"] - 1]
    assert dept == "gh"  # 规划: the longest part (7 working days)
    api.fire(code, "request_supplement", f"{dept}-handler", reason="缺位置图",
             missing=[{"material_code": "site-plan", "name": "位置图"}])
    assert api.case(j["code"])["joint"]["status"] == "supplementing"
    assert [n.template for n in notes(ctx, code)] == ["supplement"]  # the applicant must act: told
    clock.advance(days=7)  # Monday → Monday: 5 working days stopped
    up = api.upload("pdf", "again")
    api.fire(code, "supply", "clerk", materials=[{"material_code": "site-plan", "upload_id": up}])
    after = api.case(j["code"])
    moved = next(p for p in after["joint"]["parts"] if p["code"] == code)["deadline"]
    assert moved > longest["deadline"] and after["promised_deadline"] == moved
    assert after["joint"]["status"] == "in_progress"
    assert codes


def test_a_local_part_is_supplied_at_the_joint_case(api):
    """The applicant holds the joint case's code: a part worked in this hall that asks for a
    material is supplied there too (as its own case); a part not waiting is refused."""
    j = accept_bundle(api)
    part = next(p for p in j["joint"]["parts"] if p["part_no"] == 4)
    api.fire(part["code"], "request_supplement", "gh-handler", reason="缺位置图",
             missing=[{"material_code": "site-plan", "name": "位置图"}])
    url = f"/api/v1/public/cases/{j['code']}/parts"
    up = api.upload("pdf", "site-plan-again")
    mats = [{"material_code": "site-plan", "upload_id": up}]
    r = api.post(f"{url}/1/supply", {"id_last4": ID_NUMBER[-4:], "materials": mats})
    assert r.status_code == 409, r.json  # part 1 is not waiting for anything
    r = api.post(f"{url}/4/supply", {"id_last4": ID_NUMBER[-4:], "materials": mats})
    assert r.status_code == 200, r.json
    after = api.case(part["code"], "gh-handler")
    assert after["status"] == "in_progress" and after["transitions"][-1]["event"] == "supply"
    assert api.case(j["code"])["joint"]["status"] == "in_progress"


def test_green_channel_first_and_the_agent_sees_every_part(api, ctx):
    plain = api.apply_online()
    agent_id = api.get("/api/v1/auth/me", "agent-kq").json["id"]
    j = accept_bundle(api, green_channel=True, agent_staff_id=agent_id)
    later = api.apply_online()
    q = api.get("/api/v1/cases", "clerk").json["items"]
    greens = [c["green_channel"] for c in q]
    assert greens == sorted(greens, reverse=True) and q[0]["green_channel"]
    assert {c["code"] for c in q if not c["green_channel"]} >= {plain, later}
    seen = {c["code"] for c in api.get("/api/v1/cases", "agent-kq").json["items"]}
    assert seen >= {j["code"], *part_codes(j)}
    assert plain not in seen
    # the agent supplies for a part on the applicant's behalf
    code = part_codes(j)[0]
    api.fire(code, "request_supplement", "cgj-handler", reason="缺设计图",
             missing=[{"material_code": "design", "name": "设计效果图"}])
    up = api.upload("pdf", "agent-design")
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "supply", "version": api.case(code)["version"],
                                                       "materials": [{"material_code": "design", "upload_id": up}]},
                 "agent-kq")
    assert r.status_code == 200 and r.json["status"] == "in_progress", r.json
    # only the window sets them; a handler cannot
    r = api.post("/api/v1/cases", {"item_code": SIGN_BUNDLE, "applicant": {"name": "李四", "id_number": ID_NUMBER},
                                   "materials": [], "form": SIGN_FORM, "green_channel": True}, "clerk")
    assert r.status_code == 422 and "green_channel" in r.json["errors"]["json"], r.json


def test_concurrent_conclusions_of_the_last_two_parts_conclude_once(pg_url, tmp_path, clock):
    """PostgreSQL: the last two parts concluded at the same moment; the joint case concludes
    exactly once, with one notification (its row is locked before the parts are read)."""
    from node.api import create_app
    from node.config import Settings
    from node.domain.lifecycle import Actor, Event
    from node.domain.roles import Role
    from node.persistence.models import CaseTransition, Staff
    from node.services import cases
    from node.services.context import NodeContext
    from tests.support import Client

    ctx = NodeContext.build(Settings.from_env({}, database_url=pg_url, data_dir=tmp_path / "d",
                                              token_ttl_hours=24 * 365), clock=clock.now)
    try:
        api = Client(create_app(ctx=ctx).test_client())
        with ctx.factory() as s:
            clerk = Actor("staff", s.scalar(select(Staff.id).where(Staff.username == "clerk")), Role.CLERK)
        for _ in range(3):
            j = accept_bundle(api)
            codes = part_codes(j)
            for code, dept in zip(codes[:2], PART_DEPTS[:2]):
                run_part(api, code, dept)
            for code, dept in zip(codes[2:], PART_DEPTS[2:]):
                api.fire(code, "undertake", f"{dept}-handler", opinion="ok")
                api.fire(code, "review", f"{dept}-reviewer")
                api.fire(code, "approve", f"{dept}-approver")
            start = threading.Barrier(2)
            errors: list[BaseException] = []

            def conclude(code: str) -> None:
                start.wait()
                try:
                    ctx.run(clerk, cases.transition_case, code, Event.CONCLUDE, None)
                except BaseException as e:  # noqa: BLE001
                    errors.append(e)

            threads = [threading.Thread(target=conclude, args=(c,)) for c in codes[2:]]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            done = api.case(j["code"])
            assert done["status"] == "concluded" and done["result"] == "approved"
            with ctx.factory() as s:
                jid = s.scalar(select(Case.id).where(Case.code == j["code"]))
                assert s.scalar(select(func.count()).select_from(CaseTransition).where(
                    CaseTransition.case_id == jid, CaseTransition.event == "conclude_joint")) == 1
            assert [n.template for n in notes(ctx, j["code"])].count("joint_concluded") == 1
    finally:
        ctx.engine.dispose()


def test_signed_events_link_parts_to_their_joint_case_and_the_audit_replays(api, ctx):
    """Each part's signed CaseEvent carries the joint case's code and its part number (the joint
    case's own: its code, part 0); every row written on the way replays against the audit chain."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from federation.envelope import Signer, parse
    from federation.plugin import attach
    from node.persistence.models import FedRecord
    from node.services.admin import verify_audit

    key = Ed25519PrivateKey.generate()
    attach(ctx, Signer("330105", "k1", key.sign), b"province-wide-test-key")
    j = accept_bundle(api)
    codes = part_codes(j)
    for code, dept in zip(codes, PART_DEPTS):
        run_part(api, code, dept)
    with ctx.factory() as s:
        evs = [parse(bytes(r.body), bytes(r.signature)).msg.case_event
               for r in s.scalars(select(FedRecord).order_by(FedRecord.seq))]
    mine = [(e.service_code, e.event, e.joint_code, e.part_no) for e in evs]
    assert (j["code"], "submit", j["code"], 0) in mine and (j["code"], "conclude_joint", j["code"], 0) in mine
    for no, code in enumerate(codes, 1):
        assert [(e, jc, p) for c, e, jc, p in mine if c == code] == [
            ("submit", j["code"], no), ("accept", j["code"], no), ("undertake", j["code"], no),
            ("review", j["code"], no), ("approve", j["code"], no), ("conclude", j["code"], no)]
    report = verify_audit(ctx)
    assert report.ok and not report.differences, report
