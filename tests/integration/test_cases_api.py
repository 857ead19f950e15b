"""The node's REST API end to end, on SQLite and PostgreSQL."""
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from node.persistence.models import AuditEntry, Case, CaseMaterial, Notification
from node.services.admin import verify_audit
from node.services.context import CST
from tests.support import ID_NUMBER, SIGN_ITEM

pytestmark = pytest.mark.integration


def count(ctx, model):
    with ctx.factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_incomplete_application_lists_everything_missing_at_once_and_writes_nothing(api, ctx):
    ups = [api.upload(), api.upload("pdf"), api.upload()]
    before = (count(ctx, Case), count(ctx, AuditEntry))
    r = api.post("/api/v1/public/applications", {
        "item_code": SIGN_ITEM, "applicant": {"name": "张三明", "id_number": ID_NUMBER},
        "materials": [{"material_code": "application", "upload_id": ups[0]},
                      {"material_code": "site-photo", "upload_id": ups[1]},
                      {"material_code": "nonsense", "upload_id": ups[2]}],
        "conditional_materials": ["biz-license"]})
    assert r.status_code == 422
    notice = r.json["notice"]
    assert sorted(m["material_code"] for m in notice["missing"]) == ["biz-license", "design", "id", "owner-consent", "site-photo"]
    assert {i["material_code"] for i in notice["invalid"]} == {"site-photo", "nonsense"}
    assert r.json["errors"]["json"]["materials"]
    assert (count(ctx, Case), count(ctx, AuditEntry)) == before


def test_deadlines_are_working_days_and_supplement_stops_the_clock(api, clock):
    clock.set(datetime(2026, 9, 28, 10, 0, tzinfo=CST))  # Monday before National Day
    code = api.apply_online()
    c = api.fire(code, "accept", "clerk")
    # promised 5 working days from Mon 28 Sep: 29, 30, Oct 8, 9, 10 (Saturday make-up day)
    assert c["promised_deadline"] == "2026-10-10"
    assert c["legal_deadline"] == "2026-10-30"
    assert c["stage_deadline"] == "2026-09-30"  # undertake: 2 working days
    clock.set(datetime(2026, 9, 29, 10, 0, tzinfo=CST))
    c = api.fire(code, "request_supplement", "cgj-handler", reason="效果图不清晰",
                 missing=[{"material_code": "design", "name": "店招店牌设计效果图"}])
    assert c["status"] == "supplementing" and c["allowed_events"] == ["supply", "withdraw"]
    # supplied on Fri 9 Oct: the clock stood still for the working days Sep 30, Oct 8 and Oct 9
    clock.set(datetime(2026, 10, 9, 15, 0, tzinfo=CST))
    r = api.post(f"/api/v1/public/cases/{code}/supply",
                 {"id_last4": "002x", "materials": [{"material_code": "design", "upload_id": api.upload(tag="v2")}]})
    assert r.status_code == 200, r.json
    c = api.case(code)
    assert c["status"] == "in_progress" and c["stage"]["kind"] == "undertake"
    assert c["paused_days"] == 3
    assert c["promised_deadline"] == "2026-10-14" and c["stage_deadline"] == "2026-10-10"
    assert len([m for m in c["materials"] if m["material_code"] == "design"]) == 2


def test_illegal_transition_is_409_with_allowed_list_and_changes_nothing(api, ctx):
    code = api.apply_online()
    audit_before = count(ctx, AuditEntry)
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "approve", "version": 1}, "cgj-approver")
    assert r.status_code == 409
    assert r.json["allowed_transitions"] == ["accept", "refuse", "request_supplement", "withdraw"]
    assert count(ctx, AuditEntry) == audit_before
    assert api.case(code)["version"] == 1


def test_stale_version_is_409(api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk", version=1)
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "refuse", "version": 1, "reason": "x"}, "clerk")
    assert r.status_code == 409 and r.json["errors"]["json"]["version"] and r.json["current_version"] == 2


