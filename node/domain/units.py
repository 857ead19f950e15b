"""The hall's units (村—镇—区): departments, towns (镇) and sub-district offices (街道), and village
service points. A town or sub-district office is a unit of the district hall with its own staff and
roles, owning items and working their stages like a department; a village service point belongs to
a town (its agents submit for villagers). Departments and towns belong to the hall itself (no
parent): two levels below the hall, no deeper, no cycles."""
from __future__ import annotations

from typing import Sequence

from .errors import InvalidInput

UNIT_KINDS = ("department", "town", "subdistrict", "service_point")
TOWN_KINDS = frozenset({"town", "subdistrict"})
KIND_NAMES_ZH = {"department": "部门", "town": "镇", "subdistrict": "街道", "service_point": "便民服务点"}


def check_kind(kind: str) -> str:
    if kind not in UNIT_KINDS:
        raise InvalidInput(f"must be one of {', '.join(UNIT_KINDS)}", field="kind")
    return kind


def check_parent(unit_id: int | None, kind: str, parent_id: int, parent_kind: str,
                 parent_ancestors: Sequence[int]) -> None:
    """May a unit of ``kind`` belong to unit ``parent_id`` (whose own parents, nearest first, are
    ``parent_ancestors``)? Raises ``InvalidInput`` naming ``parent_unit_id`` and the rule."""
    f = "parent_unit_id"
    if unit_id is not None and (parent_id == unit_id or unit_id in parent_ancestors):
        raise InvalidInput(f"unit {parent_id} is this unit itself or lies below it: that would be a cycle", field=f)
    if parent_kind == "service_point":
        raise InvalidInput(f"unit {parent_id} is a village service point: nothing belongs to a service point",
                           field=f)
    if kind in TOWN_KINDS:
        raise InvalidInput("a town or sub-district office belongs to the hall itself, not to another unit "
                           "(leave parent_unit_id empty)", field=f)
    if kind == "department":
        raise InvalidInput("a department belongs to the hall itself (leave parent_unit_id empty)", field=f)
    if parent_kind not in TOWN_KINDS:
        raise InvalidInput(f"a village service point belongs to a town or sub-district office; unit {parent_id} "
                           f"is a {parent_kind}", field=f)
