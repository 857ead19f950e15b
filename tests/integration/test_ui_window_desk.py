"""The window (窗口受理) and department desk (部门工作台) pages through Flask's test client: the
flow, refusals by department and role, CSRF, bad input naming the field, paging."""
import io
import re

import pytest

from tests.support import (
    SIGN_ITEM,
    SIGN_MATERIALS,
    material_bytes,
    ui_sign_in,
)

pytestmark = pytest.mark.integration

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def staff(app, username):  # type: ignore[no-untyped-def]
    """A browser-like client signed in through the login page."""
    c = app.test_client()
    ui_sign_in(c, username)
    return c


def csrf(c, url):  # type: ignore[no-untyped-def]
    r = c.get(url)
    assert r.status_code == 200, (url, r.status_code)
    return TOKEN.search(r.get_data(as_text=True)).group(1)


def fire(c, base, code, event, api, **form):  # type: ignore[no-untyped-def]
    token = csrf(c, f"{base}/{code}")
    data = {"csrf_token": token, "event": event, "version": api.case(code)["version"], **form}
    return c.post(f"{base}/{code}/transition", data=data)


def test_window_accepts_and_the_desk_moves_the_case_to_conclusion(app, api):
    code = api.apply_online()
    clerk = staff(app, "clerk")
    queue = clerk.get("/staff/window").get_data(as_text=True)
    assert code in queue and "待受理" in queue
    r = fire(clerk, "/staff/window/cases", code, "accept", api)
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    assert api.case(code)["status"] == "in_progress"
    notice = clerk.get(f"/staff/window/cases/{code}/notice/acceptance").get_data(as_text=True)
    assert "受理通知书" in notice and code in notice and "店招店牌设计效果图" in notice

    handler = staff(app, "cgj-handler")
    desk = handler.get("/staff/desk").get_data(as_text=True)
    assert code in desk and "待认领" in desk and "1101**********002X" in desk  # the ID masked in the list
    page = handler.get(f"/staff/cases/{code}").get_data(as_text=True)
    assert "认领" in page and "承办完成" in page
    token = csrf(handler, f"/staff/cases/{code}")
    assert handler.post(f"/staff/cases/{code}/claim", data={"csrf_token": token}).status_code == 302
    assert fire(handler, "/staff/cases", code, "undertake", api, opinion="符合条件").status_code == 302
    assert code in handler.get("/staff/desk?tab=done").get_data(as_text=True)
    assert code not in handler.get("/staff/desk").get_data(as_text=True)

    reviewer = staff(app, "cgj-reviewer")
    assert code in reviewer.get("/staff/desk").get_data(as_text=True)
    assert fire(reviewer, "/staff/cases", code, "review", api).status_code == 302
    approver = staff(app, "cgj-approver")
    assert fire(approver, "/staff/cases", code, "approve", api).status_code == 302
    assert code in clerk.get("/staff/window?tab=conclude").get_data(as_text=True)
    assert fire(clerk, "/staff/window/cases", code, "conclude", api).status_code == 302
    got = api.case(code)
    assert got["status"] == "concluded" and got["result"] == "approved"
    assert [t["event"] for t in got["transitions"]] == ["submit", "accept", "undertake", "review", "approve",
                                                        "conclude"]