def test_wrong_role_is_403(api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "undertake", "version": 2}, "cgj-reviewer")
    assert r.status_code == 403 and "handler" in r.json["message"]


def test_tenants_are_isolated_at_the_data_layer(api, ctx):
    code = api.apply_online()
    assert api.get(f"/api/v1/cases/{code}", "jj-handler").status_code == 404
    assert api.get("/api/v1/cases", "jj-handler").json["total"] == 0
    assert api.get("/api/v1/cases", "cgj-handler").json["total"] == 1
    assert api.get("/api/v1/cases", "inspector").json["total"] == 1
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "accept", "version": 1}, "jj-chief")
    assert r.status_code == 404
    # the isolation lives in the session, not in the route: a raw ORM query sees nothing either
    from node.domain.lifecycle import Actor
    from node.domain.roles import Role
    with ctx.uow(Actor("staff", 99, Role.HANDLER, department_id=3)) as uow:
        assert uow.session.scalars(select(Case)).all() == []
        assert uow.session.scalars(select(CaseMaterial)).all() == []


def test_agent_submits_for_villager_and_sees_only_own_point(api):
    mats = api.sign_materials()
    r = api.post("/api/v1/cases", {"item_code": SIGN_ITEM, "materials": mats,
                                   "applicant": {"name": "周村民", "id_number": ID_NUMBER}}, "agent-kq")
    assert r.status_code == 201, r.json
    assert r.json["channel"] == "agent" and r.json["service_point_id"] is not None
    api.apply_online()
    assert api.get("/api/v1/cases", "agent-kq").json["total"] == 1
    assert api.get("/api/v1/cases", "clerk").json["total"] == 2


def test_window_accepts_on_submission(api, ctx):
    r = api.post("/api/v1/cases", {"item_code": SIGN_ITEM, "materials": api.sign_materials(), "accept": True,
                                   "applicant": {"name": "王五", "id_number": ID_NUMBER, "phone": "13700000000"}},
                 "clerk")
    assert r.status_code == 201 and r.json["status"] == "in_progress" and r.json["channel"] == "window"
    assert [t["event"] for t in r.json["transitions"]] == ["submit", "accept"]
    assert len(ctx.dispatched) == 2  # submitted + accepted


def test_an_acceptance_refused_at_the_window_leaves_no_case_behind(api, ctx):
    """Submission and acceptance at the window are one unit of work: all of it or none of it."""
    item = api.get(f"/api/v1/catalog/items/{SIGN_ITEM}").json
    stages = [{k: s[k] for k in ("kind", "name", "time_limit_days", "role")} for s in item["stages"]]
    stages[0]["role"] = "handler"  # this department accepts through its handler, not the window clerk
    r = api.put(f"/api/v1/items/{SIGN_ITEM}", {"version": item["version"], "stages": stages}, "admin")
    assert r.status_code == 200, r.json
    before = (count(ctx, Case), count(ctx, CaseMaterial), count(ctx, Notification), count(ctx, AuditEntry))
    body = {"item_code": SIGN_ITEM, "materials": api.sign_materials(), "accept": True,
            "applicant": {"name": "王五", "id_number": ID_NUMBER, "phone": "13700000000"}}
    uploads = count(ctx, AuditEntry) - before[3]  # the uploads just made are audited; nothing else may be
    r = api.post("/api/v1/cases", body, "clerk")
    assert r.status_code == 403 and "accept" in r.json["message"], r.json
    after = (count(ctx, Case), count(ctx, CaseMaterial), count(ctx, Notification), count(ctx, AuditEntry))
    assert after == before[:3] + (before[3] + uploads,)
    assert not ctx.dispatched
    body["accept"] = False
    assert api.post("/api/v1/cases", body, "clerk").status_code == 201  # the same application, not accepted


