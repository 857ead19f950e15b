"""The inspector dashboard's pages through Flask's test client: who may open them (the policy's
READ_SUPERVISION), CSRF on the order form, a bad order naming its field, keyset paging of the
overdue list, the assessment export."""
from __future__ import annotations

import re
import shutil

import pytest

from federation.envelope import Signer
from federation.plugin import attach
from node.services.supervision import run_escalation
from tests.integration.test_federation_log import KEY
from tests.support import csrf_of, ui_sign_in

pytestmark = pytest.mark.integration


@pytest.fixture
def db_url(templates, tmp_path):  # type: ignore[no-untyped-def]
    """SQLite only: these tests are about the pages, not the database."""
    f = tmp_path / "node.db"
    shutil.copy(templates["sqlite"], f)
    return f"sqlite:///{f}"


@pytest.fixture
def county(ctx):  # type: ignore[no-untyped-def]
    """The demo hall with its signed log: its own cases go into its library (what supervision reads)."""
    attach(ctx, Signer("330105", "k1", KEY.sign), b"inspector-pages-test-key")
    return ctx


def signed_in(app, username):  # type: ignore[no-untyped-def]
    c = app.test_client()
    ui_sign_in(c, username)
    return c


def overdue_cases(api, ctx, clock, n):  # type: ignore[no-untyped-def]
    codes = []
    for _ in range(n):
        code = api.apply_online()
        api.fire(code, "accept", "clerk")
        codes.append(code)
    clock.advance(days=30)
    run_escalation(ctx)  # the beat job: escalations, then the library's lights refreshed
    return codes


@pytest.mark.parametrize("user", ["cgj-handler", "clerk", "cgj-chief"])
def test_department_staff_get_403_on_every_inspector_page(app, api, county, user):
    code = api.apply_online()
    c = signed_in(app, user)
    for url in ("/staff/inspector", "/staff/inspector/overdue", "/staff/inspector/yellow",
                f"/staff/inspector/cases/{code}", "/staff/inspector/assessment.xlsx"):
        r = c.get(url)
        assert r.status_code == 403, url
        assert "无权访问" in r.get_data(as_text=True)
    page = c.get("/staff/").get_data(as_text=True)
    assert "监察总览" not in page  # not offered in the navigation either


def test_signed_out_is_sent_to_sign_in(app, county):
    r = app.test_client().get("/staff/inspector/overdue")
    assert r.status_code == 302 and "/staff/login" in r.headers["Location"]


def test_inspector_and_admin_see_the_overview_by_policy(app, api, county, clock):
    overdue_cases(api, county, clock, 1)
    page = signed_in(app, "inspector").get("/staff/inspector").get_data(as_text=True)
    assert "监察总览" in page and "330105" in page and 'id="insp-charts"' in page
    assert 'type="application/json"' in page and "<script>" not in page
    assert "环节完整性监察发现" in page and "告警" in page and "绩效考核" in page
    admin = signed_in(app, "admin").get("/staff/inspector")
    assert admin.status_code == 200
    text = admin.get_data(as_text=True)
    assert "环节完整性监察发现" not in text  # READ_INTEGRITY is the inspectors' only


def test_order_post_without_csrf_token_is_400(app, api, county):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    c = signed_in(app, "inspector")
    r = c.post(f"/staff/inspector/cases/{code}/orders", data={"kind": "supervise", "text": "请加快办理"})
    assert r.status_code == 400


