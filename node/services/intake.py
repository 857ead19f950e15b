"""Intake: uploads, the completeness check (一次性告知) and submission by every channel."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.orm import joinedload
from sqlalchemy.exc import IntegrityError

from node.domain import servicecode
from node.domain.identity import validate_id
from node.domain.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from node.domain.items import ItemStatus
from node.domain.lifecycle import Actor, Event, Status
from node.domain.roles import Role
from node.persistence.audit import insert_rows
from node.persistence.blobs import sniff_file_type
from node.persistence.db import RESERVE_IDS_SQL, allocate_ids, id_request, pipelined
from node.persistence.models import Case, CaseMaterial, CaseTransition, Item, ItemVersion, Notification, Upload

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


_UPLOAD_TABLE = cast(Table, Upload.__table__)
_UPLOADS = select(_UPLOAD_TABLE).where(_UPLOAD_TABLE.c.id.in_(bindparam("ids", expanding=True)))


def completeness(s: Any, version: ItemVersion, materials: list[dict[str, Any]], conditional: list[str],
                 uploads: dict[str, Any] | None = None) -> tuple[Notice, dict[str, list[Any]]]:
    """Check the given materials against the version's list; the uploads (read here unless given,
    by id) come back as rows."""
    notice = Notice(version.item.code, version.name)
    defs = {m["code"]: m for m in version.materials}
    given: dict[str, list[Any]] = {}
    if uploads is None:
        ids = [m["upload_id"] for m in materials]
        uploads = {u.id: u for u in s.execute(_UPLOADS, {"ids": ids})} if ids else {}
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


_CASES = cast(Table, Case.__table__)
_TRANSITIONS = cast(Table, CaseTransition.__table__)
_MATERIALS = cast(Table, CaseMaterial.__table__)
_NOTIFICATIONS = cast(Table, Notification.__table__)


def _row(table: Any, **values: Any) -> dict[str, Any]:
    """Every column of ``table`` (None where not given), so the row and its audit entry are complete."""
    row = dict.fromkeys(table.c.keys())
    row.update(values)
    return row


_ITEMS = cast(Table, Item.__table__)
_VERSIONS = cast(Table, ItemVersion.__table__)
_CURRENT = (select(_ITEMS.c.status, _VERSIONS.c.id)
            .join(_VERSIONS, (_VERSIONS.c.item_id == _ITEMS.c.id) & (_VERSIONS.c.version == _ITEMS.c.current_version))
            .where(_ITEMS.c.code == bindparam("code")))


class UploadRef(NamedTuple):
    id: str
    digest: str
    size: int
    file_type: str
    filename: str


# PostgreSQL: everything a submission reads, and the ids its rows will take, in one round trip.
_READ_PG = text(f"""
SELECT i.status, v.id AS version_id,
       (SELECT coalesce(json_agg(json_build_array(u.id, u.digest, u.size, u.file_type, u.filename)), '[]')
        FROM uploads u WHERE u.id = ANY(CAST(:upload_ids AS varchar[]))) AS uploads,
       {RESERVE_IDS_SQL} AS ids
FROM items i JOIN item_versions v ON v.item_id = i.id AND v.version = i.current_version
WHERE i.code = :code""")


def _version(ctx: NodeContext, s: Any, vid: int) -> ItemVersion:
    """A published version never changes (a revision is a new version): the node keeps the ones it loaded."""
    v = ctx.item_versions.get(vid)
    if v is None:
        v = s.scalar(select(ItemVersion).where(ItemVersion.id == vid).options(joinedload(ItemVersion.item))
                     .execution_options(all_tenants=True))
        assert v is not None
        s.expunge(v.item)
        s.expunge(v)
        ctx.item_versions[vid] = v
    return v


def _read(ctx: NodeContext, s: Any, data: dict[str, Any], counts: dict[Table, int]
          ) -> tuple[ItemVersion, str, dict[str, Any], dict[str, list[int]]]:
    """The item's current version, the item's status now, the uploads named by the application
    and the ids reserved for the case's rows."""
    code = data["item_code"]
    upload_ids = [m["upload_id"] for m in data.get("materials", [])]
    conn = s.connection()
    if conn.dialect.driver == "psycopg":
        req = id_request(s, counts)
        rows = pipelined(conn, [(_READ_PG, {"code": code, "upload_ids": upload_ids, **req.params})])  # with the BEGIN
        if not rows:
            raise NotFound(f"no item with code '{code}' in the catalog", field="item_code")
        status, vid, ups, ids = rows[0]
        uploads = {u[0]: UploadRef(*u) for u in ups}
        return _version(ctx, s, vid), status, uploads, req.split(ids)
    row = s.execute(_CURRENT, {"code": code}).one_or_none()
    if row is None:
        raise NotFound(f"no item with code '{code}' in the catalog", field="item_code")
    uploads = {u.id: u for u in s.execute(_UPLOADS, {"ids": upload_ids})} if upload_ids else {}
    return _version(ctx, s, row.id), row.status, uploads, allocate_ids(s, counts)


