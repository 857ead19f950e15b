"""A prerequisite that is itself a part of the same joint case (前置审批结果 within one 联办件): no
reference is asked for, the parts run in parallel, the prerequisite is settled when its part
concludes -- approved: satisfied, stored with its license; refused: the dependent part cannot be
approved and is denied, the joint outcome follows the decision rule. SQLite and PostgreSQL."""
from __future__ import annotations

from typing import Any

from node.services import catalog
from node.services.context import SYSTEM
from tests.support import ID_NUMBER

JOINT = "330105-LB-SJ-099"
LICENSE, FOOD = "330000-XK-SJ-001", "330105-XK-SJ-005"  # 营业执照; 食品经营许可 requires it
KINDS = {"application": "pdf", "id": "pdf", "premises": "pdf", "food-safety": "pdf"}


def publish(ctx: Any, decision: str = "independent") -> None:
    def m(code: str, name: str) -> dict[str, Any]:
        return {"code": code, "name": name, "form": "original", "copies": 1, "requirement": "required",
                "condition": None, "file_types": ["pdf"]}
    with ctx.factory() as s:
        dept = catalog.current_version(s, LICENSE).item.department_id
    ctx.run(SYSTEM, catalog.publish_item, {
        "code": JOINT, "name": "个体食品店开办（营业执照＋食品经营许可）", "kind": "joint", "department_id": dept,
        "legal_limit_days": 20, "promised_limit_days": 5, "decision": decision,
        "parts": [{"item_code": FOOD}, {"item_code": LICENSE}],  # the dependent part listed first
        "stages": [{"kind": "accept", "name": "综合受理", "time_limit_days": 1, "role": "clerk"},
                   {"kind": "undertake", "name": "并联审批", "time_limit_days": 0, "role": "handler"},
                   {"kind": "conclude", "name": "统一出件", "time_limit_days": 0, "role": "clerk"}],
        "materials": [m("application", "申请表"), m("id", "申请人身份证明"), m("premises", "经营场所证明"),
                      m("food-safety", "食品安全管理制度及人员清单")]})


def accept(api: Any) -> dict[str, Any]:
    body = {"item_code": JOINT, "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"},
            "materials": [{"material_code": c, "upload_id": api.upload(k, c)} for c, k in KINDS.items()],
            "form": {}, "accept": True}
    r = api.post("/api/v1/cases", body, "clerk")
    assert r.status_code == 201, r.json
    return r.json


def prereq(api: Any, code: str) -> dict[str, Any]:
    [p] = api.case(code, "scjg-handler")["prerequisites"]
    return p


def to_approval(api: Any, code: str) -> None:
    api.fire(code, "undertake", "scjg-handler", opinion="符合条件")
    api.fire(code, "review", "scjg-reviewer")


def test_the_prerequisite_part_approved_settles_it_with_its_license(api, ctx):
    publish(ctx)
    j = accept(api)  # no license number asked for the food part: its prerequisite is part 2
    food, lic = (p["code"] for p in j["joint"]["parts"])
    p = prereq(api, food)
    assert (p["item_code"], p["kind"], p["valid"], p["reason"], p["reference"]) == \
        (LICENSE, "part", False, "pending", j["code"])
    # in parallel: the food part is worked up to its approval while the license part is open
    to_approval(api, food)
    api.fire(food, "approve", "scjg-approver")
    # but it does not conclude with approval (issuing its license) before its prerequisite
    r = api.fire(food, "conclude", "clerk", expect=409)
    assert "营业执照" in r["message"] and "has not concluded" in r["message"], r
    assert prereq(api, food)["reason"] == "pending"
    done = api.fire(lic, "conclude", "clerk")
    assert done["status"] == "concluded" and done["result"] == "approved"
    number = done["license"]["number"]
    p = prereq(api, food)
    assert p["valid"] is True and p["reason"] is None and p["reference"] == number and p["kind"] == "part"
    assert p["result_item_code"] == LICENSE and p["result_name"] == "营业执照"
    assert api.fire(food, "conclude", "clerk")["result"] == "approved"
    jc = api.case(j["code"])
    assert jc["status"] == "concluded" and jc["result"] == "approved"


def test_the_prerequisite_part_refused_blocks_the_dependent_approval(api, ctx):
    publish(ctx)
    j = accept(api)
    food, lic = (p["code"] for p in j["joint"]["parts"])
    to_approval(api, food)
    # the license part is denied (a paper-less immediate item: denied at its conclusion)
    api.fire(lic, "deny", "clerk", reason="经营场所不符合要求")
    p = prereq(api, food)
    assert p["valid"] is False and p["reason"] == "not_approved" and p["kind"] == "part"
    before = api.case(food, "scjg-handler")
    r = api.fire(food, "approve", "scjg-approver", expect=409)
    assert "营业执照" in r["message"] and "cannot be approved" in r["message"], r
    assert api.case(food, "scjg-handler")["version"] == before["version"]  # unchanged
    # the food part ends not approved; the joint outcome by its rule (independent: every part denied)
    api.fire(food, "deny", "scjg-approver", reason="前置审批未获批准")
    jc = api.case(j["code"])
    assert jc["status"] == "concluded" and jc["result"] == "denied"
    assert [x["result"] for x in jc["joint"]["parts"]] == ["denied", "denied"]
