"""The demo hall: Gongshu district (330105) — city management, market supervision, traffic police,
planning, public security, tax and the Kangqiao sub-district office (康桥街道, a unit with its own staff
and items, and its village service point) — with the items the Gongshu documents name, the joint items
(联办件) and bundles (一件事: 企业开办, 店招店牌, 农村村民住宅建房) made of them, and one item (食品经营许可)
that requires a prior approval (营业执照) verified by its result."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from node.domain.divisions import expected_parent, level_of
from node.domain.lifecycle import Actor
from node.domain.roles import Role
from node.persistence.models import Department, Staff
from node.seed_common import APPLICATION, ID_CARD, LICENSE_COPY, _m, _stages
from node.seed_upper import (
    CITY_DEPARTMENTS,
    PROVINCE_DEPARTMENTS,
    STANDARD_CHANGES,
    city_items,
    province_items,
)
from node.services import catalog, org, standard_catalog
from node.services.context import SYSTEM, NodeContext

DEPARTMENTS = [
    ("cgj", "区城管办", "department"),
    ("scjg", "区市场监管局", "department"),
    ("jj", "交警拱墅大队", "department"),
    ("gh", "规划拱墅分局", "department"),
    ("kq", "康桥街道办事处", "town"),
    ("kq-bm", "康桥街道便民服务中心", "service_point"),
    ("ga", "拱墅区公安分局", "department"),
    ("sw", "国家税务总局杭州市拱墅区税务局", "department"),
]
STAFFED = ("cgj", "scjg", "jj", "gh", "ga", "sw", "kq")
"""The units whose staff the demo creates (chief, two handlers, reviewer, approver each)."""
PARENT_UNITS = {"kq-bm": "kq"}
"""Village service points and the town or sub-district office they belong to (村—镇—区)."""


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
    # under the province's standard code (全省统一编码, ``node.seed_upper.STANDARD_CHANGES``): a licence of
    # any district counts as the prior approval of another's 食品经营许可
    {"code": "330000-XK-SJ-001", "dept": "scjg", "name": "个体工商户设立登记",
     "kind": "immediate", "legal_limit_days": 15, "promised_limit_days": 0,
     "stages": [{"kind": "accept", "name": "受理", "time_limit_days": 0, "role": "clerk"},
                {"kind": "conclude", "name": "核准发照", "time_limit_days": 0, "role": "clerk"}],
     "materials": [APPLICATION, ID_CARD, _m("premises", "经营场所证明")],
     "legal_basis": "《促进个体工商户发展条例》；《市场主体登记管理条例》",
     "issues_license": True, "license_name": "营业执照", "license_validity_days": None},
    {"code": "330105-XK-SJ-005", "dept": "scjg", "name": "食品经营许可（仅销售预包装食品）",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
     "materials": [APPLICATION, ID_CARD, _m("food-safety", "食品安全管理制度及人员清单")],
     "prerequisites": [{"item_code": "330000-XK-SJ-001", "name": "营业执照"}],
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
    # 店招店牌: the market supervisor's check of the name on the sign (the fourth department of the
    # Gongshu shop-sign procedure: 城管办, 工商分局, 交警, 规划分局)
    {"code": "330105-XK-SJ-002", "dept": "scjg", "name": "店招店牌登记名称核对（字号与登记名称一致性审查）",
     "kind": "promised", "legal_limit_days": 15, "promised_limit_days": 3, "stages": _stages(1, 1, 0),
     "materials": [APPLICATION, LICENSE_COPY, _m("design", "店招店牌设计效果图")],
     "legal_basis": "《企业名称登记管理规定》第二十一条；《市场主体登记管理条例》",
     "conditions": "店招店牌所用字号与登记的名称（字号）一致。", "issues_license": False},
    # 企业开办: registration, seal engraving, organization code, national and local tax
    {"code": "330105-XK-SJ-003", "dept": "scjg", "name": "企业设立登记",
     "kind": "promised", "legal_limit_days": 15, "promised_limit_days": 3, "stages": _stages(1, 1, 0),
     "materials": [_m("application", "公司登记（备案）申请书"), _m("articles", "公司章程"),
                   _m("shareholders", "股东主体资格证明或自然人身份证明", form="copy"),
                   _m("officers", "法定代表人、董事、监事和经理的任职文件及身份证明", form="copy"),
                   _m("premises", "住所使用证明")],
     "legal_basis": "《中华人民共和国公司法》第二十九条；《市场主体登记管理条例》第十九条",
     "conditions": "申请材料齐全、符合法定形式。", "issues_license": True, "license_name": "营业执照",
     "license_validity_days": None},
    {"code": "330105-XK-SJ-004", "dept": "scjg", "name": "组织机构代码登记",
     "kind": "promised", "legal_limit_days": 5, "promised_limit_days": 2, "stages": _stages(1, 0, 0),
     "materials": [APPLICATION, LICENSE_COPY],
     "legal_basis": "《组织机构代码管理办法》（国家质量技术监督局令第6号）；《国务院办公厅关于加快推进“三证合一”登记制度改革的意见》",
     "issues_license": True, "license_name": "组织机构代码证", "license_validity_days": 1460},
    {"code": "330105-XK-GA-001", "dept": "ga", "name": "公章刻制备案",
     "kind": "promised", "legal_limit_days": 5, "promised_limit_days": 1, "stages": _stages(1, 0, 0),
     "materials": [APPLICATION, LICENSE_COPY, _m("legal-rep-id", "法定代表人身份证明", form="copy"),
                   _m("seal-sample", "印章印模")],
     "legal_basis": "《印铸刻字业暂行管理规则》；《国务院关于第三批取消中央指定地方实施行政许可事项的决定》（国发〔2017〕7号）",
     "issues_license": False},
    {"code": "330105-XK-SW-001", "dept": "sw", "name": "税务登记（原国税事项）",
     "kind": "promised", "legal_limit_days": 30, "promised_limit_days": 1, "stages": _stages(1, 0, 0),
     "materials": [APPLICATION, LICENSE_COPY, _m("bank-account", "银行开户证明", form="copy")],
     "legal_basis": "《中华人民共和国税收征收管理法》第十五条；《税务登记管理办法》",
     "issues_license": False},
    {"code": "330105-XK-SW-002", "dept": "sw", "name": "税务登记（原地税事项）",
     "kind": "promised", "legal_limit_days": 30, "promised_limit_days": 1, "stages": _stages(1, 0, 0),
     "materials": [APPLICATION, LICENSE_COPY],
     "legal_basis": "《中华人民共和国税收征收管理法》第十五条；《税务登记管理办法》",
     "issues_license": False},
    # 农村村民住宅建房: the town's review, then the district planning approval after a joint site
    # inspection (联合踏勘) of the town and the planning bureau
    {"code": "330105-XK-KQ-001", "dept": "kq", "name": "农村村民住宅建房申请审查（街道审核）",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 7, "stages": _stages(3, 2, 1),
     "materials": [_m("application", "农村宅基地和建房（规划许可）申请表"), ID_CARD,
                   _m("household", "户口簿", form="copy"), _m("village-opinion", "村民小组、村委会意见")],
     "legal_basis": "《中华人民共和国土地管理法》第六十二条；《浙江省土地管理条例》",
     "conditions": "一户一宅；符合村庄规划和用途管制要求。", "issues_license": False},
    {"code": "330105-XK-GH-002", "dept": "gh", "name": "乡村建设规划许可证核发（农村村民住宅）",
     "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 10,
     "stages": [{"kind": "accept", "name": "受理", "time_limit_days": 1, "role": "clerk"},
                {"kind": "undertake", "name": "承办", "time_limit_days": 3, "role": "handler"},
                {"kind": "joint_inspection", "name": "联合踏勘", "time_limit_days": 3, "role": "reviewer",
                 "departments": ["kq", "gh"]},
                {"kind": "approve", "name": "批准", "time_limit_days": 2, "role": "approver"},
                {"kind": "conclude", "name": "办结", "time_limit_days": 0, "role": "clerk"}],
     "materials": [APPLICATION, ID_CARD, _m("site-plan", "建房位置图及设计图")],
     "legal_basis": "《中华人民共和国城乡规划法》第四十一条",
     "issues_license": True, "license_name": "乡村建设规划许可证", "license_validity_days": 365},
]


def _joint_stages() -> list[dict[str, Any]]:
    """A joint case's own stages: accepted at the window, worked by its parts, concluded with the last."""
    return [{"kind": "accept", "name": "综合受理", "time_limit_days": 1, "role": "clerk"},
            {"kind": "undertake", "name": "并联审批", "time_limit_days": 0, "role": "handler"},
            {"kind": "conclude", "name": "统一出件", "time_limit_days": 0, "role": "clerk"}]


