"""Staff roles. Hall-wide roles see every department; the others are confined to their own."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # hall admin (大厅管理员): departments, all staff, node settings
    CHIEF = "chief"  # chief representative (首席代表): a department's items, staff, A/B posts
    CLERK = "clerk"  # window clerk (窗口人员): one-window acceptance
    HANDLER = "handler"  # department handler (承办人)
    REVIEWER = "reviewer"  # 审核人
    APPROVER = "approver"  # 批准人
    INSPECTOR = "inspector"  # electronic supervision (监察): reads everything, changes nothing
    AGENT = "agent"  # village service-point agent (代办员)


HALL_WIDE = frozenset({Role.ADMIN, Role.INSPECTOR})
"""Roles whose holders are not confined to a department's data."""

STAGE_ROLES = frozenset({Role.CLERK, Role.HANDLER, Role.REVIEWER, Role.APPROVER, Role.CHIEF})

ROLE_NAMES_ZH = {
    Role.ADMIN: "大厅管理员",
    Role.CHIEF: "首席代表",
    Role.CLERK: "窗口人员",
    Role.HANDLER: "承办人",
    Role.REVIEWER: "审核人",
    Role.APPROVER: "批准人",
    Role.INSPECTOR: "监察人员",
    Role.AGENT: "代办员",
}
