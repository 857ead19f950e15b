"""The demo halls of the levels above a district: a city (xxxx00, e.g. 杭州市民中心) and the province
(xx0000, 浙江省政务服务中心), each with its own departments and the items handled at its level —
not a district's hall copied upward. The city holds the planning review a district's large outdoor
sign needs (the city part of the district's cross-level item 大型户外广告设施设置（区市联办）); the
province also publishes the standard catalog (省级标准目录) its districts and cities adopt.

Used by ``node.seed.load_demo``; codes are written for the node that loads them."""
from __future__ import annotations

from typing import Any

from node.seed_common import APPLICATION, ID_CARD, LICENSE_COPY, _m, _stages

CITY_DEPARTMENTS = [
    ("gh", "市规划和自然资源局", "department"),
    ("scjg", "市市场监督管理局", "department"),
    ("jt", "市交通运输局", "department"),
    ("sthj", "市生态环境局", "department"),
    ("cgj", "市城市管理局", "department"),
]
PROVINCE_DEPARTMENTS = [
    ("jt", "省交通运输厅", "department"),
    ("sthj", "省生态环境厅", "department"),
    ("zrzy", "省自然资源厅", "department"),
    ("scjg", "省市场监督管理局", "department"),
]


def city_items(node_id: str) -> list[dict[str, Any]]:
    c = node_id
    return [
        {"code": f"{c}-XK-GH-001", "dept": "gh", "name": "大型户外广告设施设置规划审查（市级）",
         "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 7, "stages": _stages(3, 2, 1),
         "materials": [APPLICATION, _m("design", "设计效果图"), _m("site-plan", "位置图")],
         "legal_basis": "《中华人民共和国城乡规划法》；《杭州市户外广告设施设置管理办法》第九条",
         "conditions": "面积在 50 平方米以上或设置在主干道沿线的户外广告设施，由市规划部门审查。",
         "issues_license": False},
        {"code": f"{c}-XK-GH-002", "dept": "gh", "name": "建设工程规划许可证核发",
         "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 10, "stages": _stages(4, 3, 2),
         "materials": [APPLICATION, _m("land-certificate", "土地权属证明", form="copy"),
                       _m("design-plan", "建设工程设计方案总平面图"), _m("drawings", "建筑施工图")],
         "legal_basis": "《中华人民共和国城乡规划法》第四十条",
         "conditions": "符合控制性详细规划和规划条件。",
         "issues_license": True, "license_name": "建设工程规划许可证", "license_validity_days": 365},
        {"code": f"{c}-XK-GH-003", "dept": "gh", "name": "建设用地规划许可证核发",
         "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 10, "stages": _stages(4, 3, 2),
         "materials": [APPLICATION, _m("project-approval", "建设项目批准、核准或备案文件", form="copy"),
                       _m("site-map", "用地红线图")],
         "legal_basis": "《中华人民共和国城乡规划法》第三十七条、第三十八条",
         "issues_license": True, "license_name": "建设用地规划许可证", "license_validity_days": 365},
        {"code": f"{c}-XK-JT-001", "dept": "jt", "name": "道路货物运输经营许可",
         "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
         "materials": [APPLICATION, ID_CARD, LICENSE_COPY, _m("vehicles", "拟投入车辆承诺书"),
                       _m("drivers", "驾驶人员从业资格证", form="copy"), _m("safety-rules", "安全生产管理制度文本")],
         "legal_basis": "《中华人民共和国道路运输条例》第二十四条；《道路货物运输及站场管理规定》",
         "issues_license": True, "license_name": "道路运输经营许可证", "license_validity_days": 1460},
        {"code": f"{c}-XK-STHJ-001", "dept": "sthj", "name": "建设项目环境影响报告表审批",
         "kind": "promised", "legal_limit_days": 30, "promised_limit_days": 10, "stages": _stages(4, 3, 2),
         "materials": [APPLICATION, _m("eia-report", "环境影响报告表"), _m("expert-opinion", "技术评估意见")],
         "legal_basis": "《中华人民共和国环境影响评价法》第二十二条",
         "fees": [], "issues_license": False},
        {"code": f"{c}-XK-SJ-001", "dept": "scjg", "name": "食品生产许可（一般食品）",
         "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 10, "stages": _stages(4, 3, 2),
         "materials": [APPLICATION, LICENSE_COPY, _m("layout", "生产场所平面图和设备布局图"),
                       _m("process", "食品生产工艺流程图"), _m("safety-rules", "食品安全管理制度")],
         "legal_basis": "《中华人民共和国食品安全法》第三十五条；《食品生产许可管理办法》",
         "issues_license": True, "license_name": "食品生产许可证", "license_validity_days": 1825},
        {"code": f"{c}-XK-CG-001", "dept": "cgj", "name": "挖掘城市道路审批（市管道路）",
         "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
         "materials": [APPLICATION, ID_CARD, _m("construction-plan", "施工方案及交通组织方案"),
                       _m("drawing", "挖掘位置平面图")],
         "legal_basis": "《城市道路管理条例》第三十条",
         "issues_license": True, "license_name": "城市道路挖掘许可证", "license_validity_days": 90},
    ]