def _f(name: str, label: str, maps: list[tuple[str, str]], required: bool = True) -> dict[str, Any]:
    return {"name": name, "label": label, "required": required,
            "maps_to": [{"part": p, "field": f} for p, f in maps]}


OPENING = ("330105-XK-SJ-003", "330105-XK-GA-001", "330105-XK-SJ-004", "330105-XK-SW-001", "330105-XK-SW-002")
SIGN_PARTS = ("330105-XK-CG-001", "330105-XK-SJ-002", "330105-XK-JJ-001", "330105-XK-GH-001")
JOINT_ITEMS: list[dict[str, Any]] = [
    {"code": "330105-LB-SJ-001", "dept": "scjg", "name": "企业开办一件事（营业执照、公章刻制、组织机构代码、税务登记）",
     "kind": "joint", "legal_limit_days": 30, "promised_limit_days": 3, "stages": _joint_stages(),
     "parts": [{"item_code": c} for c in OPENING], "decision": "independent",
     "materials": [_m("application", "企业开办一表式申请表"), _m("articles", "公司章程"),
                   _m("officers", "法定代表人、董事、监事和经理的任职文件及身份证明", form="copy"),
                   _m("premises", "住所使用证明"), _m("seal-sample", "印章印模")],
     "fields": [_f("company_name", "企业名称", [(OPENING[0], "name"), (OPENING[1], "org_name"),
                                                (OPENING[2], "org_name"), (OPENING[3], "taxpayer_name"),
                                                (OPENING[4], "taxpayer_name")]),
                _f("legal_rep", "法定代表人", [(OPENING[0], "legal_rep"), (OPENING[1], "legal_rep"),
                                               (OPENING[3], "legal_rep"), (OPENING[4], "legal_rep")]),
                _f("address", "住所", [(OPENING[0], "address"), (OPENING[2], "address"), (OPENING[3], "address"),
                                       (OPENING[4], "address")]),
                _f("registered_capital", "注册资本（万元）", [(OPENING[0], "capital")]),
                _f("business_scope", "经营范围", [(OPENING[0], "scope"), (OPENING[3], "scope")]),
                _f("seal_kinds", "刻制印章种类", [(OPENING[1], "seals")], required=False)],
     "legal_basis": "《国务院办公厅关于进一步优化营商环境降低市场主体制度性交易成本的意见》；浙江省“一件事”集成改革",
     "conditions": "一表申请、一窗受理、并联办理、统一出件。", "issues_license": False},
    {"code": "330105-LB-CG-001", "dept": "cgj", "name": "店招店牌设置一件事（城管、市场监管、交警、规划联办）",
     "kind": "joint", "legal_limit_days": 20, "promised_limit_days": 7, "stages": _joint_stages(),
     "parts": [{"item_code": c} for c in SIGN_PARTS], "decision": "all_must_approve",
     "materials": [APPLICATION, ID_CARD, LICENSE_COPY, _m("design", "店招店牌设计效果图"),
                   _m("site-photo", "设置位置现状照片", types=("jpg", "png")),
                   _m("owner-consent", "房屋产权人同意设置的证明", form="original_and_copy")],
     "fields": [_f("shop_name", "店铺名称（字号）", [(SIGN_PARTS[0], "shop_name"), (SIGN_PARTS[1], "trade_name"),
                                                    (SIGN_PARTS[3], "shop_name")]),
                _f("address", "设置地址", [(p, "address") for p in SIGN_PARTS]),
                _f("size", "店招尺寸（长×高，米）", [(SIGN_PARTS[0], "size"), (SIGN_PARTS[3], "size")]),
                _f("construction_date", "计划施工日期", [(SIGN_PARTS[2], "work_date")], required=False)],
     "legal_basis": "《城市市容和环境卫生管理条例》第十一条；《杭州市户外广告设施设置管理办法》",
     "conditions": "窗口集中受理、分开办理、联合审批；任一部门不予许可的，整件不予许可。", "issues_license": False},
    {"code": "330105-LB-KQ-001", "dept": "kq", "name": "农村村民住宅建房审批",
     "kind": "joint", "legal_limit_days": 20, "promised_limit_days": 10, "stages": _joint_stages(),
     "parts": [{"item_code": "330105-XK-KQ-001"}, {"item_code": "330105-XK-GH-002"}], "decision": "all_must_approve",
     "materials": [_m("application", "农村宅基地和建房（规划许可）申请表"), ID_CARD,
                   _m("household", "户口簿", form="copy"), _m("village-opinion", "村民小组、村委会意见"),
                   _m("site-plan", "建房位置图及设计图")],
     "legal_basis": "《中华人民共和国土地管理法》第六十二条；《中华人民共和国城乡规划法》第四十一条",
     "conditions": "街道审核与乡村建设规划许可并联办理；任一环节不予许可的，不予批准建房。", "issues_license": False},
    # 区市两级联动: the district's sign permit and the city's planning review of a large sign, the
    # city's part dispatched to the city node ({CITY}: the district's city, filled in by ``district_hall``)
    {"code": "330105-LB-CG-002", "dept": "cgj", "name": "大型户外广告设施设置（区市联办）",
     "kind": "joint", "legal_limit_days": 20, "promised_limit_days": 10, "stages": _joint_stages(),
     "parts": [{"item_code": "330105-XK-CG-001"}, {"item_code": "{CITY}-XK-GH-001", "node": "{CITY}"}],
     "decision": "all_must_approve",
     "materials": [APPLICATION, ID_CARD, LICENSE_COPY, _m("design", "店招店牌设计效果图"),
                   _m("site-photo", "设置位置现状照片", types=("jpg", "png")),
                   _m("owner-consent", "房屋产权人同意设置的证明", form="original_and_copy"),
                   _m("site-plan", "设置位置图")],
     "legal_basis": "《杭州市户外广告设施设置管理办法》第九条",
     "conditions": "区城管部门受理并审批设置，市规划部门审查规划（两级并联）；任一不予许可的，整件不予许可。",
     "issues_license": False},
]


