"""Intake: uploads, the completeness check (一次性告知) and submission by every channel."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from node.domain import servicecode
from node.domain.identity import validate_id
from node.domain.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from node.domain.items import ItemStatus
from node.domain.lifecycle import Actor, Event, Status
from node.domain.roles import Role
from node.persistence.blobs import sniff_file_type
from node.persistence.models import Case, CaseMaterial, CaseTransition, ItemVersion, Upload

from federation import log as federation_log

from . import notifications
from .catalog import current_version
from .context import NodeContext


class IncompleteApplication(DomainError):
    status = 422


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


def store_upload(ctx: NodeContext, filename: str, data: bytes) -> Upload:
    if not data:
        raise InvalidInput("the file is empty", field="file")
    if len(data) > ctx.settings.max_upload_bytes:
        raise InvalidInput(f"the file is {len(data)} bytes; the limit is {ctx.settings.max_upload_bytes}",
                           field="file")
    kind = sniff_file_type(data, filename)
    if kind is None:
        raise InvalidInput("only PDF, JPG, PNG or OFD files are accepted (checked by content, not by name)",
                           field="file")
    digest = ctx.store.put(data)  # content addressed: a crash leaves at most an unreferenced blob
    with ctx.uow() as uow:
        up = Upload(id=secrets.token_hex(16), digest=digest, size=len(data), file_type=kind,
                    filename=(filename or "upload")[-255:], created_at=uow.now)
        uow.session.add(up)
        uow.commit()
        return up


def completeness(s: Any, version: ItemVersion, materials: list[dict[str, Any]],
                 conditional: list[str]) -> tuple[Notice, dict[str, list[Upload]]]:
    notice = Notice(version.item.code, version.name)
    defs = {m["code"]: m for m in version.materials}
    given: dict[str, list[Upload]] = {}
    ids = [m["upload_id"] for m in materials]
    uploads = {u.id: u for u in s.scalars(select(Upload).where(Upload.id.in_(ids)))} if ids else {}
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
        given.setdefault(code, []).append(up)
    for i, c in enumerate(conditional):
        if c not in defs or defs[c].get("requirement") != "conditional":
            notice.invalid.append({"field": f"conditional_materials[{i}]", "material_code": c,
                                   "problem": "not a conditional material of this item"})
    for d in version.materials:
        needed = d.get("requirement", "required") == "required" or d["code"] in conditional
        if needed and d["code"] not in given:
            notice.missing.append({"material_code": d["code"], "name": d["name"],
                                   "form": d.get("form", "original"), "copies": d.get("copies", 1),
                                   "requirement": d.get("requirement", "required"),
                                   "condition": d.get("condition"), "file_types": d.get("file_types", [])})
    return notice, given


def check_completeness(ctx: NodeContext, item_code: str, materials: list[dict[str, Any]],
                       conditional: list[str]) -> Notice:
    with ctx.factory() as s:
        v = current_version(s, item_code)
        return completeness(s, v, materials, conditional)[0]


def _channel(actor: Actor | None) -> str:
    if actor is None:
        return "online"
    if actor.role == Role.AGENT:
        return "agent"
    if actor.role in (Role.CLERK, Role.CHIEF):
        return "window"
    raise PermissionDenied("cases are submitted online, at the window or by a service-point agent", field="role")


def submit_case(ctx: NodeContext, actor: Actor | None, data: dict[str, Any]) -> str:
    """Create a case from an application; returns its service code.

    A window clerk may pass ``accept=True`` to accept at once (same transaction)."""
    channel = _channel(actor)
    processing = data.get("processing", "online")
    if processing != "online" and channel != "window":
        raise InvalidInput("only the window records paper or offline processed cases", field="processing")
    if data.get("accept") and channel != "window":
        raise InvalidInput("only the window accepts on submission", field="accept")
    for attempt in range(3):
        try:
            code = _submit_once(ctx, actor, channel, processing, data)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    if data.get("accept"):
        from .cases import transition_case

        assert actor is not None
        transition_case(ctx, actor, code, Event.ACCEPT, expected_version=None)
    return code


def _submit_once(ctx: NodeContext, actor: Actor | None, channel: str, processing: str, data: dict[str, Any]) -> str:
    with ctx.uow(actor) as uow:
        s = uow.session
        v = current_version(s, data["item_code"])
        if v.item.status != ItemStatus.ACTIVE:
            raise Conflict(f"item '{v.item.code}' is {v.item.status} and takes no applications", field="item_code")
        if actor is not None and actor.role == Role.CLERK and actor.department_id not in (None, v.department_id):
            raise PermissionDenied("this window accepts its own department's items only", field="item_code")
        notice, given = completeness(s, v, data.get("materials", []), data.get("conditional_materials", []))
        if not notice.complete:
            raise IncompleteApplication(
                "the application is incomplete: see 'notice' for everything missing at once",
                field="materials", notice=notice.as_dict())
        code = servicecode.make_code(ctx.settings.node_id, uow.now.date(),
                                     "".join(secrets.choice(servicecode.ALPHABET) for _ in range(8)))
        a = data["applicant"]
        id_type = a.get("id_type", "resident_id")
        id_number = validate_id(id_type, a["id_number"])
        case = Case(code=code, department_id=v.department_id, item_version_id=v.id, item_code=v.item.code,
                    channel=channel, service_point_id=actor.service_point_id if channel == "agent" and actor else None,
                    submitted_by=actor.staff_id if actor else None, processing=processing,
                    applicant_name=a["name"], applicant_id_type=id_type, applicant_id_number=id_number, applicant_phone=a.get("phone"),
                    applicant_org=a.get("org"), form=data.get("form", {}),
                    conditional_materials=data.get("conditional_materials", []), status=Status.SUBMITTED.value,
                    submitted_at=uow.now, paused_days=0, extended_days=0,
                    materials=[])  # a new case has none: appending below needs no lazy load (SELECT + autoflush)
        case.item_version = v
        s.add(case)
        s.flush()
        s.add(CaseTransition(case_id=case.id, department_id=case.department_id, seq=1, event="submit",
                             from_status=None, from_stage=None, to_status=Status.SUBMITTED.value, to_stage=None,
                             actor=actor.label if actor else "applicant", actor_role=actor.role if actor else None,
                             occurred_at=uow.now, recorded_at=uow.now, backfilled=False, stage_deadline=None,
                             reason=None, data={"channel": channel}))
        for code_, ups in given.items():
            for up in ups:
                case.materials.append(CaseMaterial(case_id=case.id, department_id=case.department_id, material_code=code_,
                                   upload_id=up.id, digest=up.digest, size=up.size, file_type=up.file_type,
                                   filename=up.filename, added_at=uow.now))
        federation_log.record_case_event(s, case, "submit", occurred_at=uow.now, actor=actor.label if actor else "applicant",
                                         actor_role=actor.role if actor else None)
        n = notifications.queue(s, uow.now, ctx.settings.node_name, case, v.name, "submitted")
        if n is not None:
            s.flush()
            nid = n.id
            uow.after_commit(lambda: ctx.dispatch_notifications([nid]))
        uow.commit()
        return code
