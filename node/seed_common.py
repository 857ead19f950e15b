"""What the demo halls of every level are written with (``node.seed``, ``node.seed_upper``)."""
from __future__ import annotations

from typing import Any


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
