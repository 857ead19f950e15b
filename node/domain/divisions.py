"""Administrative division codes (行政区划代码) as node ids, and who may enroll whom.

A node id is a 6-digit code: ``xx0000`` a province, ``xxyy00`` (``yy`` not ``00``) a city,
``xxyyzz`` (``zz`` not ``00``) a county or district. A node's parent is fixed by its code — a
province enrolls only cities with its first two digits, a city only counties with its first four —
so a compromised or mistaken city admin cannot enroll a node of another city (330205 under 330100)
and nobody can skip a level (330105 directly under 330000): records flow county → city → province,
and a gap in that chain would be a gap in supervision.
"""
from __future__ import annotations

import re
from typing import Literal

Level = Literal["province", "city", "county"]
LEVELS: tuple[Level, ...] = ("province", "city", "county")


def check_node_id(node_id: object, field: str = "node_id") -> str:
    if not isinstance(node_id, str) or not re.fullmatch(r"\d{6}", node_id):
        raise ValueError(f"{field}: a node id is a 6-digit administrative division code, got {node_id!r}")
    if node_id[:2] == "00":
        raise ValueError(f"{field}: {node_id} is not a division code (no province starts with 00)")
    return node_id


def level_of(node_id: str) -> Level:
    check_node_id(node_id)
    if node_id[2:] == "0000":
        return "province"
    if node_id[4:] == "00":
        return "city"
    return "county"


def expected_parent(node_id: str) -> str | None:
    """The only node allowed to enroll ``node_id`` (``None`` for a province, the root)."""
    lvl = level_of(node_id)
    if lvl == "province":
        return None
    if lvl == "city":
        return node_id[:2] + "0000"
    return node_id[:4] + "00"


def check_parent(child_id: str, parent_id: str | None, *, child_field: str = "node_id",
                 parent_field: str = "parent_id") -> None:
    """Refuse a (child, parent) pair that does not follow the division hierarchy."""
    check_node_id(child_id, child_field)
    if parent_id is not None:
        check_node_id(parent_id, parent_field)
    want = expected_parent(child_id)
    if want == parent_id:
        return
    lvl = level_of(child_id)
    if want is None:
        raise ValueError(f"{parent_field}: {child_id} is a province, the root; it has no parent (got {parent_id})")
    if parent_id is None:
        raise ValueError(f"{parent_field}: {child_id} is a {lvl} and must name its parent {want}")
    rule = {"province": "a province enrolls only cities xxyy00 with its first 2 digits",
            "city": "a city enrolls only counties xxyyzz with its first 4 digits",
            "county": "a county enrolls nobody"}[level_of(parent_id)]
    raise ValueError(f"{child_field}: {child_id} is a {lvl} whose parent is {want}, not {parent_id} ({rule})")


def subtree_prefix(node_id: str) -> str:
    """The prefix every division in ``node_id``'s subtree (itself included) starts with:
    ``33`` for the province 330000, ``3301`` for the city 330100, the whole code for a county."""
    return {"province": node_id[:2], "city": node_id[:4], "county": node_id}[level_of(node_id)]


def in_subtree(node_id: str, ancestor: str) -> bool:
    """Is ``node_id`` the division ``ancestor`` or one below it?"""
    return node_id.startswith(subtree_prefix(ancestor))
