"""The completeness check (一次性告知): an application's materials against the item's list,
everything missing or wrong told at once.

Pure: the item version's material definitions and the uploads the application names are
arguments (uploads: id -> anything with a ``file_type``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence


@dataclass
class Notice:
    """一次性告知: everything missing or wrong, at once."""

    item_code: str
    item_name: str
    missing: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.invalid

    def as_dict(self) -> dict[str, Any]:
        return {"item_code": self.item_code, "item_name": self.item_name, "complete": self.complete,
                "missing": self.missing, "invalid": self.invalid}


def check(item_code: str, item_name: str, defs_list: Sequence[Mapping[str, Any]],
          materials: Sequence[Mapping[str, Any]], conditional: Sequence[str],
          uploads: Mapping[str, Any], usable: Callable[[Any], str | None] | None = None,
          ) -> tuple[Notice, dict[str, list[Any]]]:
    """The notice, and the uploads given per material code (only those that fit). ``usable``
    names what forbids this application using an upload (or None)."""
    notice = Notice(item_code, item_name)
    defs = {m["code"]: m for m in defs_list}
    given: dict[str, list[Any]] = {}
    for i, m in enumerate(materials):
        code, uid = m["material_code"], m["upload_id"]
        d = defs.get(code)
        if d is None:
            notice.invalid.append({"field": f"materials[{i}].material_code", "material_code": code,
                                   "problem": "this item asks for no such material"})
            continue
        up = uploads.get(uid)
        if up is None:
            notice.invalid.append({"field": f"materials[{i}].upload_id", "material_code": code,
                                   "problem": "no upload with this id; upload the file first"})
            continue
        types = d.get("file_types") or []
        if types and up.file_type not in types:
            notice.invalid.append({"field": f"materials[{i}].upload_id", "material_code": code,
                                   "problem": f"a {up.file_type} file was given; accepted: {', '.join(types)}"})
            continue
        problem = usable(up) if usable is not None else None
        if problem:
            notice.invalid.append({"field": f"materials[{i}].upload_id", "material_code": code, "problem": problem})
            continue
        given.setdefault(code, []).append(up)
    for i, c in enumerate(conditional):
        if c not in defs or defs[c].get("requirement") != "conditional":
            notice.invalid.append({"field": f"conditional_materials[{i}]", "material_code": c,
                                   "problem": "not a conditional material of this item"})
    for d in defs_list:
        needed = d.get("requirement", "required") == "required" or d["code"] in conditional
        if needed and d["code"] not in given:
            notice.missing.append({"material_code": d["code"], "name": d["name"],
                                   "form": d.get("form", "original"), "copies": d.get("copies", 1),
                                   "requirement": d.get("requirement", "required"),
                                   "condition": d.get("condition"), "file_types": d.get("file_types", [])})
    return notice, given
