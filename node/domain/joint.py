"""Joint cases (联办件, 并联审批) and bundles (一件事 / 一表式): the rules, pure.

A joint item lists its parts (each an item of its own department, with its own stages and limits)
and a decision rule. Its case is accepted once at the window; each part then runs as a case of its
own department. The joint case:

- takes as long as its longest part (``joint_deadline``: the latest of the parts' deadlines, in
  working days as each part counts them); it is recomputed whenever a part's clock changes (a
  supplement request stops a part's clock, the supply moves its deadlines, an extension too), so
  the joint deadline moves with the part that is late;
- shows a status derived from its parts' (``derived_status``);
- concludes when every part has (``all_concluded``), with the outcome of its decision rule
  (``outcome``), in the unit of work of the last part's conclusion, with one notification.

A bundle is a joint item with a merged form: each field is asked once (``check_form``) and mapped
onto each part's form at acceptance (``part_forms``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Iterable, Mapping, Sequence

from .deadlines import joint_deadline
from .errors import InvalidInput
from .lifecycle import TERMINAL, Result, Status

MIN_PARTS = 2
MAX_PARTS = 12
MAX_FIELDS = 100
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
NODE_ID = re.compile(r"^\d{6}$")


def remote_node(part: Mapping[str, Any], here: str) -> str | None:
    """The node that owns a part of a joint item when it is not this one (市区两级联动), else None."""
    node = part.get("node")
    return node if isinstance(node, str) and node and node != here else None


def linked_from(origin: str, joint_code: str, part_no: int) -> str:
    """What a case worked for another node's joint case says it is part of."""
    return f"{origin}:{joint_code}:{part_no}"


def parse_linked_from(value: str | None) -> tuple[str, str, int] | None:
    if not value:
        return None
    origin, code, no = value.split(":")
    return origin, code, int(no)


class DecisionRule(StrEnum):
    ALL_MUST_APPROVE = "all_must_approve"  # any refusal refuses the whole
    INDEPENDENT = "independent"  # each part's own result stands


@dataclass(frozen=True)
class PartState:
    """What the joint rules need of one part."""

    part_no: int
    status: str
    result: str | None = None
    deadline: date | None = None


def _err(field: str, msg: str) -> InvalidInput:
    return InvalidInput(msg, field=field)


def validate_parts(parts: Any, decision: Any) -> list[str]:
    """The shape of a joint item's ``parts`` and ``decision``; returns the parts' item codes in
    order. Whether each code is an existing, local, non-joint item is the catalog's to check."""
    if not isinstance(parts, list) or len(parts) < MIN_PARTS:
        raise _err("parts", f"a joint item lists at least {MIN_PARTS} parts, each an item of its own department")
    if len(parts) > MAX_PARTS:
        raise _err("parts", f"at most {MAX_PARTS} parts")
    codes: list[str] = []
    for i, p in enumerate(parts):
        code = p.get("item_code") if isinstance(p, dict) else None
        if not isinstance(code, str) or not code.strip():
            raise _err(f"parts[{i}].item_code", "name the part's item by its code")
        if code in codes:
            raise _err(f"parts[{i}].item_code", f"item '{code}' is listed twice")
        node = p.get("node")
        if node is not None and (not isinstance(node, str) or not NODE_ID.match(node)):
            raise _err(f"parts[{i}].node", "the node that owns the part: a division code (six digits)")
        codes.append(code)
    try:
        DecisionRule(decision)
    except ValueError:
        raise _err("decision", f"must be one of {', '.join(r.value for r in DecisionRule)}") from None
    return codes