def province_items(node_id: str) -> list[dict[str, Any]]:
    p = node_id
    return [
        {"code": f"{p}-XK-JT-001", "dept": "jt", "name": "超限运输车辆行驶公路许可（跨设区市）",
         "kind": "promised", "legal_limit_days": 15, "promised_limit_days": 5, "stages": _stages(2, 1, 1),
         "materials": [APPLICATION, _m("vehicle-license", "车辆行驶证", form="copy"),
                       _m("route-plan", "通行路线及时间方案"), _m("load-proof", "货物载运情况说明")],
         "legal_basis": "《中华人民共和国公路法》第五十条；《超限运输车辆行驶公路管理规定》",
         "issues_license": True, "license_name": "超限运输车辆通行证", "license_validity_days": 30},
        {"code": f"{p}-XK-STHJ-001", "dept": "sthj", "name": "辐射安全许可证核发（使用Ⅱ类射线装置）",
         "kind": "promised", "legal_limit_days": 20, "promised_limit_days": 10, "stages": _stages(4, 3, 2),
         "materials": [APPLICATION, LICENSE_COPY, _m("protection", "辐射安全与防护设施说明"),
                       _m("staff-training", "辐射工作人员培训合格证明", form="copy")],
         "legal_basis": "《放射性同位素与射线装置安全和防护条例》第五条",
         "issues_license": True, "license_name": "辐射安全许可证", "license_validity_days": 1825},
        {"code": f"{p}-XK-ZRZY-001", "dept": "zrzy", "name": "采矿权新立登记",
         "kind": "promised", "legal_limit_days": 40, "promised_limit_days": 20, "stages": _stages(8, 6, 5),
         "materials": [APPLICATION, LICENSE_COPY, _m("reserve-report", "矿产资源储量评审备案证明"),
                       _m("development-plan", "矿产资源开发利用方案"), _m("eia-approval", "环境影响评价批复", form="copy")],
         "legal_basis": "《中华人民共和国矿产资源法》第十五条；《矿产资源开采登记管理办法》",
         "issues_license": True, "license_name": "采矿许可证", "license_validity_days": 3650},
        {"code": f"{p}-XK-SJ-101", "dept": "scjg", "name": "特种设备生产单位许可（压力容器制造）",
         "kind": "promised", "legal_limit_days": 30, "promised_limit_days": 15, "stages": _stages(6, 4, 3),
         "materials": [APPLICATION, LICENSE_COPY, _m("quality-manual", "质量保证手册"),
                       _m("review-report", "鉴定评审报告")],
         "legal_basis": "《中华人民共和国特种设备安全法》第十八条；《特种设备生产单位许可规则》",
         "issues_license": True, "license_name": "特种设备生产许可证", "license_validity_days": 1460},
    ]


STANDARD_CHANGES: list[dict[str, Any]] = [
    # what the province's hall admin publishes as the demo starts (``standard_catalog``): the
    # business registration every district holds already under the standard code, a new county
    # item the districts have not adopted yet, a city item, and a modify that shortens a limit
    {"change": "add", "item_code": "330000-XK-SJ-001", "name": "个体工商户设立登记", "legal_limit_days": 15,
     "kind": "immediate", "level": "county", "note": "全省统一事项编码"},
    {"change": "add", "item_code": "330000-XK-SJ-006", "name": "食品小作坊登记", "legal_limit_days": 15,
     "kind": "promised", "level": "county", "note": "《浙江省食品小作坊小餐饮店小食杂店和食品摊贩管理规定》新增事项"},
    {"change": "add", "item_code": "330000-XK-JT-002", "name": "道路运输从业人员从业资格证核发",
     "legal_limit_days": 20, "kind": "promised", "level": "city", "note": "由设区市交通运输主管部门实施"},
    {"change": "modify", "item_code": "330000-XK-SJ-006", "legal_limit_days": 10,
     "note": "法定时限由 15 个工作日压缩为 10 个工作日"},
]
