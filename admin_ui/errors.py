"""Service refusals in the pages' language: a ``DomainError`` (English, naming its field) becomes a
Chinese sentence naming the field as the form labels it; the service's own words stay beside it
(small, for the hall's support staff) so nothing of the reason is lost."""
from __future__ import annotations

import re

from node.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    Locked,
    NotFound,
    PermissionDenied,
)

FIELD_ZH = {
    "username": "用户名", "password": "密码", "name": "姓名", "role": "岗位", "department_id": "所属部门",
    "phone": "手机号码", "code": "编码", "kind": "类型", "parent_unit_id": "上级单位", "backup_id": "B 岗",
    "staff_id": "人员", "item_code": "事项", "promised_limit_days": "承诺时限", "stages": "办理环节",
    "years": "年度", "note": "说明", "reason": "理由", "days": "天数", "state": "状态", "limit": "每页条数",
    "id_number": "证件号码", "id_last4": "证件号后四位", "materials": "申请材料", "score": "评价",
    "comment": "评价意见", "event": "操作", "expected_version": "办件版本", "alert_id": "告警",
}
KNOWN = [  # the service's message -> what the page says (first match wins)
    (re.compile(r"username '.*' is taken"), "该用户名已被使用，请换一个。"),
    (re.compile(r"a department with code '.*' exists already"), "该编码已被其他单位使用。"),
    (re.compile(r"guessable|too short|too common|password", re.IGNORECASE), "密码强度不足：请使用至少 12 位、不易猜到的密码。"),
    (re.compile(r"the backup must be another member of the same department"), "B 岗须是同一部门的另一名人员。"),
    (re.compile(r"must belong to a department or service point"), "该岗位须选择所属部门或服务点。"),
    (re.compile(r"agents belong to a service point"), "代办员须属于便民服务点，其他人员须属于部门、乡镇或街道。"),
    (re.compile(r"stale|version", re.IGNORECASE), "该记录刚被他人修改，请刷新后重试。"),
]


def field_label(field: str | None) -> str:
    return FIELD_ZH.get(field or "", field or "")


def explain(e: DomainError) -> str:
    """One sentence in Chinese for the person at the page."""
    for pattern, zh in KNOWN:
        if pattern.search(e.message):
            return zh
    label = field_label(e.field)
    if isinstance(e, PermissionDenied):
        return "您的岗位无权进行此操作。"
    if isinstance(e, Locked):
        return "操作过于频繁或已被暂时锁定，请稍后再试。"
    if isinstance(e, NotFound):
        return f"未找到{label or '该记录'}。"
    if isinstance(e, Conflict):
        return f"当前状态下不能进行此操作{f'（{label}）' if label else ''}。"
    if isinstance(e, InvalidInput):
        return f"「{label}」填写有误。" if label else "填写的内容有误。"
    return f"「{label}」有误。" if label else "操作未能完成。"


def field_errors(e: DomainError) -> dict[str, str]:
    """``{field: sentence}`` for the form to show next to the field (``_form`` when none is named)."""
    return {e.field or "_form": explain(e)}