def validate_fields(fields: Any, part_codes: Sequence[str]) -> None:
    """A bundle's merged form: unique names, each mapped onto fields of the item's own parts."""
    if fields is None:
        return
    if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
        raise _err("fields", f"a list of at most {MAX_FIELDS} form fields")
    names: set[str] = set()
    for i, f in enumerate(fields):
        if not isinstance(f, dict):
            raise _err(f"fields[{i}]", "a field is {name, label, required, maps_to}")
        name = f.get("name")
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            raise _err(f"fields[{i}].name", "a field name is a letter then letters, digits or '_' (at most 64)")
        if name in names:
            raise _err(f"fields[{i}].name", f"field '{name}' appears twice")
        names.add(name)
        if not isinstance(f.get("label"), str) or not f["label"].strip():
            raise _err(f"fields[{i}].label", "a field needs its label (shown to the applicant)")
        maps = f.get("maps_to") or []
        if not isinstance(maps, list) or not maps:
            raise _err(f"fields[{i}].maps_to", "map the field onto at least one part's field")
        for j, m in enumerate(maps):
            part = m.get("part") if isinstance(m, dict) else None
            if part not in part_codes:
                raise _err(f"fields[{i}].maps_to[{j}].part", f"'{part}' is not one of this item's parts")
            if not isinstance(m.get("field"), str) or not FIELD_NAME.match(m["field"]):
                raise _err(f"fields[{i}].maps_to[{j}].field", "name the part's form field")


def check_form(fields: Sequence[Mapping[str, Any]] | None, form: Mapping[str, Any]) -> None:
    """The applicant fills each merged field once: a required one missing or blank is named."""
    for f in fields or ():
        if f.get("required") and not str(form.get(f["name"]) or "").strip():
            raise _err(f"form.{f['name']}", f"'{f.get('label') or f['name']}' is required")


def part_forms(fields: Sequence[Mapping[str, Any]] | None, form: Mapping[str, Any],
               part_codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each part's form built from the merged one. Without a merged form each part gets the whole
    form as filled; with one, exactly the fields mapped onto it."""
    if not fields:
        return {code: dict(form) for code in part_codes}
    out: dict[str, dict[str, Any]] = {code: {} for code in part_codes}
    for f in fields:
        if f["name"] not in form:
            continue
        for m in f.get("maps_to") or ():
            out[m["part"]][m["field"]] = form[f["name"]]
    return out


def concluded(status: str) -> bool:
    return Status(status) in TERMINAL


def all_concluded(parts: Iterable[PartState]) -> bool:
    ps = list(parts)
    return bool(ps) and all(concluded(p.status) for p in ps)


def open_parts(parts: Iterable[PartState]) -> int:
    return sum(1 for p in parts if not concluded(p.status))


def outcome(decision: str, parts: Iterable[PartState]) -> Result:
    """The joint case's result once every part has concluded. A part refused, withdrawn or denied
    is not an approval. all_must_approve: approved only if every part was; independent: each part's
    own result stands, and the joint result says whether all (approved), none (denied) or some
    (partial) were approved."""
    approved = [p.status == Status.CONCLUDED and p.result == Result.APPROVED for p in parts]
    if all(approved):
        return Result.APPROVED
    if DecisionRule(decision) == DecisionRule.ALL_MUST_APPROVE or not any(approved):
        return Result.DENIED
    return Result.PARTIAL


def derived_status(parts: Iterable[PartState]) -> str:
    """What the applicant and the window see of the joint case while its parts run:
    ``supplementing`` when any part waits for the applicant's materials, ``concluded`` when every
    part has, else ``in_progress`` (``submitted`` before acceptance: no parts yet)."""
    ps = list(parts)
    if not ps:
        return Status.SUBMITTED.value
    if all(concluded(p.status) for p in ps):
        return Status.CONCLUDED.value
    if any(p.status == Status.SUPPLEMENTING for p in ps):
        return Status.SUPPLEMENTING.value
    return Status.IN_PROGRESS.value


def deadline(parts: Iterable[PartState]) -> date | None:
    """The joint deadline: the longest part's (``deadlines.joint_deadline``)."""
    return joint_deadline(p.deadline for p in parts)
