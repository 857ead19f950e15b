"""The hall admin pages: what each role may see, bad input named at its field, CSRF, nothing half written."""
import pytest

from tests.support import ui_sign_in

pytestmark = pytest.mark.integration


def page(client, url):  # type: ignore[no-untyped-def]
    r = client.get(url)
    return r.status_code, r.get_data(as_text=True)


def test_admin_tabs_and_items(app):
    c = app.test_client()
    ui_sign_in(c, "admin")
    status, html = page(c, "/staff/admin")
    assert status == 200 and "本级事项" in html and "店招店牌" in html
    for tab in ("人员与岗位", "机构与服务点", "工作日历", "联邦状态与告警"):
        assert tab in html


def test_staff_creation_names_the_field_and_writes_nothing(app, api):
    c = app.test_client()
    token = ui_sign_in(c, "admin")
    before = len(api.get("/api/v1/staff", "admin").json)
    r = c.post("/staff/admin/staff", data={"csrf_token": token, "username": "new-clerk", "name": "新窗口",
                                            "password": "123456", "role": "clerk"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="f-password-err"' in html and "密码强度不足" in html
    assert 'value="new-clerk"' in html  # what was typed is kept
    r = c.post("/staff/admin/staff", data={"csrf_token": token, "username": "", "name": "", "password": "",
                                            "role": ""})
    assert r.status_code == 422 and 'id="f-username-err"' in r.get_data(as_text=True)
    assert len(api.get("/api/v1/staff", "admin").json) == before
    r = c.post("/staff/admin/staff", data={"csrf_token": token, "username": "new-clerk", "name": "新窗口",
                                            "password": "correct horse battery staple 42", "role": "clerk"})
    assert r.status_code == 302
    assert "已添加人员：新窗口" in c.get("/staff/admin/staff").get_data(as_text=True)
    assert len(api.get("/api/v1/staff", "admin").json) == before + 1
    ui_sign_in(app.test_client(), "new-clerk", "correct horse battery staple 42")


def test_a_post_without_the_csrf_token_is_refused(app, api):
    c = app.test_client()
    ui_sign_in(c, "admin")
    before = len(api.get("/api/v1/staff", "admin").json)
    r = c.post("/staff/admin/staff", data={"username": "x-clerk", "name": "某", "role": "clerk",
                                            "password": "correct horse battery staple 42"})
    assert r.status_code == 400
    assert len(api.get("/api/v1/staff", "admin").json) == before


def test_roles_without_the_right_do_not_see_or_use_admin(app):
    c = app.test_client()
    token = ui_sign_in(c, "cgj-handler")
    assert c.get("/staff/admin").status_code == 403
    assert "大厅管理" not in c.get("/staff/").get_data(as_text=True)
    r = c.post("/staff/admin/units", data={"csrf_token": token, "code": "x", "name": "某", "kind": "town"})
    assert r.status_code == 403
    c2 = app.test_client()
    token = ui_sign_in(c2, "cgj-chief")  # a chief: their department's staff only, no units or calendar
    status, html = page(c2, "/staff/admin/staff")
    assert status == 200 and "cgj-handler" in html and "下一页" not in html and "scjg-handler" not in html and "机构与服务点" not in html
    assert c2.get("/staff/admin/units").status_code == 403


def test_units_and_ab_post(app, api):
    c = app.test_client()
    token = ui_sign_in(c, "admin")
    r = c.post("/staff/admin/units", data={"csrf_token": token, "code": "cgj", "name": "重复", "kind": "department"})
    assert r.status_code == 422 and "该编码已被其他单位使用" in r.get_data(as_text=True)
    r = c.post("/staff/admin/units", data={"csrf_token": token, "code": "kq-xc", "name": "新村便民服务点",
                                            "kind": "service_point"})
    assert r.status_code == 302 and "新村便民服务点" in c.get("/staff/admin/units").get_data(as_text=True)
    staff = {s["username"]: s for s in api.get("/api/v1/staff", "admin").json}
    h, other = staff["cgj-handler"], staff["scjg-handler"]
    r = c.post(f"/staff/admin/staff/{h['id']}", data={"csrf_token": token, "what": "backup",
                                                       "backup_id": str(other["id"])})
    assert r.status_code == 302
    assert "B 岗须是同一部门的另一名人员" in c.get("/staff/admin/staff").get_data(as_text=True)
    r = c.post(f"/staff/admin/staff/{h['id']}", data={"csrf_token": token, "what": "absent"})
    assert "已标记为离岗" in c.get("/staff/admin/staff").get_data(as_text=True)
    assert {s["username"]: s for s in api.get("/api/v1/staff", "admin").json}["cgj-handler"]["absent"] is True


def test_calendar_import_refuses_bad_json_and_loads_good(app):
    c = app.test_client()
    token = ui_sign_in(c, "admin")
    r = c.post("/staff/admin/calendar", data={"csrf_token": token, "calendar": "{not json"})
    assert r.status_code == 422 and 'id="f-calendar-err"' in r.get_data(as_text=True)
    bad = '{"years": {"2027": {"holidays": [{"name": "元旦", "days_off": 5}]}}}'
    r = c.post("/staff/admin/calendar", data={"csrf_token": token, "calendar": bad})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "days_off" in html and "2025、2026 年" in html  # nothing of it loaded
    good = '{"years": {"2027": {"holidays": [{"name": "元旦", "days_off": ["2027-01-01"], "make_up_workdays": []}]}}}'
    r = c.post("/staff/admin/calendar", data={"csrf_token": token, "calendar": good})
    assert r.status_code == 302
    assert "已导入 2027 年" in c.get("/staff/admin/calendar").get_data(as_text=True)


def test_federation_tab_without_identity(app):
    c = app.test_client()
    ui_sign_in(c, "admin")
    status, html = page(c, "/staff/admin/federation")
    assert status == 200 and "尚未加入联邦" in html and "没有告警" in html


def test_staff_list_pages(app):
    c = app.test_client()
    ui_sign_in(c, "admin")
    first, second = page(c, "/staff/admin/staff")[1], page(c, "/staff/admin/staff?page=2")[1]
    assert "第 1 / 2 页" in first and "下一页" in first and "<td>admin</td>" in first
    assert "第 2 / 2 页" in second and "上一页" in second and "<td>admin</td>" not in second
    assert "第 2 / 2 页" in page(c, "/staff/admin/staff?page=99")[1]  # past the end: the last page