def test_a_chief_representative_accepts_at_the_window_only_for_their_department(api, ctx):
    body = {"item_code": SIGN_ITEM, "materials": api.sign_materials(), "accept": True,
            "applicant": {"name": "王五", "id_number": ID_NUMBER}}
    n = count(ctx, Case)
    r = api.post("/api/v1/cases", body, "jj-chief")  # the traffic police's chief, a city-management item
    assert r.status_code == 403 and r.json["errors"]["json"]["item_code"], r.json
    assert count(ctx, Case) == n
    r = api.post("/api/v1/cases", body, "cgj-chief")
    assert r.status_code == 201 and r.json["status"] == "in_progress"


def test_me_says_what_the_account_may_do(api):
    clerk = api.get("/api/v1/auth/me", "clerk").json["may"]
    assert {"submit_case", "accept_on_submission", "read_library"} <= set(clerk)
    assert "decide_extension" not in clerk and "manage_items" not in clerk
    approver = api.get("/api/v1/auth/me", "cgj-approver").json["may"]
    assert "decide_extension" in approver and "submit_case" not in approver
    assert "manage_items" in api.get("/api/v1/auth/me", "cgj-chief").json["may"]


def test_refusal_and_denial_need_reasons(api):
    code = api.apply_online()
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "refuse", "version": 1}, "clerk")
    assert r.status_code == 422 and "reason" in r.json["errors"]["json"]
    assert api.fire(code, "refuse", "clerk", reason="不属于本部门职权范围")["status"] == "refused"
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    api.fire(code, "undertake", "cgj-handler")
    c = api.fire(code, "deny", "cgj-reviewer", reason="设置位置不符合规划")
    assert c["status"] == "concluded" and c["result"] == "denied" and c["license"] is None


def test_send_back_then_resubmit(api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    api.fire(code, "undertake", "cgj-handler")
    c = api.fire(code, "send_back", "cgj-reviewer", reason="请补充现场核查意见")
    assert c["stage"]["kind"] == "undertake"
    assert api.fire(code, "undertake", "cgj-handler")["stage"]["kind"] == "review"


def test_ab_post_backup_takes_over_absent_primary(api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    handler = api.get("/api/v1/auth/me", "cgj-handler").json
    backup = api.get("/api/v1/auth/me", "cgj-handler-b").json
    assert handler["backup_id"] == backup["id"]
    assert api.post(f"/api/v1/cases/{code}/claim", {}, "cgj-handler").status_code == 200
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "undertake", "version": api.case(code)["version"]},
                 "cgj-handler-b")
    assert r.status_code == 403 and "assigned" in r.json["message"]
    assert api.get("/api/v1/cases?mine=true", "cgj-handler-b").json["total"] == 0
    assert api.patch(f"/api/v1/staff/{handler['id']}", {"absent": True}, "cgj-chief").status_code == 200
    assert api.get("/api/v1/cases?mine=true", "cgj-handler-b").json["total"] == 1
    assert api.fire(code, "undertake", "cgj-handler-b")["stage"]["kind"] == "review"


def test_extension_approved_by_higher_role_moves_deadlines(api):
    code = api.apply_online()
    c = api.fire(code, "accept", "clerk")
    r = api.post(f"/api/v1/cases/{code}/extensions", {"days": 3, "reason": "需联合踏勘"}, "cgj-handler")
    assert r.status_code == 201
    ext = r.json["id"]
    assert api.post(f"/api/v1/cases/{code}/extensions/{ext}/decision", {"approve": True}, "cgj-handler").status_code == 403
    r = api.post(f"/api/v1/cases/{code}/extensions/{ext}/decision", {"approve": True}, "cgj-approver")
    assert r.status_code == 200 and r.json["status"] == "approved"
    after = api.case(code)
    assert after["extended_days"] == 3
    assert after["promised_deadline"] > c["promised_deadline"]
    assert api.post(f"/api/v1/cases/{code}/extensions/{ext}/decision", {"approve": True}, "cgj-approver").status_code == 409