def test_another_departments_handler_can_neither_open_nor_act(app, api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    digest = api.case(code)["materials"][0]["digest"]
    own = staff(app, "cgj-handler")
    r = own.get(f"/staff/cases/{code}/materials/{digest}")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("inline")
    other = staff(app, "jj-handler")
    assert other.get(f"/staff/cases/{code}").status_code == 404  # as the API: not in your tenancy
    assert api.get(f"/api/v1/cases/{code}", "jj-handler").status_code == 404
    assert code not in other.get("/staff/desk").get_data(as_text=True)
    token = csrf(other, "/staff/desk")
    r = other.post(f"/staff/cases/{code}/transition",
                   data={"csrf_token": token, "event": "undertake", "version": api.case(code)["version"]})
    assert r.status_code == 404
    assert other.get(f"/staff/cases/{code}/materials/{digest}").status_code == 404
    assert api.case(code)["stage"]["kind"] == "undertake"
    # a clerk is not a desk role; a handler is not a window role
    assert staff(app, "clerk").get(f"/staff/cases/{code}").status_code == 403
    assert own.get("/staff/window").status_code == 403


def test_post_without_csrf_token_is_refused(app, api):
    code = api.apply_online()
    clerk = staff(app, "clerk")
    r = clerk.post(f"/staff/window/cases/{code}/transition",
                   data={"event": "accept", "version": api.case(code)["version"]})
    assert r.status_code == 400
    assert api.case(code)["status"] == "submitted"


def test_refuse_without_reason_names_the_field(app, api):
    code = api.apply_online()
    clerk = staff(app, "clerk")
    r = fire(clerk, "/staff/window/cases", code, "refuse", api, reason="  ")
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "请填写理由" in page and "字段：reason" in page
    assert 'aria-invalid="true" aria-describedby="refuse-reason-err"' in page
    assert api.case(code)["status"] == "submitted"
    r = fire(clerk, "/staff/window/cases", code, "request_supplement", api, missing=["design"],
             missing_code=list(SIGN_MATERIALS), missing_name=list(SIGN_MATERIALS), reason="效果图不清晰")
    assert r.status_code == 302 and "/notice/supplement" in r.headers["Location"]
    notice = clerk.get(r.headers["Location"]).get_data(as_text=True)
    assert "一次性告知书" in notice and "效果图不清晰" in notice and "design" in notice
    assert code in clerk.get("/staff/window?tab=supplementing").get_data(as_text=True)
    page = clerk.get(f"/staff/window/cases/{code}").get_data(as_text=True)
    assert "收取补正材料" in page and 'name="file-design"' in page and 'name="file-application"' not in page
    token = TOKEN.search(page).group(1)
    version = api.case(code)["version"]
    r = clerk.post(f"/staff/window/cases/{code}/supply", data={"csrf_token": token, "version": version},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and "字段：materials" in r.get_data(as_text=True)
    r = clerk.post(f"/staff/window/cases/{code}/supply", data={
        "csrf_token": token, "version": version,
        "file-design": (io.BytesIO(material_bytes("pdf", "clear design")), "design-v2.pdf")},
        content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:1000]
    got = api.case(code)
    assert got["status"] == "submitted" and "design-v2.pdf" in [m["filename"] for m in got["materials"]]


def test_extension_needs_days_and_a_decider(app, api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    handler = staff(app, "cgj-handler")
    token = csrf(handler, f"/staff/cases/{code}")
    r = handler.post(f"/staff/cases/{code}/extensions", data={"csrf_token": token, "days": "0", "reason": "x"})
    assert r.status_code == 422 and "字段：days" in r.get_data(as_text=True)
    r = handler.post(f"/staff/cases/{code}/extensions", data={"csrf_token": token, "days": "3", "reason": "需现场核查"})
    assert r.status_code == 302
    chief = staff(app, "cgj-chief")
    listed = chief.get("/staff/desk?tab=extensions").get_data(as_text=True)
    assert "延期审批（1）" in listed and code in listed
    assert "延期审批" not in handler.get("/staff/desk").get_data(as_text=True)
    page = chief.get(f"/staff/cases/{code}").get_data(as_text=True)
    assert "批准延期" in page and "需现场核查" in page
    ext = re.search(rf"/staff/cases/{code}/extensions/(\d+)", page).group(1)
    assert "批准延期" not in handler.get(f"/staff/cases/{code}").get_data(as_text=True)
    token = csrf(chief, f"/staff/cases/{code}")
    r = chief.post(f"/staff/cases/{code}/extensions/{ext}", data={"csrf_token": token, "approve": "1"})
    assert r.status_code == 302
    assert api.case(code)["extended_days"] == 3
    assert "延期审批（0）" in chief.get("/staff/desk").get_data(as_text=True)


def test_desk_pages(app, api, monkeypatch):
    import admin_ui.desk

    monkeypatch.setattr(admin_ui.desk, "PAGE_SIZE", 2)
    codes = [api.apply_online() for _ in range(3)]
    for c in codes:
        api.fire(c, "accept", "clerk")
    handler = staff(app, "cgj-handler")
    first = handler.get("/staff/desk").get_data(as_text=True)
    second = handler.get("/staff/desk?page=2").get_data(as_text=True)
    assert "第 1 / 2 页" in first and "第 2 / 2 页" in second and "下一页" in first
    assert sum(c in first for c in codes) == 2 and sum(c in second for c in codes) == 1


def test_walk_in_intake_shows_the_one_time_notice_then_accepts(app, api):
    clerk = staff(app, "clerk")
    url = f"/staff/window/new?item={SIGN_ITEM}"
    token = csrf(clerk, url)
    applicant = {"name": "王五", "id_type": "resident_id", "id_number": "11010519491231002X", "phone": "13900000000"}
    files = {f"file-{m}": (io.BytesIO(material_bytes(k, m + "w")), f"{m}.{k}")
             for m, k in list(SIGN_MATERIALS.items())[:3]}
    r = clerk.post(url, data={"csrf_token": token, "action": "check", **applicant, **files},
                   content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "一次性告知" in page and "设置位置现状照片" in page
    kept = dict(re.findall(r'name="(upload-[a-z-]+)" value="([^"]+)"', page))
    assert len([k for k in kept if not k.startswith("upload-name-")]) == 3
    rest = {f"file-{m}": (io.BytesIO(material_bytes(k, m + "w")), f"{m}.{k}")
            for m, k in list(SIGN_MATERIALS.items())[3:]}
    r = clerk.post(url, data={"csrf_token": token, "action": "submit", "accept": "1", **applicant, **kept, **rest},
                   content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    assert "/notice/acceptance" in r.headers["Location"]
    code = r.headers["Location"].split("/cases/")[1].split("/")[0]
    got = api.case(code)
    assert got["status"] == "in_progress" and got["channel"] == "window" and len(got["materials"]) == 5
    r = clerk.post(url, data={"csrf_token": token, "action": "submit", **applicant, "name": ""},
                   content_type="multipart/form-data")
    assert r.status_code == 422 and "请填写申请人姓名" in r.get_data(as_text=True)
    again = {f"file-{m}": (io.BytesIO(material_bytes(k, m + "x")), f"{m}.{k}") for m, k in SIGN_MATERIALS.items()}
    r = clerk.post(url, data={"csrf_token": token, "action": "submit", **applicant, "id_number": "110105194912310021",
                              **again}, content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "applicant.id_number" in page and 'aria-describedby="id_number-err"' in page


def test_agent_submits_for_a_villager_and_cannot_accept(app, api):
    agent = staff(app, "agent-kq")
    url = f"/staff/window/new?item={SIGN_ITEM}"
    form = agent.get(url).get_data(as_text=True)
    assert "为村民代办申请" in form and 'name="accept"' not in form
    token = TOKEN.search(form).group(1)
    files = {f"file-{m}": (io.BytesIO(material_bytes(k, m + "a")), f"{m}.{k}") for m, k in SIGN_MATERIALS.items()}
    r = agent.post(url, data={"csrf_token": token, "action": "submit", "accept": "1", "name": "赵村民",
                              "id_type": "resident_id", "id_number": "11010519491231002X", **files},
                   content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    code = r.headers["Location"].rsplit("/", 1)[1]
    got = api.case(code)
    assert got["status"] == "submitted" and got["channel"] == "agent"  # the agent's "accept" is not theirs to give
    assert code in agent.get("/staff/window").get_data(as_text=True)
    page = agent.get(f"/staff/window/cases/{code}").get_data(as_text=True)
    assert 'value="accept"' not in page and "当前环节没有您可以办理的操作" in page
    assert agent.get("/staff/window?tab=conclude").status_code == 200  # falls back to its own tabs
    assert code in staff(app, "clerk").get("/staff/window").get_data(as_text=True)


def test_chief_marks_a_handler_absent_and_the_backup_works_the_case(app, api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    api.post(f"/api/v1/cases/{code}/claim", {}, "cgj-handler")
    backup = staff(app, "cgj-handler-b")
    assert code not in backup.get("/staff/desk").get_data(as_text=True)
    assert "承办完成" not in backup.get(f"/staff/cases/{code}").get_data(as_text=True)
    chief = staff(app, "cgj-chief")
    page = chief.get("/staff/desk/posts").get_data(as_text=True)
    a_id = re.search(r'name="staff_id" value="(\d+)">\s*<input type="hidden" name="absent" value="1">\s*'
                     r'<button class="secondary">标记缺岗', page).group(1)
    r = chief.post("/staff/desk/posts", data={"csrf_token": TOKEN.search(page).group(1), "staff_id": a_id,
                                              "absent": "1"})
    assert r.status_code == 302
    assert "缺岗" in chief.get("/staff/desk/posts").get_data(as_text=True)
    assert code in backup.get("/staff/desk").get_data(as_text=True)
    r = fire(backup, "/staff/cases", code, "undertake", api, opinion="B 岗接办")
    assert r.status_code == 302
    assert api.case(code)["stage"]["kind"] == "review"
    assert staff(app, "cgj-handler").get("/staff/desk/posts").status_code == 403


def test_overdue_tab_and_the_work_queue_service(app, api, ctx, clock):
    from sqlalchemy import select

    from node.persistence.models import Staff
    from node.services import cases
    from node.services.org import actor_of

    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    handler = staff(app, "cgj-handler")
    assert code not in handler.get("/staff/desk?tab=overdue").get_data(as_text=True)
    clock.advance(days=7)  # past the undertaking stage's two working days
    page = handler.get("/staff/desk?tab=overdue").get_data(as_text=True)
    assert code in page and "超期（1）" in page and 'class="light red"' in page
    with ctx.factory() as s:
        reviewer = s.scalar(select(Staff).where(Staff.username == "cgj-reviewer"))
        jj = s.scalar(select(Staff).where(Staff.username == "jj-chief"))
        who, other = actor_of(reviewer, "department"), actor_of(jj, "department")
    assert ctx.run(who, cases.work_queue, tab="todo")[1] == 0  # not at the reviewer's stage yet
    assert ctx.run(other, cases.work_queue, tab="todo")[1] == 0  # another department's chief
    api.fire(code, "undertake", "cgj-handler", opinion="ok")
    rows, total = ctx.run(who, cases.work_queue, tab="todo")
    assert total == 1 and rows[0].code == code
    with pytest.raises(Exception, match="tab"):
        ctx.run(who, cases.work_queue, tab="nope")
    assert [x["status"] for x in ctx.run(who, cases.case_extensions, code)] == []


def order_arrives(api, ctx, clock, kind: str, text: str) -> str:  # type: ignore[no-untyped-def]
    """An accepted case and the city's order on it (督办 or 纠错), as the federation delivers it."""
    from node.ports import AddressedMessage
    from node.services import supervision_orders
    from node.services.context import SYSTEM

    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    city = ctx.node_id[:4] + "00"
    msg = AddressedMessage(origin=city, seq=1, to=ctx.node_id, kind="supervision_order", subject=code, part=0,
                           header={"ref": f"{city}-1", "case_code": code, "kind": kind, "due_days": 3},
                           private={"text": text}, reply_to_seq=0, signed_at=clock.now())
    ctx.run(SYSTEM, supervision_orders.receive_order, msg)
    return str(code)


def test_supervision_order_shows_on_the_case_and_the_chief_may_respond(app, api, ctx, clock):
    from node.services import supervision_orders
    from node.services.context import SYSTEM

    code = order_arrives(api, ctx, clock, "supervise", "请加快办理店招审批")
    chief = staff(app, "cgj-chief")
    page = chief.get(f"/staff/cases/{code}").get_data(as_text=True)
    assert "督办与纠错" in page and "请加快办理店招审批" in page and "提交反馈" in page
    assert "提交反馈" not in staff(app, "cgj-reviewer").get(f"/staff/cases/{code}").get_data(as_text=True)
    oid = re.search(rf"/staff/cases/{code}/orders/(\d+)", page).group(1)
    r = chief.post(f"/staff/cases/{code}/orders/{oid}", data={"csrf_token": TOKEN.search(page).group(1),
                                                             "text": "已督促承办人今日办结"})
    # this hall has no federation identity: the answer cannot be sent, so nothing is recorded
    assert r.status_code == 422 and "无法送达" in r.get_data(as_text=True) and "字段：to" in r.get_data(as_text=True)
    assert ctx.run(SYSTEM, supervision_orders.case_orders, code)[0]["state"] == "delivered"


def test_chief_assigns_a_handler(app, api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    chief = staff(app, "cgj-chief")
    page = chief.get(f"/staff/cases/{code}").get_data(as_text=True)
    b_id = re.search(r'<option value="(\d+)">cgj承办人B', page).group(1)
    token = TOKEN.search(page).group(1)
    r = chief.post(f"/staff/cases/{code}/claim", data={"csrf_token": token, "staff_id": "999999"})
    assert r.status_code == 422 and "请选择本部门的承办人" in r.get_data(as_text=True)
    assert chief.post(f"/staff/cases/{code}/claim", data={"csrf_token": token, "staff_id": b_id}).status_code == 302
    assert api.case(code)["assignee_id"] == int(b_id)
    assert code in staff(app, "cgj-handler-b").get("/staff/desk").get_data(as_text=True)
    a = staff(app, "cgj-handler")
    assert code not in a.get("/staff/desk").get_data(as_text=True)
    assert "承办完成" not in a.get(f"/staff/cases/{code}").get_data(as_text=True)
    assert "指派" not in a.get(f"/staff/cases/{code}").get_data(as_text=True)


def test_the_window_withdraws_on_the_applicants_written_request_once_confirmed(app, api):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    clerk = staff(app, "clerk")
    page = clerk.get(f"/staff/window/cases/{code}").get_data(as_text=True)
    assert "撤回申请" in page and "已核对申请人的书面撤回申请" in page
    r = fire(clerk, "/staff/window/cases", code, "withdraw", api, reason="申请人书面申请撤回")
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and "字段：confirm" in page and 'aria-describedby="withdraw-confirm-err"' in page
    assert api.case(code)["status"] == "in_progress"  # not confirmed: nothing changed
    r = fire(clerk, "/staff/window/cases", code, "withdraw", api, reason="申请人书面申请撤回", confirm="1")
    assert r.status_code == 302
    c = api.case(code)
    assert c["status"] == "withdrawn"
    assert c["transitions"][-1]["event"] == "withdraw" and c["transitions"][-1]["actor"].startswith("staff:")
    assert "撤回申请" not in clerk.get(f"/staff/window/cases/{code}").get_data(as_text=True)  # nothing left to do
    # a department's handler is offered no withdrawal (it is the applicant's, at the window)
    other = api.apply_online()
    api.fire(other, "accept", "clerk")
    handler = staff(app, "cgj-handler")
    assert "代申请人撤回" not in handler.get(f"/staff/cases/{other}").get_data(as_text=True)


def test_a_correction_order_is_answered_with_its_fix_named_at_each_field(app, api, ctx, clock):
    from node.services import supervision_orders
    from node.services.context import SYSTEM

    code = order_arrives(api, ctx, clock, "correct", "受理时未核验营业执照，请纠正")
    chief = staff(app, "cgj-chief")
    page = chief.get(f"/staff/cases/{code}").get_data(as_text=True)
    assert "纠正情况（纠错单须填写）" in page and "尚无办理记录" in page
    oid = re.search(rf"/staff/cases/{code}/orders/(\d+)", page).group(1)
    url = f"/staff/cases/{code}/orders/{oid}"
    token = TOKEN.search(page).group(1)
    r = chief.post(url, data={"csrf_token": token, "text": "已纠正", "fix_description": "", "fix_seq": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "字段：fix.description" in html and "已纠正" in html  # what was typed stays
    api.fire(code, "undertake", "cgj-handler", opinion="补充核验营业执照后承办")  # the corrective step
    page = chief.get(f"/staff/cases/{code}").get_data(as_text=True)
    seq = re.search(rf'<option value="(\d+)">#\d+ 承办', page).group(1)
    r = chief.post(url, data={"csrf_token": token, "text": "已纠正", "fix_description": "补充核验营业执照",
                              "fix_seq": "1"})  # the acceptance came before the order: not a fix
    assert r.status_code == 422 and "字段：fix.transition_seq" in r.get_data(as_text=True)
    r = chief.post(url, data={"csrf_token": token, "text": "已纠正", "fix_description": "补充核验营业执照",
                              "fix_seq": seq})
    # the fix is accepted; this hall has no federation identity, so the answer cannot be sent
    assert r.status_code == 422 and "字段：to" in r.get_data(as_text=True)
    assert ctx.run(SYSTEM, supervision_orders.case_orders, code)[0]["state"] == "delivered"


def test_the_window_enters_a_prior_approval_at_acceptance_and_is_told_why_one_fails(app, api):
    from tests.integration.test_prerequisites import BIZ, FOOD, _materials, business_license
    from tests.support import ID_NUMBER

    number, _ = business_license(api)  # 营业执照 issued
    r = api.post("/api/v1/public/applications", {  # applied online without the licence number
        "item_code": FOOD, "applicant": {"name": "张三明", "id_number": ID_NUMBER},
        "materials": _materials(api, ("application", "id", "food-safety"))})
    assert r.status_code == 201, r.json
    code = r.json["code"]
    clerk = staff(app, "clerk")
    page = clerk.get(f"/staff/window/cases/{code}").get_data(as_text=True)
    assert "前置审批（受理时在线核验）" in page and f'name="pre__{BIZ}"' in page
    r = fire(clerk, "/staff/window/cases", code, "accept", api)  # nothing entered
    html = r.get_data(as_text=True)
    assert r.status_code >= 400 and "未提供证照编号" in html and 'aria-describedby="pre-0-err"' in html
    r = fire(clerk, "/staff/window/cases", code, "accept", api, **{f"pre__{BIZ}": "330105-WRONG-0001"})
    html = r.get_data(as_text=True)
    assert r.status_code >= 400 and "核验未通过" in html and 'value="330105-WRONG-0001"' in html  # kept
    assert api.case(code)["status"] == "submitted"  # nothing accepted
    r = fire(clerk, "/staff/window/cases", code, "accept", api, **{f"pre__{BIZ}": number})
    assert r.status_code == 302
    c = api.case(code)
    assert c["status"] == "in_progress" and c["prerequisites"][0]["valid"] and c["prerequisites"][0]["reference"] == number


def test_the_clerk_names_a_free_agent_at_acceptance(app, api):
    code = api.apply_online()
    clerk = staff(app, "clerk")
    page = clerk.get(f"/staff/window/cases/{code}").get_data(as_text=True)
    m = re.search(r'<option value="(\d+)">钱代办</option>', page)
    assert "免费代办员" in page and m
    r = fire(clerk, "/staff/window/cases", code, "accept", api, agent_staff_id="999999")
    assert r.status_code == 422 and "字段：agent_staff_id" in r.get_data(as_text=True)
    assert api.case(code)["status"] == "submitted"
    r = fire(clerk, "/staff/window/cases", code, "accept", api, agent_staff_id=m.group(1))
    assert r.status_code == 302
    assert api.case(code)["status"] == "in_progress"
    assert code in api.get("/api/v1/cases", "agent-kq").get_data(as_text=True)  # the agent follows it now


def test_a_paper_case_is_taken_in_at_the_window_and_its_result_recorded_afterwards(app, api, clock):
    clerk = staff(app, "clerk")
    url = f"/staff/window/new?item={SIGN_ITEM}"
    token = csrf(clerk, url)
    applicant = {"name": "王五", "id_type": "resident_id", "id_number": "11010519491231002X"}
    files = {f"file-{m}": (io.BytesIO(material_bytes(k, m + "p")), f"{m}.{k}") for m, k in SIGN_MATERIALS.items()}
    r = clerk.post(url, data={"csrf_token": token, "action": "submit", "accept": "1", "processing": "paper",
                              **applicant, **files}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    code = r.headers["Location"].split("/cases/")[1].split("/")[0]
    assert api.case(code)["processing"] == "paper"
    page = clerk.get(f"/staff/window/cases/{code}").get_data(as_text=True)
    assert "补录纸质办理结果" in page
    r = fire(clerk, "/staff/window/cases", code, "record_paper_result", api, occurred_at="2026-03-02T15:00")
    assert r.status_code == 422 and 'aria-describedby="paper-result-err"' in r.get_data(as_text=True)
    r = fire(clerk, "/staff/window/cases", code, "record_paper_result", api, result="approved", occurred_at="")
    assert r.status_code == 422 and 'aria-describedby="paper-at-err"' in r.get_data(as_text=True)
    r = fire(clerk, "/staff/window/cases", code, "record_paper_result", api, result="approved",
             occurred_at="2026-03-01T10:00")  # before the acceptance was recorded
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "字段：occurred_at" in html and 'value="2026-03-01T10:00"' in html
    assert api.case(code)["status"] == "in_progress"
    clock.advance(hours=6)
    r = fire(clerk, "/staff/window/cases", code, "record_paper_result", api, result="approved",
             occurred_at="2026-03-02T14:30")
    assert r.status_code == 302, r.get_data(as_text=True)[:800]
    c = api.case(code)
    assert c["status"] == "concluded" and c["result"] == "approved" and c["license"]
    assert c["transitions"][-1]["backfilled"] is True and c["transitions"][-1]["occurred_at"].startswith("2026-03-02T14:30")
    # an online case is never offered it
    online = api.apply_online()
    api.fire(online, "accept", "clerk")
    assert "补录纸质办理结果" not in clerk.get(f"/staff/window/cases/{online}").get_data(as_text=True)


def test_a_walk_in_food_licence_is_accepted_on_the_spot_with_its_prior_approval(app, api):
    from tests.integration.test_prerequisites import BIZ, FOOD, business_license

    number, _ = business_license(api, id_number="11010519491231002X")
    clerk = staff(app, "clerk")
    url = f"/staff/window/new?item={FOOD}"
    page = clerk.get(url).get_data(as_text=True)
    assert f'name="pre__{BIZ}"' in page
    token = csrf(clerk, url)
    applicant = {"name": "张三明", "id_type": "resident_id", "id_number": "11010519491231002X"}

    def files(tag):  # type: ignore[no-untyped-def]
        return {f"file-{m}": (io.BytesIO(material_bytes("pdf", m + tag)), f"{m}.pdf")
                for m in ("application", "id", "food-safety")}
    r = clerk.post(url, data={"csrf_token": token, "action": "submit", "accept": "1", **applicant,
                              f"pre__{BIZ}": "NO-SUCH-0001", **files("a")}, content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code >= 400 and "核验未通过" in html and 'value="NO-SUCH-0001"' in html
    r = clerk.post(url, data={"csrf_token": token, "action": "submit", "accept": "1", **applicant,
                              f"pre__{BIZ}": number, **files("b")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    code = r.headers["Location"].split("/cases/")[1].split("/")[0]
    c = api.case(code)
    assert c["status"] == "in_progress" and c["prerequisites"][0]["valid"] and c["prerequisites"][0]["reference"] == number