def _submit_once(ctx: NodeContext, actor: Actor | None, channel: str, processing: str, data: dict[str, Any]) -> str:
    """One transaction. A new case's rows get their ids up front and are written with Core
    statements, audited from the very values written; on PostgreSQL the rows and their audit
    entries go to the database as one statement at commit. Intake is the hot path, and the ORM's
    flush bookkeeping bought nothing for rows that are only inserted."""
    with ctx.uow(actor) as uow:
        s = uow.session
        phone = data["applicant"].get("phone")
        materials = data.get("materials", [])
        v, item_status, uploads_by_id, ids = _read(ctx, s, data, {
            _CASES: 1, _TRANSITIONS: 1, _MATERIALS: len(materials), _NOTIFICATIONS: 1 if phone else 0})
        if item_status != ItemStatus.ACTIVE:
            raise Conflict(f"item '{v.item.code}' is {item_status} and takes no applications", field="item_code")
        if actor is not None and actor.role == Role.CLERK and actor.department_id not in (None, v.department_id):
            raise PermissionDenied("this window accepts its own department's items only", field="item_code")
        notice, given = completeness(s, v, materials, data.get("conditional_materials", []), uploads_by_id)
        if not notice.complete:
            raise IncompleteApplication(
                "the application is incomplete: see 'notice' for everything missing at once",
                field="materials", notice=notice.as_dict())
        a = data["applicant"]
        id_type = a.get("id_type", "resident_id")
        id_number = validate_id(id_type, a["id_number"])
        uploads = [(code_, up) for code_, ups in given.items() for up in ups]  # complete: one per material given
        code = servicecode.make_code(ctx.settings.node_id, uow.now.date(),
                                     servicecode.random_part())
        case_id, dept = ids["cases"][0], v.department_id
        case_row = _row(_CASES, id=case_id, code=code, department_id=dept, item_version_id=v.id,
                        item_code=v.item.code, channel=channel,
                        service_point_id=actor.service_point_id if channel == "agent" and actor else None,
                        submitted_by=actor.staff_id if actor else None, processing=processing,
                        applicant_name=a["name"], applicant_id_type=id_type, applicant_id_number=id_number,
                        applicant_phone=phone, applicant_org=a.get("org"), form=data.get("form", {}),
                        conditional_materials=data.get("conditional_materials", []), status=Status.SUBMITTED.value,
                        submitted_at=uow.now, paused_days=0, extended_days=0, version=1)
        insert_rows(s, _CASES, [case_row])
        actor_label = actor.label if actor else "applicant"
        insert_rows(s, _TRANSITIONS, [_row(
            _TRANSITIONS, id=ids["case_transitions"][0], case_id=case_id, department_id=dept, seq=1, event="submit",
            to_status=Status.SUBMITTED.value, actor=actor_label, actor_role=actor.role if actor else None,
            occurred_at=uow.now, recorded_at=uow.now, backfilled=False, data={"channel": channel})])
        material_rows = [_row(_MATERIALS, id=mid, case_id=case_id, department_id=dept, material_code=code_,
                              upload_id=up.id, digest=up.digest, size=up.size, file_type=up.file_type,
                              filename=up.filename, added_at=uow.now)
                         for mid, (code_, up) in zip(ids["case_materials"], uploads, strict=True)]
        if material_rows:
            insert_rows(s, _MATERIALS, material_rows)
        if federation_log.enabled(s):
            # The case as written, for the signed record (never added to the session).
            case = Case(**case_row)
            case.item_version = v
            case.materials = [CaseMaterial(**r) for r in material_rows]
            federation_log.record_case_event(s, case, "submit", occurred_at=uow.now, actor=actor_label,
                                             actor_role=actor.role if actor else None)
        n = notifications.outbox_row(uow.now, ctx.settings.node_name, case_id=case_id, code=code, phone=phone,
                                     promised=None, item_name=v.name, template="submitted")
        if n is not None:
            nid = n["id"] = ids["notifications"][0]
            insert_rows(s, _NOTIFICATIONS, [n])
            uow.after_commit(lambda: ctx.dispatch_notifications([nid]))
        uow.commit()
        return code
