"""The applicant portal in a real browser: search the catalog, read the guide, apply online with
uploads (the one-time notice first), get the service code, then track the case, supply what the
clerk asked for and rate it once concluded."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot
from tests.support import SIGN_FORM, SIGN_MATERIALS, material_bytes

pytestmark = pytest.mark.e2e

NAMES = {"application": "申请表", "id": "申请人身份证明", "design": "店招店牌设计效果图", "site-photo": "设置位置现状照片",
         "owner-consent": "房屋产权人同意设置的证明"}


def _file(tmp_path: Path, code: str, kind: str, tag: str = "") -> str:
    p = tmp_path / f"{code}{tag}.{kind}"
    p.write_bytes(material_bytes(kind, code + tag))
    return str(p)


def _fill_applicant(page: Any) -> None:
    page.get_by_label("申请人姓名（名称）").fill("张三明")
    page.get_by_label("证件号码").fill("11010519491231002X")
    page.get_by_label("手机号码").fill("13912345678")


def _service_code(page: Any) -> str:
    code = page.locator("#service-code").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z\-]{20,40}", code), code
    return code


def _track(page: Any, node: Any, code: str) -> None:
    page.goto(f"{node.url}/track?code={code}")
    page.get_by_label("证件号后四位", exact=True).fill("002X")
    page.get_by_role("button", name="查询").click()
    assert "002X" not in page.url


def test_applicant_applies_on_a_phone_supplies_and_rates(phone, node, tmp_path):
    page = phone
    page.goto(node.url)
    page.get_by_label("搜索事项").fill("店招")
    page.get_by_role("button", name="搜索").click()
    shot(page, "portal-catalog")
    page.get_by_role("link", name=re.compile("设置大型户外广告")).click()
    assert page.get_by_role("heading", name="申请材料").is_visible()
    assert page.get_by_text("区城管办").first.is_visible()
    shot(page, "portal-guide")
    page.get_by_role("link", name="在线申请").first.click()

    _fill_applicant(page)
    for code, kind in SIGN_MATERIALS.items():
        if code != "owner-consent":  # one material left out
            page.get_by_label(NAMES[code]).set_input_files(_file(tmp_path, code, kind))
    page.get_by_role("button", name="检查材料").click()
    notice = page.locator("#notice")
    assert "一次性告知" in notice.inner_text() and NAMES["owner-consent"] in notice.inner_text()
    assert page.get_by_text("已上传：design.pdf").is_visible()  # what was entered is kept
    assert page.get_by_label("申请人姓名（名称）").input_value() == "张三明"
    shot(page, "portal-apply-notice")
    page.get_by_label(NAMES["owner-consent"]).set_input_files(_file(tmp_path, "owner-consent", "pdf"))
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("heading", name="申请已提交")).to_be_visible()
    code = _service_code(page)
    shot(page, "portal-submitted")

    api = node.api
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "request_supplement", "version": api.case(code)["version"],
                 "reason": "效果图不清晰", "missing": [{"material_code": "design", "name": NAMES["design"]}]},
                 user="clerk")
    assert r.status_code == 200, r.json
    page.get_by_role("link", name="查询办理进度").click()
    page.get_by_label("证件号后四位", exact=True).fill("002X")
    page.get_by_role("button", name="查询").click()
    assert page.locator(".status").inner_text() == "待补正材料"
    assert page.get_by_text("效果图不清晰").is_visible()
    shot(page, "portal-track-supplement")
    supply = page.locator("#supply")
    supply.get_by_label(NAMES["design"]).set_input_files(_file(tmp_path, "design", "pdf", "-v2"))
    supply.get_by_label("证件号后四位（再次核验）").fill("002X")
    supply.get_by_role("button", name="提交补正材料").click()
    assert "补正材料已提交" in page.locator("#supply-done").inner_text()
    assert page.locator(".status").inner_text() == "已申报，待受理"

    api.to_conclusion(code)
    _track(page, node, code)
    assert page.locator(".status").inner_text() == "已办结"
    rate = page.locator("#rate")
    rate.get_by_label("5 分 · 非常满意").check()
    rate.get_by_label("评价内容（可选）").fill("材料一次讲清，很方便")
    rate.get_by_label("证件号后四位（再次核验）").fill("002X")
    rate.get_by_role("button", name="提交评价").click()
    assert "感谢您的评价" in page.locator("#rate-done").inner_text()
    assert page.get_by_role("button", name="提交评价").count() == 0
    shot(page, "portal-track")
    assert "002X" not in page.url
    assert page.js_errors == []


def test_bundle_on_desktop_one_form_and_its_parts(page, node, tmp_path):
    page.goto(node.url)
    shot(page, "portal-catalog")
    page.get_by_label("办件类型").select_option("joint")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("link", name=re.compile("店招店牌设置一件事")).click()
    assert page.get_by_role("heading", name="一件事包含的事项").is_visible()
    shot(page, "portal-guide")
    page.get_by_role("link", name="在线申请").first.click()
    _fill_applicant(page)
    page.get_by_role("button", name="提交申请").click()  # nothing uploaded, no form filled: told at once
    assert "一次性告知" in page.locator("#notice").inner_text()
    assert page.locator("#f_shop_name-err").inner_text() == "请填写“店铺名称（字号）”。"
    shot(page, "portal-apply-notice")
    page.js_errors.clear()  # the refused submission's 422 is the browser's console line, not a script error
    labels = {"shop_name": "店铺名称（字号）", "address": "设置地址", "size": "店招尺寸（长×高，米）"}
    for k, v in SIGN_FORM.items():
        page.get_by_label(labels[k]).fill(v)
    for code, kind in SIGN_MATERIALS.items():
        page.get_by_label(NAMES[code]).set_input_files(_file(tmp_path, code, kind, "-b"))
    page.get_by_role("button", name="提交申请").click()
    code = _service_code(page)
    shot(page, "portal-submitted")
    node.api.fire(code, "accept", "clerk")
    _track(page, node, code)
    parts = page.locator("section", has=page.get_by_role("heading", name="并联办理的事项"))
    expect(parts.get_by_text("交警拱墅大队")).to_be_visible()
    expect(parts.get_by_text("规划拱墅分局")).to_be_visible()
    shot(page, "portal-track")
    assert page.js_errors == []
