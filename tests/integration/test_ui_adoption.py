"""The hall admin adopts a standard item pushed from the province on the 事项 page and localizes it
there: department, promised limit, materials (one per line, their form from the line), conditions,
legal basis, the licence, the three stages' limits and a fee; a bad limit, stage limits that are half given or
exceed the promised limit, and a bad fee are each refused at their field with nothing written."""
from __future__ import annotations

import re

import pytest

from tests.integration.test_standard_catalog import (  # noqa: F401
    city,
    client,
    county,
    province,
    publish,
    relay,
)
from tests.support import csrf_of, ui_sign_in

pytestmark = pytest.mark.integration
ITEM = "330000-XK-SJ-006"


def test_adopt_and_localize_a_pushed_county_item_on_the_page(api, province, city, county):  # noqa: F811
    from node.api import create_app

    publish(api, change="add", item_code=ITEM, name="食品小作坊登记", legal_limit_days=15, kind="promised",
            level="county")
    relay(province, city)
    relay(city, county)
    ui = create_app(ctx=county).test_client()
    ui_sign_in(ui, "admin")
    page = ui.get("/staff/admin").get_data(as_text=True)
    assert "上级推送的标准目录变更" in page and ITEM in page and "本地化内容" in page
    dept = re.search(r'<option value="(\d+)">区市场监管局</option>', page).group(1)
    url = f"/staff/admin/standard/{ITEM}/adoption"
    r = ui.post(url, data={"csrf_token": csrf_of(page), "action": "publish", "department_id": dept,
                           "promised_limit_days": "30"})  # above the legal 15
    assert r.status_code == 302
    page = ui.get("/staff/admin").get_data(as_text=True)
    assert "未能采用" in page and "字段：promised_limit_days" in page
    assert client(county).get(f"/api/v1/catalog/items/{ITEM}").status_code == 404  # nothing written
    for bad, field, zh in (({"undertake_days": "3"}, "review_days", "三个环节的时限请都填写"),
                           ({"undertake_days": "3", "review_days": "2", "approve_days": "2"}, "stages", "合计超过了承诺时限"),
                           ({"fee_name": "工本费", "fee_yuan": "1.234"}, "fee_yuan", "最多两位小数"),
                           ({"fee_yuan": "5"}, "fee_name", "请同时填写收费项目"),
                           ({"materials": "申请表\n租赁合同；条件："}, "materials", "第 2 行")):
        r = ui.post(url, data={"csrf_token": csrf_of(page), "action": "publish", "department_id": dept,
                               "promised_limit_days": "5", **bad})
        assert r.status_code == 302
        page = ui.get("/staff/admin").get_data(as_text=True)
        assert "未能采用" in page and f"字段：{field}" in page and zh in page, re.findall(r"flash[^<]*<[^<]*", page)
        assert client(county).get(f"/api/v1/catalog/items/{ITEM}").status_code == 404  # nothing written
    r = ui.post(url, data={"csrf_token": csrf_of(page), "action": "publish", "department_id": dept,
                           "promised_limit_days": "5", "undertake_days": "2", "review_days": "1", "approve_days": "1",
                           "fee_name": "工本费", "fee_yuan": "12.50", "fee_basis": "浙价费〔2020〕1号",
                           "materials": "食品小作坊登记申请表\n申请人身份证明（复印件）\n生产场所使用证明（原件及复印件）\n"
                                        "场所租赁合同（复印件）；条件：生产场所为租赁的",
                           "conditions": "有与生产加工食品相适应的场所", "legal_basis": "《浙江省食品小作坊小餐饮店小食杂店和食品摊贩管理规定》",
                           "license_name": "食品小作坊登记证", "license_validity_days": "1095"})
    assert r.status_code == 302
    assert "已采用省级标准" in ui.get("/staff/admin").get_data(as_text=True)
    item = client(county).get(f"/api/v1/catalog/items/{ITEM}").json
    assert item["name"] == "食品小作坊登记" and item["legal_limit_days"] == 15 and item["promised_limit_days"] == 5
    assert [(m["name"], m["form"], m["requirement"]) for m in item["materials"]] == [
        ("食品小作坊登记申请表", "original", "required"), ("申请人身份证明", "copy", "required"),
        ("生产场所使用证明", "original_and_copy", "required"), ("场所租赁合同", "copy", "conditional")]
    assert item["materials"][3]["condition"] == "生产场所为租赁的" and item["materials"][0]["condition"] is None
    assert item["conditions"] == "有与生产加工食品相适应的场所" and item["license_name"] == "食品小作坊登记证"
    assert item["license_validity_days"] == 1095 and item["issues_license"] is True
    assert [(st["kind"], st["time_limit_days"]) for st in item["stages"]] == [
        ("accept", 1), ("undertake", 2), ("review", 1), ("approve", 1), ("conclude", 0)]
    assert item["fees"] == [{"name": "工本费", "amount_fen": 1250, "basis": "浙价费〔2020〕1号"}]