def test_paper_case_backfills_with_original_times(api, clock):
    clock.set(datetime(2026, 3, 10, 16, 0, tzinfo=CST))
    r = api.post("/api/v1/cases", {"item_code": SIGN_ITEM, "materials": api.sign_materials(), "processing": "paper",
                                   "applicant": {"name": "王五", "id_number": ID_NUMBER}}, "clerk")
    code = r.json["code"]
    api.fire(code, "accept", "clerk")
    original = "2026-03-10T11:30:00+08:00"
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "record_paper_result", "version": 2,
                                                       "result": "approved", "occurred_at": original}, "clerk")
    assert r.status_code == 422 and "occurred_at" in r.json["errors"]["json"]  # before the acceptance step
    c = api.fire(code, "record_paper_result", "clerk", result="approved", occurred_at="2026-03-10T16:00:00+08:00")
    last = c["transitions"][-1]
    assert last["backfilled"] is True and last["occurred_at"].startswith("2026-03-10T16:00")
    assert c["status"] == "concluded" and c["license"]
    online = api.apply_online()
    r = api.post(f"/api/v1/cases/{online}/transitions", {"event": "accept", "version": 1,
                                                         "occurred_at": original}, "clerk")
    assert r.status_code == 422 and "occurred_at" in r.json["errors"]["json"]


def test_public_lookup_masks_and_needs_second_factor(api):
    code = api.apply_online()
    api.to_conclusion(code)
    r = api.post(f"/api/v1/public/cases/{code}/lookup", {"id_last4": "002X"})
    assert r.status_code == 200
    assert r.json["applicant_name"] == "张*明" and r.json["applicant_id_number"] == "1101**********002X"
    assert r.json["result"] == "approved" and r.json["license"]["number"]
    assert ID_NUMBER not in r.get_data(as_text=True)
    assert api.post(f"/api/v1/public/cases/{code}/lookup", {"id_last4": "1234"}).status_code == 404
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    r = api.post(f"/api/v1/public/cases/{typo}/lookup", {"id_last4": "002X"})
    assert r.status_code == 422 and "mistyped" in r.json["message"]


def test_evaluation_once_and_low_score_opens_rectification(api):
    code = api.apply_online()
    r = api.post(f"/api/v1/public/cases/{code}/evaluation", {"id_last4": "002X", "score": 5})
    assert r.status_code == 409  # not concluded yet
    api.to_conclusion(code)
    assert api.post(f"/api/v1/public/cases/{code}/evaluation", {"id_last4": "002X", "score": 1, "comment": "态度差"}).status_code == 201
    assert api.post(f"/api/v1/public/cases/{code}/evaluation", {"id_last4": "002X", "score": 5}).status_code == 409
    rects = api.get("/api/v1/rectifications", "cgj-chief").json
    assert len(rects) == 1 and rects[0]["status"] == "open"
    assert api.get("/api/v1/rectifications", "jj-chief").json == []
    r = api.post(f"/api/v1/rectifications/{rects[0]['id']}/close", {"note": "已约谈窗口人员"}, "cgj-chief")
    assert r.json["status"] == "closed"


def test_withdrawal_by_applicant(api):
    code = api.apply_online()
    r = api.post(f"/api/v1/public/cases/{code}/withdrawal", {"id_last4": "002X", "reason": "不再需要"})
    assert r.status_code == 200 and r.json["status"] == "withdrawn"


