"""The applicant portal through Flask's test client: the catalog pages, applying online (fields
checked as the API checks them, the one-time notice before anything is written), and the actions
from the track page, each proved by the service code and the ID tail in the POSTed form."""
from __future__ import annotations

import io
import re
from typing import Any

import pytest

from tests.support import (
    ID_NUMBER,
    SIGN_FORM,
    SIGN_ITEM,
    SIGN_MATERIALS,
    material_bytes,
)

pytestmark = pytest.mark.integration

BUNDLE = "330105-LB-CG-001"  # 店招店牌设置一件事: a merged form (一表式)
IMMEDIATE = "330000-XK-SJ-001"  # 个体工商户设立登记: 即办件
APPLICANT = {"name": "张三明", "id_type": "resident_id", "id_number": ID_NUMBER, "phone": "13912345678"}


def _files(kinds: dict[str, str], tag: str = "") -> dict[str, Any]:
    return {f"file_{m}": (io.BytesIO(material_bytes(k, m + tag)), f"{m}.{k}") for m, k in kinds.items()}


def _apply(api: Any, item: str, action: str = "submit", files: dict[str, Any] | None = None, **fields: Any) -> Any:
    data = {**APPLICANT, "action": action, **fields, **(files or {})}
    return api.c.post(f"/items/{item}/apply", data=data, content_type="multipart/form-data")


def _cases(api: Any, item: str) -> int:
    r = api.get(f"/api/v1/cases?item_code={item}&page_size=500", "admin")
    assert r.status_code == 200, r.json
    body = r.json
    return len(body["items"] if isinstance(body, dict) else body)


def _submitted_code(api: Any) -> str:
    html = api.c.get("/applied").get_data(as_text=True)
    return re.search(r'id="service-code">([^<]+)<', html).group(1)  # type: ignore[union-attr]


def _error(html: str, field: str) -> str:
    m = re.search(rf'id="{re.escape(field)}-err">([^<]*)<', html)
    assert m, f"no error shown for {field}"
    return m.group(1)


def test_catalog_pages_filters_and_guide(api):
    first = api.c.get("/").get_data(as_text=True)
    assert "第 1 / 3 页" in first and SIGN_ITEM in first and 'rel="next"' in first
    second = api.c.get("/?page=2").get_data(as_text=True)
    assert "第 2 / 3 页" in second and SIGN_ITEM not in second
    only = api.c.get("/?kind=immediate").get_data(as_text=True)
    assert "共 1 个事项" in only and IMMEDIATE in only
    assert "共 0 个事项" in api.c.get("/?q=不存在的事项").get_data(as_text=True)
    guide = api.c.get(f"/items/{IMMEDIATE}").get_data(as_text=True)
    assert "即办" in guide and "0 个工作日" not in guide and "区市场监管局" in guide
    assert f'href="/items/{IMMEDIATE}/apply"' in guide and "在线申请" in guide
    bundle = api.c.get(f"/items/{BUNDLE}").get_data(as_text=True)
    assert "一件事包含的事项" in bundle and "交警拱墅大队" in bundle and "店铺名称（字号）" in bundle


def test_bad_id_number_names_the_field_and_writes_no_case(api):
    before = _cases(api, SIGN_ITEM)
    r = _apply(api, SIGN_ITEM, files=_files(SIGN_MATERIALS), id_number="110105194912310021")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "校验位" in _error(html, "id_number")
    assert re.search(r'id="id_number"[^>]*aria-invalid="true"', html)
    assert 'name="up_design"' in html  # the files uploaded are kept for the next try
    assert _cases(api, SIGN_ITEM) == before
    r = _apply(api, SIGN_ITEM, phone="138-0000")
    assert "只能填写数字" in _error(r.get_data(as_text=True), "phone")


def test_missing_material_shows_the_notice_and_writes_nothing(api):
    before = _cases(api, SIGN_ITEM)
    r = _apply(api, SIGN_ITEM)  # no file at all
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "一次性告知" in html
    for name in ("申请表", "申请人身份证明", "店招店牌设计效果图", "设置位置现状照片", "房屋产权人同意设置的证明"):
        assert name in html
    assert "营业执照 —" not in html  # conditional, not ticked: not asked for
    assert "缺少此材料" in _error(html, "m_owner-consent")
    assert _cases(api, SIGN_ITEM) == before and 'name="up_' not in html
    # the check step tells the same, and once the applicant ticks the condition, the license too
    r = _apply(api, SIGN_ITEM, action="check", cond="biz-license", files=_files({"application": "pdf"}))
    html = r.get_data(as_text=True)
    assert "一次性告知" in html and "营业执照" in html and 'name="up_application"' in html
    assert _cases(api, SIGN_ITEM) == before