DISTRICT_NAMES = {"330105": ("拱墅", "康桥"), "330106": ("西湖", "转塘")}
"""A district's short name and the sub-district whose office and village point its demo hall has."""


def district_hall(node_id: str, hall_name: str = "") -> tuple[list[tuple[str, str, str]], list[dict[str, Any]]]:
    """The district template (Gongshu's hall, above) written for ``node_id``: its own codes
    (``330105-`` becomes the node's; codes of the standard catalog stay), its name and its
    sub-district in every unit and item name, the city part of the cross-level item at its city."""
    import json


    short, town = DISTRICT_NAMES.get(node_id) or (
        (hall_name.replace("行政服务中心", "").replace("政务服务中心", "").rstrip("区县市") or node_id), "城关")
    text = json.dumps([DEPARTMENTS, ITEMS + JOINT_ITEMS], ensure_ascii=False)
    text = text.replace("330105-", f"{node_id}-").replace("拱墅", short).replace("康桥", town)
    text = text.replace("{CITY}", expected_parent(node_id) or node_id)
    units, items = json.loads(text)
    return [tuple(u) for u in units], items  # type: ignore[misc]


def _hall(ctx: NodeContext) -> tuple[list[tuple[str, str, str]], tuple[str, ...], list[dict[str, Any]], str]:
    """The units, the staffed ones, the items and a word on them for this node's level."""
    node_id = ctx.settings.node_id
    level = level_of(node_id)
    if level == "province":
        return PROVINCE_DEPARTMENTS, tuple(c for c, _, _ in PROVINCE_DEPARTMENTS), province_items(node_id), \
            "the province's own items"
    if level == "city":
        return CITY_DEPARTMENTS, tuple(c for c, _, _ in CITY_DEPARTMENTS), city_items(node_id), "the city's own items"
    units, items = district_hall(node_id, ctx.settings.node_name)
    return units, STAFFED, items, "the district hall"


