"""The hall admin's applicant messages (短信通知): which kinds are sent, the notices the law requires
always are, the outbox with the messages that failed, sending one again — through the API and the
page, with bad input named at its field and nothing written."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from node.persistence.models import Notification, NotificationSetting
from tests.support import csrf_of, ui_sign_in

pytestmark = pytest.mark.integration


def templates_of(ctx, code: str) -> list[str]:  # type: ignore[no-untyped-def]
    from node.persistence.models import Case

    with ctx.factory() as s:
        case_id = s.scalar(select(Case.id).where(Case.code == code).execution_options(all_tenants=True))
        return list(s.scalars(select(Notification.template).where(Notification.case_id == case_id)
                              .order_by(Notification.id)))


def test_a_kind_turned_off_is_not_sent_and_back_on_it_is(ctx, api):
    r = api.get("/api/v1/notification-settings", "admin")
    assert r.status_code == 200
    kinds = {s["template"]: s for s in r.json}
    assert kinds["accepted"]["enabled"] and not kinds["accepted"]["mandatory"]
    assert kinds["supplement"]["mandatory"] and kinds["refused"]["mandatory"] and kinds["denied"]["mandatory"]
    for kind in ("submitted", "accepted"):
        r = api.put(f"/api/v1/notification-settings/{kind}", {"enabled": False}, "admin")
        assert r.status_code == 200 and r.json["enabled"] is False and r.json["updated_by"].startswith("staff:")
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    assert templates_of(ctx, code) == []  # neither the submission nor the acceptance was told
    other = api.apply_online()
    api.fire(other, "request_supplement", "clerk", reason="身份证复印件不清晰")
    assert templates_of(ctx, other) == ["supplement"]  # the one-time notice is sent whatever the settings

    for kind in ("submitted", "accepted"):
        assert api.put(f"/api/v1/notification-settings/{kind}", {"enabled": True}, "admin").status_code == 200
    third = api.apply_online()
    api.fire(third, "accept", "clerk")
    assert templates_of(ctx, third) == ["submitted", "accepted"]


def test_bad_settings_are_refused_at_their_field_and_write_nothing(ctx, api):
    r = api.put("/api/v1/notification-settings/supplement", {"enabled": False}, "admin")
    assert r.status_code == 422 and "enabled" in r.json["errors"]["json"], r.json
    r = api.put("/api/v1/notification-settings/birthday", {"enabled": False}, "admin")
    assert r.status_code == 422 and "template" in r.json["errors"]["json"], r.json
    r = api.put("/api/v1/notification-settings/accepted", {"enabled": "no"}, "admin")
    assert r.status_code == 422 and "enabled" in r.json["errors"]["json"], r.json
    r = api.put("/api/v1/notification-settings/accepted", {}, "admin")
    assert r.status_code == 422 and "enabled" in r.json["errors"]["json"], r.json
    for user in ("clerk", "cgj-chief", "inspector"):
        assert api.put("/api/v1/notification-settings/accepted", {"enabled": False}, user).status_code == 403
        assert api.get("/api/v1/notifications/outbox", user).status_code == 403
    assert api.put("/api/v1/notification-settings/accepted", {"enabled": False}).status_code == 401
    with ctx.factory() as s:
        assert list(s.scalars(select(NotificationSetting))) == []


def test_the_outbox_shows_a_failed_message_masked_and_sends_it_again(ctx, api):
    code = api.apply_online()
    with ctx.factory.begin() as s:
        s.execute(update(Notification).values(status="failed", attempts=8, last_error="gateway answered 503"))
    r = api.get("/api/v1/notifications/outbox", "admin")
    assert r.status_code == 200 and r.json["counts"]["failed"] == 1
    [f] = r.json["failed"]
    assert f["case_code"] == code and f["recipient"] == "139****5678" and f["last_error"] == "gateway answered 503"
    ctx.dispatched.clear()
    r = api.post(f"/api/v1/notifications/{f['id']}/retry", None, "admin")
    assert r.status_code == 200 and r.json["status"] == "pending"
    assert ctx.dispatched == [f["id"]]  # handed to the worker after the commit
    r = api.post(f"/api/v1/notifications/{f['id']}/retry", None, "admin")
    assert r.status_code == 422 and "notification_id" in r.json["errors"]["json"]
    assert api.post("/api/v1/notifications/999999/retry", None, "admin").status_code == 404


def test_the_page_turns_a_kind_off_and_refuses_the_mandatory_ones(ctx, app, api):
    c = app.test_client()
    token = ui_sign_in(c, "admin")
    html = c.get("/staff/admin/notifications").get_data(as_text=True)
    assert "短信通知" in html and "必发（法定告知）" in html and "已受理（含承诺办结日期）" in html
    assert 'aria-label="关闭“补正告知（一次性告知）”短信"' not in html  # no button for a mandatory notice
    r = c.post("/staff/admin/notifications/accepted", data={"csrf_token": token, "enabled": "0"})
    assert r.status_code == 302
    html = c.get("/staff/admin/notifications").get_data(as_text=True)
    assert "短信已关闭" in html and 'aria-label="开启“已受理（含承诺办结日期）”短信"' in html
    r = c.post("/staff/admin/notifications/supplement", data={"csrf_token": csrf_of(html), "enabled": "0"})
    assert r.status_code == 302
    assert "不能" in c.get("/staff/admin/notifications").get_data(as_text=True)
    assert c.post("/staff/admin/notifications/accepted", data={"enabled": "1"}).status_code == 400  # no CSRF token
    kinds = {s["template"]: s for s in api.get("/api/v1/notification-settings", "admin").json}
    assert kinds["accepted"]["enabled"] is False and kinds["supplement"]["enabled"] is True
    clerk = app.test_client()
    ui_sign_in(clerk, "clerk")
    assert clerk.get("/staff/admin/notifications").status_code == 403
