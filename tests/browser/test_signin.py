"""Staff sign-in and sign-out in a real browser; the API documentation's page runs from local assets."""
import re

import pytest

from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def test_sign_in_lands_on_role_page_and_sign_out_revokes(page, node):
    page.goto(f"{node.url}/staff/login")
    page.get_by_label("用户名").fill("clerk")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误。"
    shot(page, "staff-login")
    page.js_errors.clear()  # the 401 of the wrong password is the browser's console line, not a script error
    sign_in(page, node, "clerk")
    assert page.get_by_text("李窗口").first.is_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["yiwang_session"]["httpOnly"] and cookies["yiwang_session"]["sameSite"] == "Lax"
    page.get_by_role("button", name="退出").click()
    assert re.search(r"/staff/login", page.url)
    page.goto(f"{node.url}/staff/")  # the old session no longer opens a page
    assert "/staff/login" in page.url
    assert page.js_errors == []


def test_api_docs_render_from_local_assets(page, node):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{node.url}/docs")
    page.get_by_text("Yiwang node API").first.wait_for()
    assert all(u.startswith((node.url, "data:")) for u in requests), requests
    shot(page, "api-docs")
    assert page.js_errors == []