def _publish_standard(ctx: NodeContext, a: Actor) -> Iterator[str]:
    """At the province with a federation identity: the demo's standard catalog changes."""
    if level_of(ctx.settings.node_id) != "province":
        return
    if ctx.signer is None:
        yield "no federation identity: the standard catalog is not published (yiwang federation init)"
        return
    for ch in STANDARD_CHANGES:
        ctx.run(a, standard_catalog.publish_standard_change, **ch)
    yield f"standard catalog: {len(STANDARD_CHANGES)} changes published for the cities and districts to adopt"


def load_demo(ctx: NodeContext, password: str) -> Iterator[str]:
    """The demo hall of this node's level: a district gets the district hall under its own codes
    and names, a city or the province its own departments and items (``node.seed_upper``)."""
    with ctx.factory() as s:
        if s.scalar(select(Department.id).limit(1)) is not None:
            yield "demo data already loaded (departments exist); nothing changed"
            return
    units, staffed, items, what = _hall(ctx)
    admin = ctx.run(SYSTEM, org.create_staff, username="admin", name="王大厅", password=password, role="admin")
    a = Actor("staff", admin.id, Role.ADMIN)
    dept_ids: dict[str, int] = {}
    for code, name, kind in units:
        parent = dept_ids[PARENT_UNITS[code]] if code in PARENT_UNITS else None
        dept_ids[code] = ctx.run(a, org.create_department, code, name, kind, parent).id
    people: list[tuple[str, str, str, str | None, str | None]] = [
        ("clerk", "李窗口", "clerk", None, "13800000001"), ("inspector", "赵监察", "inspector", None, None)]
    if "kq-bm" in dept_ids:
        people.append(("agent-kq", "钱代办", "agent", "kq-bm", "13800000009"))
    for code in staffed:
        people += [(f"{code}-chief", f"{code}首席代表", "chief", code, None),
                   (f"{code}-handler", f"{code}承办人A", "handler", code, "13800000002"),
                   (f"{code}-handler-b", f"{code}承办人B", "handler", code, None),
                   (f"{code}-reviewer", f"{code}审核人", "reviewer", code, None),
                   (f"{code}-approver", f"{code}批准人", "approver", code, None)]
    made: dict[str, int] = {}
    for username, name, role, dept, phone in people:
        made[username] = ctx.run(a, org.create_staff, username=username, name=name, password=password, role=role,
                                          department_id=dept_ids[dept] if dept else None, phone=phone).id
    for code in staffed:
        ctx.run(a, org.update_staff, made[f"{code}-handler"], backup_id=made[f"{code}-handler-b"])
    for it in items:  # the joint items after their parts
        data = {k: v for k, v in it.items() if k != "dept"}
        data["department_id"] = dept_ids[it["dept"]]
        ctx.run(a, catalog.publish_item, data)
    yield from _publish_standard(ctx, a)
    with ctx.factory() as s:
        n = len(list(s.scalars(select(Staff.id))))
    yield f"demo hall {ctx.settings.node_id} {ctx.settings.node_name}: {len(units)} units, {len(items)} items " \
          f"({what}), {n} accounts"
    yield f"accounts (password '{password}'): admin, clerk, inspector, " \
          + ("agent-kq, " if "kq-bm" in dept_ids else "") + "<dept>-chief, <dept>-handler, " \
          "<dept>-handler-b, <dept>-reviewer, <dept>-approver for dept in " + " ".join(staffed)