def test_order_with_a_missing_field_names_it(app, api, county):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    c = signed_in(app, "inspector")
    html = c.get(f"/staff/inspector/cases/{code}").get_data(as_text=True)
    assert "下发督办单" in html
    r = c.post(f"/staff/inspector/cases/{code}/orders",
               data={"csrf_token": csrf_of(html), "kind": "supervise", "text": "  ", "due_days": "3"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="text-error"' in page and "字段：text" in page and 'aria-describedby="text-error"' in page
    r = c.post(f"/staff/inspector/cases/{code}/orders",
               data={"csrf_token": csrf_of(html), "kind": "supervise", "text": "请加快", "due_days": "九十"})
    assert r.status_code == 422 and 'id="due-error"' in r.get_data(as_text=True)
    # a county has nobody below it: the service's refusal is shown, nothing written
    r = c.post(f"/staff/inspector/cases/{code}/orders",
               data={"csrf_token": csrf_of(html), "kind": "supervise", "text": "请加快办理"})
    page = r.get_data(as_text=True)
    assert r.status_code == 403 and "字段：case_code" in page and "本级以下节点" in page
    assert "本办件暂无督办单" in page


def test_overdue_list_pages_by_cursor(app, api, county, clock):
    codes = overdue_cases(api, county, clock, 3)
    c = signed_in(app, "inspector")
    seen, url, pages = [], "/staff/inspector/overdue?n=2", 0
    while url:
        page = c.get(url).get_data(as_text=True)
        pages += 1
        rows = re.findall(r'href="/staff/inspector/cases/([0-9A-Z-]+)"', page)
        assert rows and all(r in codes for r in rows)
        seen += rows
        m = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', page)
        url = m.group(1).replace("&amp;", "&") if m else None
    assert pages == 2 and sorted(seen) == sorted(codes) and len(set(seen)) == 3
    assert "第一页" in page  # on the second page, the way back
    r = c.get("/staff/inspector/overdue?cursor=nonsense")
    assert r.status_code == 422 and "翻页参数无效" in r.get_data(as_text=True)
    empty = c.get("/staff/inspector/yellow").get_data(as_text=True)
    assert "当前没有预警办件" in empty


def test_overdue_list_filters_by_region_stage_and_channel_and_keeps_them_when_paging(app, api, county, clock):
    codes = overdue_cases(api, county, clock, 3)
    c = signed_in(app, "inspector")
    overview = c.get("/staff/inspector").get_data(as_text=True)
    assert 'href="/staff/inspector/overdue?region=330105"' in overview  # the region card drills down

    def listed(url: str) -> tuple[int, list[str], str]:
        r = c.get(url)
        page = r.get_data(as_text=True)
        return r.status_code, re.findall(r'href="/staff/inspector/cases/([0-9A-Z-]+)"', page), page

    st, rows, page = listed("/staff/inspector/overdue?region=330105&stage=undertake&channel=online")
    assert st == 200 and sorted(rows) == sorted(codes)
    assert '<option value="330105" selected>' in page and "清除筛选" in page
    st, rows, page = listed("/staff/inspector/overdue?region=330105&stage=undertake&n=2")
    assert len(rows) == 2
    nxt = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', page).group(1).replace("&amp;", "&")
    assert "region=330105" in nxt and "stage=undertake" in nxt  # the filters travel with the cursor
    assert len(listed(nxt)[1]) == 1
    assert listed("/staff/inspector/overdue?stage=review")[1] == []  # none is at review
    assert listed("/staff/inspector/overdue?channel=agent")[1] == []
    st, rows, page = listed("/staff/inspector/overdue?region=330106")  # a region outside this node's
    assert st in (403, 422) and rows == [] and "字段：region" in page


def test_assessment_exports_xlsx(app, api, county):
    code = api.apply_online()
    api.to_conclusion(code)
    c = signed_in(app, "inspector")
    r = c.get("/staff/inspector/assessment.xlsx?month=2026-03")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert r.data[:2] == b"PK" and "assessment-department-2026-03.xlsx" in r.headers["Content-Disposition"]
    page = c.get("/staff/inspector?month=2026-03").get_data(as_text=True)
    assert 'id="assessment-table"' in page
    assert c.get("/staff/inspector?month=2026-13").status_code == 422


def test_alerts_are_acknowledged_and_resolved_from_the_overview(app, county):
    from node.services import alerts
    from node.services.context import SYSTEM

    alert = county.run(SYSTEM, lambda uow: alerts.raise_incident(
        uow, kind="audit_mismatch", origin="330105", detail="cases#1 differs from its audit entry",
        proof={"table": "cases"}, subject="cases#1").id)
    c = signed_in(app, "inspector")
    page = c.get("/staff/inspector").get_data(as_text=True)
    assert f"#{alert}" in page and "审计记录与数据不符" in page and "待处理" in page
    token = csrf_of(page)
    r = c.post(f"/staff/inspector/alerts/{alert}/acknowledge", data={"csrf_token": token})
    assert r.status_code == 302
    page = c.get("/staff/inspector").get_data(as_text=True)
    assert f"告警 #{alert} 已确认" in page and "已确认" in page
    r = c.post(f"/staff/inspector/alerts/{alert}/resolve", data={"csrf_token": token, "note": " "},
               follow_redirects=True)
    assert "请填写处理说明" in r.get_data(as_text=True)  # the note is required: nothing changed
    c.post(f"/staff/inspector/alerts/{alert}/resolve", data={"csrf_token": token, "note": "已核对，系误报"})
    page = c.get("/staff/inspector").get_data(as_text=True)
    assert f"告警 #{alert} 已解决" in page and "没有未解决的告警" in page
    assert c.post(f"/staff/inspector/alerts/{alert}/acknowledge").status_code == 400  # no CSRF token


def test_integrity_findings_are_marked_reviewed(app, api, county, clock):
    from node.services.integrity import run_integrity_scan

    code = overdue_cases(api, county, clock, 1)[0]
    assert run_integrity_scan(county) >= 1  # the beat task's body: the case never moved for 30 days
    c = signed_in(app, "inspector")
    page = c.get("/staff/inspector").get_data(as_text=True)
    m = re.search(r'action="/staff/inspector/findings/(\d+)/review"', page)
    assert m and "长期未流转" in page and f'href="/staff/inspector/cases/{code}"' in page
    url, token = f"/staff/inspector/findings/{m.group(1)}/review", csrf_of(page)
    r = c.post(url, data={"csrf_token": token, "note": ""}, follow_redirects=True)
    assert "请填写处理说明" in r.get_data(as_text=True) and "字段：note" in r.get_data(as_text=True)
    c.post(url, data={"csrf_token": token, "note": "已电话督促承办人"})
    page = c.get("/staff/inspector").get_data(as_text=True)
    assert "已标记为已核查" in page and "已电话督促承办人" in page
    assert 'id="finding-note-' + m.group(1) + '"' not in page