def test_item_versions_suspension_and_repeal(api):
    r = api.put(f"/api/v1/items/{SIGN_ITEM}", {"version": 1, "promised_limit_days": 4,
                                               "stages": [{"kind": "accept", "time_limit_days": 1, "role": "clerk"},
                                                          {"kind": "undertake", "time_limit_days": 2, "role": "handler"},
                                                          {"kind": "approve", "time_limit_days": 1, "role": "approver"},
                                                          {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}]},
                "cgj-chief")
    assert r.status_code == 200, r.json
    assert r.json["version"] == 2
    stale = api.put(f"/api/v1/items/{SIGN_ITEM}", {"version": 1, "name": "x"}, "cgj-chief")
    assert stale.status_code == 409
    assert api.put(f"/api/v1/items/{SIGN_ITEM}", {"version": 2, "promised_limit_days": 30}, "cgj-chief").json["errors"]["json"]["promised_limit_days"]
    assert api.put(f"/api/v1/items/{SIGN_ITEM}", {"version": 2, "name": "x"}, "jj-chief").status_code == 404  # invisible to other tenants
    code = api.apply_online()
    assert api.case(code)["item_version"] == 2
    assert api.post(f"/api/v1/items/{SIGN_ITEM}/status", {"status": "suspended"}, "cgj-chief").status_code == 200
    r = api.post("/api/v1/public/applications", {"item_code": SIGN_ITEM, "applicant": {"name": "a", "id_number": ID_NUMBER},
                                                 "materials": []})
    assert r.status_code == 409 and "suspended" in r.json["message"]
    assert api.post(f"/api/v1/items/{SIGN_ITEM}/status", {"status": "repealed"}, "cgj-chief").status_code == 200
    assert SIGN_ITEM not in [i["code"] for i in api.get("/api/v1/catalog/items").json]
    assert api.get(f"/api/v1/catalog/items/{SIGN_ITEM}?version=1").json["version"] == 1
    # the case submitted under version 2 continues under it
    assert api.fire(code, "accept", "clerk")["stages"][2]["kind"] == "approve"


def test_revision_and_suspension_take_effect_for_the_very_next_submission(api):
    """The node keeps published versions it has loaded; the item's pointer and status are read fresh."""
    first = api.apply_online()
    assert api.case(first)["item_version"] == 1
    r = api.put(f"/api/v1/items/{SIGN_ITEM}", {"version": 1, "name": "店招店牌设置（修订）"}, "cgj-chief")
    assert r.status_code == 200, r.json
    second = api.apply_online()
    assert api.case(second)["item_version"] == 2 and api.case(first)["item_version"] == 1
    assert api.post(f"/api/v1/items/{SIGN_ITEM}/status", {"status": "suspended"}, "cgj-chief").status_code == 200
    r = api.post("/api/v1/public/applications", {"item_code": SIGN_ITEM, "applicant": {"name": "a", "id_number": ID_NUMBER},
                                                 "materials": []})
    assert r.status_code == 409 and "suspended" in r.json["message"]
    assert api.post(f"/api/v1/items/{SIGN_ITEM}/status", {"status": "active"}, "cgj-chief").status_code == 200
    assert api.case(api.apply_online())["item_version"] == 2


def test_publish_item_rules(api):
    base = {"code": "330105-XK-CG-099", "name": "测试事项", "kind": "promised", "legal_limit_days": 5,
            "promised_limit_days": 10, "stages": [{"kind": "accept", "time_limit_days": 1, "role": "clerk"},
                                                  {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}]}
    r = api.post("/api/v1/items", base, "cgj-chief")
    assert r.status_code == 422 and "promised_limit_days" in r.json["errors"]["json"]
    r = api.post("/api/v1/items", {**base, "promised_limit_days": 3, "surprise": 1}, "cgj-chief")
    assert r.status_code == 422 and "surprise" in r.json["errors"]["json"]
    r = api.post("/api/v1/items", {**base, "promised_limit_days": 3}, "cgj-chief")
    assert r.status_code == 201 and r.json["department_id"] is not None
    assert api.post("/api/v1/items", {**base, "promised_limit_days": 3}, "cgj-chief").status_code == 409
    assert api.post("/api/v1/items", {**base, "code": "330105-XK-CG-098", "promised_limit_days": 3}, "cgj-handler").status_code == 403


