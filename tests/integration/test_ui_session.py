"""Staff sign-in through the pages, as an attacker would try it: open redirects, session fixation,
guessing passwords, a revoked token, forged cross-site posts, markup in names."""
import re

import pytest

from tests.support import DEMO_PASSWORD, csrf_of, ui_sign_in

pytestmark = pytest.mark.integration


def login(c, username, password, next_url=None):  # type: ignore[no-untyped-def]
    token = csrf_of(c.get("/staff/login").get_data(as_text=True))
    data = {"username": username, "password": password, "csrf_token": token}
    if next_url is not None:
        data["next"] = next_url
    return c.post("/staff/login", data=data)


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_next_never_leaves_the_node(app, evil):
    r = login(app.test_client(), "clerk", DEMO_PASSWORD, evil)
    assert r.status_code == 302 and r.headers["Location"].startswith("/staff/")


def test_next_on_the_node_is_followed(app):
    r = login(app.test_client(), "admin", DEMO_PASSWORD, "/staff/admin/units")
    assert r.headers["Location"] == "/staff/admin/units"


def test_a_fresh_session_at_sign_in(app):
    c = app.test_client()
    before = csrf_of(c.get("/staff/login").get_data(as_text=True))
    after = ui_sign_in(c, "clerk")
    assert before != after  # the pre-sign-in CSRF secret (and session) is not carried over


def test_sign_in_without_the_csrf_token_is_refused(app):
    c = app.test_client()
    c.get("/staff/login")
    r = c.post("/staff/login", data={"username": "clerk", "password": DEMO_PASSWORD})
    assert r.status_code == 400
    assert c.get("/staff/").status_code == 302  # not signed in


def test_wrong_passwords_lock_the_account_as_the_api_does(app, api):
    c = app.test_client()
    for _ in range(5):
        assert login(c, "clerk", "wrong-password-1").status_code == 401
    r = login(c, "clerk", DEMO_PASSWORD)
    assert r.status_code == 423 and "已暂时锁定" in r.get_data(as_text=True) and "Retry-After" in r.headers
    r = api.c.post("/api/v1/auth/token", json={"username": "clerk", "password": DEMO_PASSWORD})
    assert r.status_code == 423  # one lock for the pages and the API


def test_signing_out_revokes_the_token_everywhere(app):
    c = app.test_client()
    token = ui_sign_in(c, "clerk")
    stolen = c.get_cookie("yiwang_session").value
    assert c.post("/staff/logout", data={"csrf_token": token}).status_code == 302
    c2 = app.test_client()
    c2.set_cookie("yiwang_session", stolen)  # the old cookie, replayed
    assert c2.get("/staff/").status_code == 302


def test_logout_needs_the_csrf_token(app):
    c = app.test_client()
    ui_sign_in(c, "clerk")
    assert c.post("/staff/logout").status_code == 400
    assert c.get("/staff/", follow_redirects=True).status_code == 200
    assert "李窗口" in c.get("/staff/", follow_redirects=True).get_data(as_text=True)


def test_markup_in_a_name_is_shown_as_text(app, api):
    r = api.post("/api/v1/staff", {"username": "x-clerk", "name": "<script>alert(1)</script>", "role": "clerk",
                                   "password": "correct horse battery staple 42"}, "admin")
    assert r.status_code == 201, r.json
    c = app.test_client()
    ui_sign_in(c, "admin")
    html = c.get("/staff/admin/staff?page=2").get_data(as_text=True) + c.get("/staff/admin/staff").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_session_cookie_flags(app):
    c = app.test_client()
    r = login(c, "clerk", DEMO_PASSWORD)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert re.search(r"yiwang_session=", cookie)


def test_secure_cookies_behind_tls(ctx):
    import dataclasses

    from node.api import create_app

    ctx.settings = dataclasses.replace(ctx.settings, secure_cookies=True)
    c = create_app(ctx=ctx).test_client()
    r = login(c, "clerk", DEMO_PASSWORD)
    assert "Secure" in r.headers["Set-Cookie"]


def test_the_signing_key_is_kept_private_and_shared(settings):
    import dataclasses
    import stat

    from admin_ui.session import SECRET_FILE, session_secret

    key = session_secret(settings)
    path = settings.data_dir / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= 48
    assert session_secret(settings) == key  # a second worker reads the same key
    assert session_secret(dataclasses.replace(settings, session_secret="from-the-environment")) == "from-the-environment"
