"""Service refusals in the pages' language, for every page: a ``DomainError`` (English, naming its
field) becomes one Chinese sentence — a known refusal said as the hall says it, else a page's hint
for the field, else what kind of refusal it is and which field (as the forms label it) — followed by
the field's name (``（字段：reason）``) so the hall's support staff can find it in the API's answer.
Every page uses ``explain``; the words for states, lights and stages are in ``vocab``."""
from __future__ import annotations

import re
from collections.abc import Mapping

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
    "comment": "评价意见", "event": "操作", "expected_version": "办件版本", "version": "办件版本",
    "alert_id": "告警", "opinion": "意见", "extension_id": "延期申请", "digest": "材料", "text": "内容",
    "order_id": "督办单", "green_channel": "绿色通道", "missing": "缺少的材料", "file": "文件",
    "applicant.name": "申请人", "applicant.id_number": "证件号码", "applicant.id_type": "证件类型",
    "applicant.phone": "手机号码", "applicant.org": "单位名称", "accept": "当场受理", "prerequisites": "前置审批",
    "form": "申请表", "template": "短信", "enabled": "是否发送", "notification_id": "短信", "due_days": "反馈期限",
    "case_code": "办件", "month": "月份", "region": "地区", "calendar": "节假日安排", "confirm": "确认",
    "agent_staff_id": "代办员", "result": "办理结果", "occurred_at": "作出决定的时间", "fix": "纠正情况", "fix.description": "纠正了什么", "fix.transition_seq": "纠正所办理的环节",
    "undertake_days": "承办时限", "review_days": "审核时限", "approve_days": "批准时限", "fee_name": "收费项目",
    "fee_yuan": "收费金额", "license_validity_days": "证照有效期",
}
_KNOWN: list[tuple[str, str]] = [  # (a regular expression over the service's message, the Chinese shown)
    (r"username '.*' is taken", "该用户名已被使用，请换一个。"),
    (r"a department with code '.*' exists already", "该编码已被其他单位使用。"),
    (r"(?i)guessable|too short|too common|password", "密码强度不足：请使用至少 12 位、不易猜到的密码。"),
    (r"the backup must be another member of the same department", "B 岗须是同一部门的另一名人员。"),
    (r"must belong to a department or service point", "该岗位须选择所属部门或服务点。"),
    (r"agents belong to a service point", "代办员须属于便民服务点，其他人员须属于部门、乡镇或街道。"),
    (r"it cannot be turned off", "该告知依法必须发送，不能关闭。"),
    (r"only a failed one is sent again", "只有发送失败的短信可以重新发送。"),
    (r"confirm that the applicant asked in writing to withdraw", "请先核对申请人的书面撤回申请并勾选确认。"),
    (r"choose the paper decision", "请选择纸质办理的结果（准予许可或不予许可）。"),
    (r"the date and time the paper decision was made", "请填写作出决定的日期和时间。"),
    (r"give the working days of all three stages", "承办、审核、批准三个环节的时限请都填写，或都不填（按承诺时限自动分配）。"),
    (r"the stage limits after acceptance add up to (\d+) working days, more than the promised limit of (\d+)",
     "各环节时限合计超过了承诺时限，请调低环节时限或调高承诺时限。"),
    (r"an amount in yuan", "收费金额请填写不小于 0 的数字，最多两位小数，例如 12.50。"),
    (r"name the fee its amount is for", "填写了收费金额时，请同时填写收费项目。"),
]
_PIECES: list[tuple[str, str]] = [  # (a piece of the service's message, the Chinese shown)
    ("a reason is required", "请填写理由。"),
    ("someone else just changed it", "该办件刚被他人修改，请刷新页面后重试。"),
    ("is not allowed while the case is in state", "该办件当前环节不能进行此操作，请刷新页面查看最新状态。"),
    ("needs one of the roles", "此环节应由其他岗位办理。"),
    ("the case is assigned to", "该办件已由他人认领：只有认领人、A 岗缺岗时的 B 岗或首席代表可以办理。"),
    ("already assigned to someone else", "该办件已被他人认领。"),
    ("a department acts only on its own part", "各部门只能办理本部门的联办子件。"),
    ("an extension is 1 to 60 working days", "延期天数须为 1 至 60 个工作日。"),
    ("say why the case needs more time", "请说明延期理由。"),
    ("already waiting for a decision", "该办件已有待审批的延期申请。"),
    ("only a case in progress can be extended", "只有办理中的办件可以申请延期。"),
    ("nobody approves their own extension request", "不能审批自己提出的延期申请。"),
    ("an extension is approved by", "延期申请由批准人或首席代表审批。"),
    ("the extension was already", "该延期申请已审批。"),
    ("assign to a handler of the case's department", "请选择本部门的承办人。"),
    ("cases are claimed by handlers", "办件由承办人认领。"),
    ("the case has ended", "该办件已办结，不能再认领。"),
    ("a joint case (联办件) moves with its parts", "联办件随各部门子件办理，请在子件中操作。"),
    ("the application is incomplete", "申请材料不齐全，请按一次性告知书补齐后再提交。"),
    ("materials are read by the staff of the department", "办件材料仅限承办部门人员查阅。"),
    ("is empty", "文件为空。"),
    ("the limit is", "文件超过大小限制。"),
    ("has no federation identity", "本大厅未接入上级节点，无法送达，请联系大厅管理员。"),
    ("this order is addressed to another department", "该督办单不是发给本部门的。"),
    ("answered by the department's chief representative or the case's handler",
     "督办单由首席代表或该件承办人反馈。"),

]
MESSAGES: list[tuple[re.Pattern[str], str]] = [(re.compile(p), zh) for p, zh in _KNOWN] + \
    [(re.compile(re.escape(piece)), zh) for piece, zh in _PIECES] + \
    [(re.compile(r"(?i)stale|version"), "该记录刚被他人修改，请刷新后重试。")]


_CJK = re.compile(r"[\u4e00-\u9fff]")


def field_label(field: str | None) -> str:
    return FIELD_ZH.get(field or "", field or "")


def explain(e: DomainError, hints: Mapping[str, str] | None = None, with_field: bool = True) -> str:
    """One sentence in Chinese for the person at the page, the field named after it (staff pages;
    ``with_field=False`` for the public). ``hints``: a page's own sentence for a field it asks for
    (the inspector's order form, ...)."""
    text = next((zh for pattern, zh in MESSAGES if pattern.search(e.message)), None)
    if text is None and hints and e.field is not None and e.field in hints:
        text = hints[e.field]
    zh, sep, _en = e.message.partition(" / ")
    if text is None and sep and _CJK.search(zh):  # a service that words its refusal in both languages
        text = zh.strip().rstrip("。") + "。"
    if text is None:
        label = field_label(e.field)
        if isinstance(e, PermissionDenied):
            text = "您的岗位无权进行此操作。"
        elif isinstance(e, Locked):
            text = "操作过于频繁或已被暂时锁定，请稍后再试。"
        elif isinstance(e, NotFound):
            text = f"未找到{label or '该记录'}。"
        elif isinstance(e, Conflict):
            text = f"当前状态下不能进行此操作{f'（{label}）' if label else ''}。"
        elif isinstance(e, InvalidInput):
            text = f"「{label}」填写有误。" if label else "填写的内容有误。"
        else:
            text = f"「{label}」有误。" if label else "操作未能完成。"
    return f"{text}（字段：{e.field}）" if e.field and with_field else text


def field_errors(e: DomainError, hints: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{field: sentence}`` for the form to show next to the field (``_form`` when none is named)."""
    return {e.field or "_form": explain(e, hints)}