def test_uploads_are_checked_by_content_and_size(api, ctx):
    import hashlib
    import io

    from tests.support import minimal_pdf
    r = api.c.post("/api/v1/uploads", data={"file": (io.BytesIO(b"MZ\x90\x00 evil"), "a.pdf")},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.json["errors"]["files"]
    big = b"%PDF-" + b"0" * (ctx.settings.max_upload_bytes + 10)
    r = api.c.post("/api/v1/uploads", data={"file": (io.BytesIO(big), "a.pdf")}, content_type="multipart/form-data")
    assert r.status_code in (413, 422)
    ok = minimal_pdf("ok")
    r = api.c.post("/api/v1/uploads", data={"file": (io.BytesIO(ok), "a.pdf")},
                   content_type="multipart/form-data")
    assert r.json["digest"] == hashlib.sha256(ok).hexdigest()
    assert ctx.store.get(r.json["digest"]) == ok


def test_auth_errors(api):
    assert api.get("/api/v1/cases").status_code == 401
    r = api.c.get("/api/v1/cases", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "Authorization" in r.json["errors"]["json"]
    r = api.c.post("/api/v1/auth/token", json={"username": "clerk", "password": "wrong-password"})
    assert r.status_code == 401


def test_audit_chain_detects_tampering(api, ctx):
    code = api.apply_online()
    api.to_conclusion(code)
    assert verify_audit(ctx).ok
    with ctx.factory() as s:
        target = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "cases")
                           .order_by(AuditEntry.seq.desc()).limit(1)).one()
        assert b"concluded" in target.payload
        s.execute(update(AuditEntry).where(AuditEntry.seq == target.seq)
                  .values(payload=target.payload.replace(b"concluded", b"withdrawn")))
        s.commit()
    r = verify_audit(ctx)
    assert not r.ok and r.first_bad_seq == target.seq


def test_audit_records_every_change_with_actor(api, ctx):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    with ctx.factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "cases", AuditEntry.op == "update")).all()
    assert rows and rows[-1].actor.startswith("staff:")
    import json
    assert json.loads(rows[-1].payload)["changes"]["status"] == ["submitted", "in_progress"]


def test_outbox_row_written_with_the_change(api, ctx):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    with ctx.factory() as s:
        templates = [n.template for n in s.scalars(select(Notification).order_by(Notification.id))]
    assert templates == ["submitted", "accepted"]
    assert len(ctx.dispatched) == 2


def test_calendar_endpoint_and_import(api):
    r = api.get("/api/v1/calendar?start=2026-02-13&days=2")
    assert r.json["deadline"] == "2026-02-24"
    data = {"years": {"2027": {"holidays": [{"name": "元旦", "days_off": ["2027-01-01"], "make_up_workdays": []}]}}}
    assert api.put("/api/v1/calendar", data, "clerk").status_code == 403
    assert api.put("/api/v1/calendar", data, "admin").json["known_years"] == [2025, 2026, 2027]
    assert api.get("/api/v1/calendar?start=2026-12-31&days=1").json["deadline"] == "2027-01-04"
    bad = {"years": {"2027": {"holidays": [{"days_off": ["2027-02-30"]}]}}}
    r = api.put("/api/v1/calendar", bad, "admin")
    assert r.status_code == 422 and "years.2027.holidays[0].days_off" in r.json["errors"]["json"]


def test_a_service_code_collision_is_retried_and_leaves_nothing_half_written(api, ctx, monkeypatch):
    """The unique code is only known to clash when the case's rows reach the database (on
    PostgreSQL: in the statement sent together with COMMIT); the submission retries with a new code."""
    from node.domain import servicecode

    first = api.apply_online()
    before = (count(ctx, Case), count(ctx, CaseMaterial), count(ctx, Notification), count(ctx, AuditEntry))
    real = servicecode.make_code
    calls = []

    def clash_once(node_id, day, random_part):  # type: ignore[no-untyped-def]
        calls.append(random_part)
        return first if len(calls) == 1 else real(node_id, day, random_part)

    monkeypatch.setattr(servicecode, "make_code", clash_once)
    second = api.apply_online()
    assert len(calls) == 2 and second != first
    after = (count(ctx, Case), count(ctx, CaseMaterial), count(ctx, Notification), count(ctx, AuditEntry))
    # one case more, with its 5 materials and its notification; audited: the 5 uploads, then the case,
    # its transition, 5 materials (binding the uploads) and the notification. Nothing of the failed try.
    assert [a - b for a, b in zip(after, before)] == [1, 5, 1, 5 + 8]
    assert verify_audit(ctx).ok