def test_wrong_file_type_is_named_next_to_its_material(api):
    r = _apply(api, SIGN_ITEM, action="check", files=_files({"site-photo": "pdf"}))
    assert "文件格式不符" in _error(r.get_data(as_text=True), "m_site-photo")
    r = _apply(api, SIGN_ITEM, action="check",
               files={"file_design": (io.BytesIO(b"not a pdf at all"), "design.pdf")})
    assert "无法识别" in _error(r.get_data(as_text=True), "m_design")


def test_apply_then_act_from_the_track_page(api):
    r = _apply(api, SIGN_ITEM, files=_files(SIGN_MATERIALS))
    assert r.status_code == 302 and r.headers["Location"].endswith("/applied")
    code = _submitted_code(api)
    assert api.case(code)["applicant"]["id_number"] == ID_NUMBER
    api.post(f"/api/v1/cases/{code}/transitions", {"event": "request_supplement", "version": api.case(code)["version"],
             "reason": "效果图不清晰", "missing": [{"material_code": "design", "name": "店招店牌设计效果图"}]},
             user="clerk")
    page = api.c.post("/track", data={"code": code, "id_last4": "002X"}).get_data(as_text=True)
    assert "待补正材料" in page and "效果图不清晰" in page and 'name="s_file_design"' in page
    r = api.c.post("/track/supply", data={"code": code, "id_last4": "002x", "s_file_design":
                                          (io.BytesIO(material_bytes("pdf", "v2")), "v2.pdf")},
                   content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "补正材料已提交" in page and "s-supplementing" not in page
    assert len([m for m in api.case(code)["materials"] if m["material_code"] == "design"]) == 2
    r = api.c.post("/track/complain", data={"code": code, "id_last4": "002X", "text": "受理太慢"})
    assert r.status_code == 200 and "投诉已提交（编号" in r.get_data(as_text=True)
    r = api.c.post("/track/withdraw", data={"code": code, "id_last4": "002X"})
    assert r.status_code == 422 and "勾选确认" in _error(r.get_data(as_text=True), "withdraw-confirm")
    r = api.c.post("/track/withdraw", data={"code": code, "id_last4": "0000", "confirm": "yes"})
    assert r.status_code == 404 and "不符" in r.get_data(as_text=True)
    assert api.case(code)["status"] == "submitted"
    r = api.c.post("/track/withdraw", data={"code": code, "id_last4": "002X", "confirm": "yes", "reason": "不办了"})
    assert r.status_code == 200 and "申请已撤回" in r.get_data(as_text=True)
    assert api.case(code)["status"] == "withdrawn"


def test_rating_twice_is_refused_with_a_clear_message(api):
    code = api.apply_online()
    r = api.c.post("/track/rate", data={"code": code, "id_last4": "002X", "score": "5"})
    assert r.status_code == 409 and "办结后才能评价" in r.get_data(as_text=True)
    api.to_conclusion(code)
    r = api.c.post("/track/rate", data={"code": code, "id_last4": "002X", "score": "9"})
    assert r.status_code == 422 and "1 到 5 分" in _error(r.get_data(as_text=True), "rate-score")
    r = api.c.post("/track/rate", data={"code": code, "id_last4": "002X", "score": "4", "comment": "很快"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "感谢您的评价" in page and 'action="/track/rate"' not in page
    r = api.c.post("/track/rate", data={"code": code, "id_last4": "002X", "score": "1"})
    assert r.status_code == 409 and "已评价过，每个办件只能评价一次" in r.get_data(as_text=True)


def test_the_id_tail_never_appears_in_an_address(api):
    r = _apply(api, SIGN_ITEM, files=_files(SIGN_MATERIALS))
    code = _submitted_code(api)
    assert "002X" not in r.headers["Location"]
    urls = []
    for html in (api.c.get("/applied").get_data(as_text=True),
                 api.c.post("/track", data={"code": code, "id_last4": "002X"}).get_data(as_text=True)):
        urls += re.findall(r'(?:href|action)="([^"]*)"', html)
        forms = re.findall(r"<form[^>]*>", html)
        assert all('method="post"' in f for f in forms), forms
    assert urls and not any("002X" in u or "last4" in u for u in urls)
    page = api.c.get(f"/track?code={code}&id_last4=002X").get_data(as_text=True)
    assert "张*明" not in page  # a tail in the address is not used
    r = api.c.post("/track/rate", query_string={"id_last4": "002X"}, data={"code": code, "score": "5"})
    assert r.status_code == 422 and "后四位" in r.get_data(as_text=True)


def test_bundle_is_one_form_and_the_track_page_shows_its_parts(api):
    from node.seed import JOINT_ITEMS

    mats = {m["code"]: (m["file_types"] or ["pdf"])[0] for m in next(i for i in JOINT_ITEMS if i["code"] == BUNDLE)
            ["materials"] if m["requirement"] == "required"}
    r = _apply(api, BUNDLE, files=_files(mats))
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "请填写“店铺名称（字号）”" in _error(html, "f_shop_name")
    assert "请填写“设置地址”" in _error(html, "f_address")
    kept = dict(re.findall(r'name="((?:up|upname)_[\w-]+)" value="([^"]*)"', html))
    r = _apply(api, BUNDLE, **kept, **{f"f_{k}": v for k, v in SIGN_FORM.items()})
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    code = _submitted_code(api)
    assert api.case(code)["form"]["shop_name"] == SIGN_FORM["shop_name"]
    api.fire(code, "accept", "clerk")
    page = api.c.post("/track", data={"code": code, "id_last4": "002X"}).get_data(as_text=True)
    assert "并联办理的事项" in page and "交警拱墅大队" in page and "店招店牌登记名称核对" in page


@pytest.fixture
def tight(ctx):  # type: ignore[no-untyped-def]
    """A node whose anonymous clients may upload two files an hour."""
    from dataclasses import replace

    from node.api import create_app
    from node.services.context import NodeContext
    from tests.support import Client

    c = NodeContext.build(replace(ctx.settings, upload_quota_files=2), clock=ctx.clock)
    yield Client(create_app(ctx=c).test_client())
    c.engine.dispose()


def test_upload_budget_per_client_is_the_api_s(tight):
    r = _apply(tight, SIGN_ITEM, action="check", files=_files({"application": "pdf", "id": "pdf", "design": "pdf"}))
    html = r.get_data(as_text=True)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "上传次数或容量已达上限" in _error(html, "m_design")
    assert 'name="up_application"' in html and 'name="up_id"' in html  # the two within budget are kept
    r = tight.c.post("/api/v1/uploads", data={"file": (io.BytesIO(material_bytes("pdf", "x")), "x.pdf")},
                     content_type="multipart/form-data")
    assert r.status_code == 429  # one budget for the page and the API


def test_a_prior_approval_s_reference_is_checked_and_kept(api):
    food = {"application": "pdf", "id": "pdf", "food-safety": "pdf"}
    r = _apply(api, "330105-XK-SJ-005", files=_files(food), pre_0="营业执照!")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "证照编号为 4–40 位" in _error(html, "pre_0")
    kept = dict(re.findall(r'name="((?:up|upname)_[\w-]+)" value="([^"]*)"', html))
    r = _apply(api, "330105-XK-SJ-005", **kept, pre_0="91330105MA2TEST001")
    assert r.status_code == 302, r.get_data(as_text=True)[-1500:]
    got = api.case(_submitted_code(api))["prerequisites"]
    assert [(p["item_code"], p["kind"], p["reference"]) for p in got] == [
        ("330000-XK-SJ-001", "license", "91330105MA2TEST001")]


def test_a_part_asking_for_a_supplement_is_supplied_by_its_own_code(api):
    from tests.support import sign_application

    data = sign_application(api.c.application.extensions["yiwang"])
    data.update(item_code=BUNDLE, form=SIGN_FORM)
    r = api.post("/api/v1/public/applications", data)
    assert r.status_code == 201, r.json
    code = r.json["code"]
    api.fire(code, "accept", "clerk")
    part = next(p for p in api.case(code)["joint"]["parts"] if p["item_code"] == SIGN_ITEM)["code"]
    api.fire(part, "request_supplement", "cgj-handler", reason="效果图不清晰",
             missing=[{"material_code": "design", "name": "店招店牌设计效果图"}])
    page = api.c.post("/track", data={"code": code, "id_last4": "002X"}).get_data(as_text=True)
    assert f'href="/track?code={part}"' in page and "用此事项的监管码查询并补正" in page
    page = api.c.post("/track", data={"code": part, "id_last4": "002X"}).get_data(as_text=True)
    assert 'name="s_file_design"' in page and "所属一件事" in page
    r = api.c.post("/track/supply", data={"code": part, "id_last4": "002X", "s_file_design":
                                          (io.BytesIO(material_bytes("pdf", "p2")), "p2.pdf")},
                   content_type="multipart/form-data")
    assert r.status_code == 200 and "补正材料已提交" in r.get_data(as_text=True)
    assert api.case(part)["status"] == "in_progress"
