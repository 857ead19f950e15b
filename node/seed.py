"""The demo hall: Gongshu district (330105) — city management, market supervision, traffic police
and planning — with the items the Gongshu documents name, the sub-district office of Kangqiao
(康桥街道, a unit with its own staff and an item) and its village service point; one item
(食品经营许可) requires a prior approval (营业执照) verified by its result."""
from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy import select

from node.domain.lifecycle import Actor
from node.domain.roles import Role
from node.persistence.models import Department, Staff
from node.services import catalog, org
from node.services.context import SYSTEM, NodeContext

DEPARTMENTS = [
    ("cgj", "区城管办", "department"),
    ("scjg", "区市场监管局", "department"),
    ("jj", "交警拱墅大队", "department"),
    ("gh", "规划拱墅分局", "department"),
    ("kq", "康桥街道办事处", "town"),
    ("kq-bm", "康桥街道便民服务中心", "service_point"),
]
PARENT_UNITS = {"kq-bm": "kq"}
"""Village service points and the town or sub-district office they belong to (村—镇—区)."""


def _stages(undertake: int, review: int, approve: int, conclude: int = 0, accept: int = 1) -> list[dict[str, Any]]:
    return [
        {"kind": "accept", "name": "受理", "time_limit_days": accept, "role": "clerk"},
        {"kind": "undertake", "name": "承办", "time_limit_days": undertake, "role": "handler"},
        {"kind": "review", "name": "审核", "time_limit_days": review, "role": "reviewer"},
        {"kind": "approve", "name": "批准", "time_limit_days": approve, "role": "approver"},
        {"kind": "conclude", "name": "办结", "time_limit_days": conclude, "role": "clerk"},
    ]


def _m(code: str, name: str, form: str = "original", requirement: str = "required", condition: str | None = None,
       types: tuple[str, ...] = ("pdf", "jpg", "png")) -> dict[str, Any]:
    return {"code": code, "name": name, "form": form, "copies": 1, "requirement": requirement,
            "condition": condition, "file_types": list(types)}


APPLICATION = _m("application", "申请表")
ID_CARD = _m("id", "申请人身份证明", form="copy")
LICENSE_COPY = _m("biz-license", "营业执照", form="copy", requirement="conditional", condition="申请人为企业或个体工商户时提供")

ITEMS: list[dict[str, Any]] = [
    {"code": "330105-XK-CG-001", "dept": "cgj", "name": "设置大型户外广告及在城市建筑物、设施上悬挂、张贴宣传品审批（店招店牌）",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
     "materials": [APPLICATION, ID_CARD, LICENSE_COPY, _m("design", "店招店牌设计效果图"),
                   _m("site-photo", "设置位置现状照片", types=("jpg", "png")),
                   _m("owner-consent", "房屋产权人同意设置的证明", form="original_and_copy")],
     "legal_basis": "《城市市容和环境卫生管理条例》第十一条；《杭州市户外广告设施设置管理办法》",
     "conditions": "设置位置符合户外广告设置规划；设施安全牢固；与建筑立面协调。",
     "fees": [], "issues_license": True, "license_name": "户外广告设置许可证", "license_validity_days": 365},
    {"code": "330105-XK-CG-002", "dept": "cgj", "name": "城市建筑垃圾（渣土）处置核准",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
     "materials": [APPLICATION, ID_CARD, _m("contract", "建筑垃圾运输合同"), _m("site-plan", "消纳场地证明"),
                   _m("vehicles", "运输车辆清单及道路运输证", form="copy")],
     "legal_basis": "《城市建筑垃圾管理规定》（建设部令第139号）第七条",
     "conditions": "有消纳场地；运输车辆密闭并取得道路运输证。",
     "fees": [], "issues_license": True, "license_name": "工程渣土运输处置证", "license_validity_days": 180},
    {"code": "330105-XK-CG-003", "dept": "cgj", "name": "临时占用城市绿地及砍伐、迁移城市树木审批（绿化）",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
     "materials": [APPLICATION, ID_CARD, _m("greening-plan", "绿化现状及占用（迁移）方案"),
                   _m("restore-plan", "恢复绿化承诺书")],
     "legal_basis": "《城市绿化条例》第十九条、第二十条",
     "fees": [{"name": "绿化补偿费", "amount_fen": 0, "basis": "按实际占用面积核定"}],
     "issues_license": True, "license_name": "绿化审批决定书", "license_validity_days": 90},
    {"code": "330105-XK-CG-004", "dept": "cgj", "name": "挖掘城市道路审批",
     "kind": "joint", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
     "materials": [APPLICATION, ID_CARD, _m("plan-approval", "规划部门批准文件", form="copy"),
                   _m("construction-plan", "施工方案及交通组织方案"), _m("drawing", "挖掘位置平面图")],
     "legal_basis": "《城市道路管理条例》第三十条、第三十三条",
     "fees": [{"name": "城市道路挖掘修复费", "amount_fen": 0, "basis": "按挖掘面积核定"}],
     "issues_license": True, "license_name": "城市道路挖掘许可证", "license_validity_days": 60},
    {"code": "330105-XK-CG-005", "dept": "cgj", "name": "临时占用城市道路审批",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
     "materials": [APPLICATION, ID_CARD, _m("occupation-plan", "占道位置示意图及期限说明"),
                   _m("police-opinion", "公安交通管理部门意见", requirement="conditional",
                      condition="影响交通安全时提供")],
     "legal_basis": "《城市道路管理条例》第三十一条",
     "fees": [{"name": "城市道路占用费", "amount_fen": 0, "basis": "按占用面积和期限核定"}],
     "issues_license": True, "license_name": "临时占用城市道路许可证", "license_validity_days": 30},
    {"code": "330105-XK-JJ-001", "dept": "jj", "name": "占用、挖掘道路影响交通安全审批（交警意见）",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
     "materials": [APPLICATION, ID_CARD, _m("traffic-plan", "交通安全设施设置方案")],
     "legal_basis": "《中华人民共和国道路交通安全法》第三十二条", "issues_license": False},
    {"code": "330105-XK-GH-001", "dept": "gh", "name": "户外广告设施设置规划审查意见",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 7, "stages": _stages(3, 2, 1),
     "materials": [APPLICATION, _m("design", "设计效果图"), _m("site-plan", "位置图")],
     "legal_basis": "《中华人民共和国城乡规划法》", "issues_license": False},
    {"code": "330105-XK-SJ-001", "dept": "scjg", "name": "个体工商户设立登记",
     "kind": "immediate", "legal_limit_days": 15, "promised_limit_days": 0,
     "stages": [{"kind": "accept", "name": "受理", "time_limit_days": 0, "role": "clerk"},
                {"kind": "conclude", "name": "核准发照", "time_limit_days": 0, "role": "clerk"}],
     "materials": [APPLICATION, ID_CARD, _m("premises", "经营场所证明")],
     "legal_basis": "《促进个体工商户发展条例》；《市场主体登记管理条例》",
     "issues_license": True, "license_name": "营业执照", "license_validity_days": None},
    {"code": "330105-XK-SJ-002", "dept": "scjg", "name": "食品经营许可（仅销售预包装食品）",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
     "materials": [APPLICATION, ID_CARD, _m("food-safety", "食品安全管理制度及人员清单")],
     "prerequisites": [{"item_code": "330105-XK-SJ-001", "name": "营业执照"}],
     "legal_basis": "《中华人民共和国食品安全法》第三十五条；《食品经营许可和备案管理办法》",
     "conditions": "已取得营业执照（前置审批结果在线核验，无需提交复印件）；有与经营品种相适应的场所。",
     "issues_license": True, "license_name": "食品经营许可证", "license_validity_days": 1825},
    {"code": "330105-QT-KQ-001", "dept": "kq", "name": "村（社区）公益性临时设施设置审核（街道）",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5,
     "stages": [{"kind": "accept", "name": "受理", "time_limit_days": 1, "role": "clerk"},
                {"kind": "undertake", "name": "街道承办", "time_limit_days": 2, "role": "handler"},
                {"kind": "approve", "name": "街道批准", "time_limit_days": 1, "role": "approver"},
                {"kind": "conclude", "name": "办结", "time_limit_days": 0, "role": "clerk"}],
     "materials": [APPLICATION, ID_CARD, _m("village-opinion", "村（社区）意见")],
     "legal_basis": "《浙江省村镇规划建设管理条例》", "issues_license": False},
]


