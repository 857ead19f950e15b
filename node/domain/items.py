"""Item catalog rules (事项目录): kinds, time limits, materials and stages."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Sequence

from .errors import InvalidInput
from .roles import STAGE_ROLES, Role

MAX_STAGES = 8
POWER_CODE = re.compile(r"^[0-9A-Z][0-9A-Z\-]{3,39}$")
CATALOG_CHANGES = ("add", "modify", "repeal", "delegate")
"""What the province's standard catalog publishes: add, modify, repeal, delegate (下放)."""


class ItemKind(StrEnum):
    IMMEDIATE = "immediate"  # 即办件
    PROMISED = "promised"  # 承诺件
    JOINT = "joint"  # 联办件
    REPORTED = "reported"  # 上报件


class ItemStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REPEALED = "repealed"


class StageKind(StrEnum):
    ACCEPT = "accept"  # 受理
    UNDERTAKE = "undertake"  # 承办
    REVIEW = "review"  # 审核
    APPROVE = "approve"  # 批准
    CONCLUDE = "conclude"  # 办结
    JOINT_REVIEW = "joint_review"  # 联合审图: every listed department signs off
    JOINT_INSPECTION = "joint_inspection"  # 联合踏勘: every listed department signs off


JOINT_STAGES = frozenset({StageKind.JOINT_REVIEW, StageKind.JOINT_INSPECTION})
"""Stages that end when every department they list has signed (``stage_signoffs``); they may sit
anywhere between acceptance and conclusion."""
MAX_STAGE_DEPARTMENTS = 12

STAGE_ORDER = [StageKind.ACCEPT, StageKind.UNDERTAKE, StageKind.REVIEW, StageKind.APPROVE, StageKind.CONCLUDE]
STAGE_NAMES_ZH = {
    StageKind.ACCEPT: "受理",
    StageKind.UNDERTAKE: "承办",
    StageKind.REVIEW: "审核",
    StageKind.APPROVE: "批准",
    StageKind.CONCLUDE: "办结",
    StageKind.JOINT_REVIEW: "联合审图",
    StageKind.JOINT_INSPECTION: "联合踏勘",
}
FILE_TYPES = {"pdf", "jpg", "png", "ofd"}


@dataclass(frozen=True)
class StageDef:
    kind: StageKind
    name: str
    time_limit_days: int
    role: Role
    departments: tuple[str, ...] = ()  # a joint stage's signing departments (codes)


def _err(field: str, msg: str) -> InvalidInput:
    return InvalidInput(msg, field=field)


def validate_power_code(code: str) -> str:
    if not POWER_CODE.match(code or ""):
        raise _err("code", "a power code (权力编码) is 4-40 characters of digits, capital letters and '-'")
    return code


def validate_limits(legal: int, promised: int) -> None:
    if legal < 0:
        raise _err("legal_limit_days", "must be 0 or more working days")
    if promised < 0:
        raise _err("promised_limit_days", "must be 0 or more working days")
    if promised > legal:
        raise _err(
            "promised_limit_days",
            f"the promised limit ({promised}) may not exceed the legal limit ({legal}) working days",
        )


def validate_stages(stages: Sequence[dict[str, Any]], promised: int) -> list[StageDef]:
    """Stages run in the canonical order accept → undertake → review → approve → conclude.

    The first is accept and the last conclude; the middle kinds may repeat (e.g. 初审, 复审) but
    never go backwards; at most eight in all (Xi'an's rule). The working-day limits of the stages
    after acceptance must fit inside the promised limit.
    """
    if not stages:
        raise _err("stages", "an item needs its stages, from accept (受理) to conclude (办结)")
    if len(stages) > MAX_STAGES:
        raise _err("stages", f"at most {MAX_STAGES} stages per item, got {len(stages)}")
    out: list[StageDef] = []
    for i, s in enumerate(stages):
        f = f"stages[{i}]"
        try:
            kind = StageKind(s.get("kind", ""))
        except ValueError:
            raise _err(f"{f}.kind", f"must be one of {', '.join(k.value for k in StageKind)}") from None
        try:
            role = Role(s.get("role", ""))
        except ValueError:
            raise _err(f"{f}.role", "unknown role") from None
        if role not in STAGE_ROLES:
            raise _err(f"{f}.role", f"role '{role}' cannot be responsible for a stage")
        limit = s.get("time_limit_days")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise _err(f"{f}.time_limit_days", "must be a whole number of working days, 0 or more")
        name = (s.get("name") or STAGE_NAMES_ZH[kind]).strip()
        depts = s.get("departments")
        if kind in JOINT_STAGES:
            if not isinstance(depts, list) or len(depts) < 2:
                raise _err(f"{f}.departments", "a joint review or inspection lists at least two departments (codes)")
            if len(depts) > MAX_STAGE_DEPARTMENTS:
                raise _err(f"{f}.departments", f"at most {MAX_STAGE_DEPARTMENTS} departments")
            if not all(isinstance(d, str) and d.strip() for d in depts):
                raise _err(f"{f}.departments", "each department is given by its code")
            if len(set(depts)) != len(depts):
                raise _err(f"{f}.departments", "a department is listed twice")
        elif depts:
            raise _err(f"{f}.departments", "only a joint review or joint inspection stage lists departments")
        out.append(StageDef(kind, name, limit, role, tuple(depts or ())))
    if out[0].kind != StageKind.ACCEPT:
        raise _err("stages[0].kind", "the first stage must be accept (受理)")
    if out[-1].kind != StageKind.CONCLUDE:
        raise _err(f"stages[{len(out) - 1}].kind", "the last stage must be conclude (办结)")
    ordered = [(i, st) for i, st in enumerate(out) if st.kind not in JOINT_STAGES]
    for (_, prev), (i, cur) in zip(ordered, ordered[1:]):
        a, b = STAGE_ORDER.index(prev.kind), STAGE_ORDER.index(cur.kind)
        if b < a or (b == a and cur.kind in (StageKind.ACCEPT, StageKind.CONCLUDE)):
            raise _err(f"stages[{i}].kind", f"'{cur.kind}' may not follow '{prev.kind}'")
    total = sum(s.time_limit_days for s in out[1:])
    if total > promised:
        raise _err(
            "stages",
            f"the stage limits after acceptance add up to {total} working days, "
            f"more than the promised limit of {promised}",
        )
    return out


def validate_materials(materials: Sequence[dict[str, Any]]) -> None:
    seen: set[str | None] = set()
    for i, m in enumerate(materials):
        f = f"materials[{i}]"
        code = m.get("code")
        if code in seen:
            raise _err(f"{f}.code", f"material code '{code}' appears twice")
        seen.add(code)
        if m.get("requirement") == "conditional" and not (m.get("condition") or "").strip():
            raise _err(f"{f}.condition", "a conditional material must say when it is needed")
        bad = [t for t in m.get("file_types", []) if t not in FILE_TYPES]
        if bad:
            raise _err(f"{f}.file_types", f"unsupported file type(s): {', '.join(bad)}")