def load_demo(ctx: NodeContext, password: str) -> Iterator[str]:
    with ctx.factory() as s:
        if s.scalar(select(Department.id).limit(1)) is not None:
            yield "demo data already loaded (departments exist); nothing changed"
            return
    admin = ctx.run(SYSTEM, org.create_staff, username="admin", name="王大厅", password=password, role="admin")
    a = Actor("staff", admin.id, Role.ADMIN)
    dept_ids: dict[str, int] = {}
    for code, name, kind in DEPARTMENTS:
        parent = dept_ids[PARENT_UNITS[code]] if code in PARENT_UNITS else None
        dept_ids[code] = ctx.run(a, org.create_department, code, name, kind, parent).id
    people = [("clerk", "李窗口", "clerk", None, "13800000001"), ("inspector", "赵监察", "inspector", None, None),
              ("agent-kq", "钱代办", "agent", "kq-bm", "13800000009")]
    for code in ("cgj", "scjg", "jj", "gh"):
        people += [(f"{code}-chief", f"{code}首席代表", "chief", code, None),
                   (f"{code}-handler", f"{code}承办人A", "handler", code, "13800000002"),
                   (f"{code}-handler-b", f"{code}承办人B", "handler", code, None),
                   (f"{code}-reviewer", f"{code}审核人", "reviewer", code, None),
                   (f"{code}-approver", f"{code}批准人", "approver", code, None)]
    people += [("kq-chief", "康桥街道首席代表", "chief", "kq", None),
               ("kq-handler", "康桥街道承办人", "handler", "kq", "13800000012"),
               ("kq-approver", "康桥街道批准人", "approver", "kq", None)]
    made: dict[str, int] = {}
    for username, name, role, dept, phone in people:
        made[username] = ctx.run(a, org.create_staff, username=username, name=name, password=password, role=role,
                                          department_id=dept_ids[dept] if dept else None, phone=phone).id
    for code in ("cgj", "scjg", "jj", "gh"):
        ctx.run(a, org.update_staff, made[f"{code}-handler"], backup_id=made[f"{code}-handler-b"])
    for it in ITEMS:
        data = {k: v for k, v in it.items() if k != "dept"}
        data["department_id"] = dept_ids[it["dept"]]
        ctx.run(a, catalog.publish_item, data)
    with ctx.factory() as s:
        n = len(list(s.scalars(select(Staff.id))))
    yield f"demo hall {ctx.settings.node_id} {ctx.settings.node_name}: {len(DEPARTMENTS)} units, {len(ITEMS)} items, {n} accounts"
    yield f"accounts (password '{password}'): admin, clerk, inspector, agent-kq, <dept>-chief, <dept>-handler, " \
          "<dept>-handler-b, <dept>-reviewer, <dept>-approver for dept in cgj scjg jj gh; the town 康桥街道 (kq): " \
          "kq-chief, kq-handler, kq-approver"
