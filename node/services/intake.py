"""Intake: uploads, the completeness check (一次性告知) and submission by every channel."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from node.domain import servicecode
from node.domain.completeness import Notice
from node.domain.errors import Conflict, DomainError, InvalidInput
from node.domain.joint import check_form
from node.domain.identity import validate_id
from node.domain.items import ItemStatus
from node.domain.lifecycle import Actor, Event, Status
from node.domain.policy import Action, Target, require
from node.domain.roles import Role
from node.persistence.cases import (
    MATERIALS,
    NOTIFICATIONS,
    TRANSITIONS,
    CASES,
    NewCase,
    add_case,
    full_row,
    item_version,
    read_for_intake,
)
from node.persistence.models import Case, ItemVersion

from . import notifications, prerequisites
from .catalog import current_version
from .context import Work
from .materials import completeness
from .uploads import binding, store_upload, usable_by

__all__ = ["check_completeness", "store_upload", "submit_case"]  # store_upload: where callers have always found it


class IncompleteApplication(DomainError):
    status = 422


def check_completeness(uow: Work, item_code: str, materials: list[dict[str, Any]], conditional: list[str]) -> Notice:
    v = current_version(uow.session, item_code)
    return completeness(uow.session, v, materials, conditional)[0]


def _channel(actor: Actor) -> str:
    require(actor, Action.SUBMIT_CASE)
    if actor.kind != "staff":
        return "online"
    return "agent" if actor.role == Role.AGENT else "window"


def submit_case(uow: Work, data: dict[str, Any]) -> str:
    """Create a case from an application; returns its service code.

    A window clerk may pass ``accept=True`` to accept at once: submission and acceptance are one
    unit of work, so an acceptance refused leaves no submitted case behind. ``prerequisites``:
    the references entered for the item's prior approvals (verified at acceptance)."""
    actor = uow.actor
    channel = _channel(actor)
    processing = data.get("processing", "online")
    if processing != "online":
        require(actor, Action.RECORD_OFFLINE_CASE)
    accept = bool(data.get("accept"))
    if accept:
        require(actor, Action.ACCEPT_ON_SUBMISSION)
    options = {k: data[k] for k in ("green_channel", "agent_staff_id") if data.get(k) is not None}
    if options and not accept:
        raise InvalidInput("the green channel and the agent are set at acceptance", field=next(iter(options)))
    code = _write_case(uow, channel, processing, data, readable=accept or bool(data.get("prerequisites")))
    if accept:
        from .cases import transition_case

        transition_case(uow, code, Event.ACCEPT, expected_version=None, **options)
    return code


def _version(uow: Work, vid: int) -> ItemVersion:
    """A published version never changes (a revision is a new version): the node keeps the ones it loaded."""
    cache = uow.ctx.item_versions
    v = cache.get(vid)
    if v is None:
        v = cache[vid] = item_version(uow.session, vid)
    return v


def _write_case(uow: Work, channel: str, processing: str, data: dict[str, Any], readable: bool) -> str:
    """A new case's rows get their ids up front and are written by the case repository, audited
    from the very values written (on PostgreSQL as one statement at commit, unless the same unit
    of work must read the case back: ``readable``). Intake is the hot path, and the ORM's flush
    bookkeeping bought nothing for rows that are only inserted."""
    ctx, actor = uow.ctx, uow.actor
    staff = actor if actor.kind == "staff" else None
    phone = data["applicant"].get("phone")
    materials = data.get("materials", [])
    got = read_for_intake(uow, data["item_code"], [m["upload_id"] for m in materials], len(materials), bool(phone))
    v = _version(uow, got.version_id)
    if got.item_status != ItemStatus.ACTIVE:
        raise Conflict(f"item '{v.item.code}' is {got.item_status} and takes no applications", field="item_code")
    require(actor, Action.SUBMIT_CASE, Target(department_id=v.department_id), field="item_code")
    if v.fields:  # a bundle's merged form (一表式): each field asked once, a required one named when missing
        check_form(v.fields, data.get("form", {}))
    notice, given = completeness(uow.session, v, materials, data.get("conditional_materials", []), got.uploads,
                                 usable=usable_by(actor))
    if not notice.complete:
        raise IncompleteApplication("the application is incomplete: see 'notice' for everything missing at once",
                                    field="materials", notice=notice.as_dict())
    a = data["applicant"]
    id_type = a.get("id_type", "resident_id")
    id_number = validate_id(id_type, a["id_number"])
    uploads = [(code_, up) for code_, ups in given.items() for up in ups]  # complete: one per material given
    code = servicecode.make_code(ctx.node_id, uow.now.date(), ctx.random_part())
    ids = got.ids
    case_id, dept = ids["cases"][0], v.department_id
    case_row = full_row(CASES, id=case_id, code=code, department_id=dept, item_version_id=v.id,
                        item_code=v.item.code, channel=channel,
                        service_point_id=staff.service_point_id if channel == "agent" and staff else None,
                        submitted_by=staff.staff_id if staff else None, processing=processing,
                        applicant_name=a["name"], applicant_id_type=id_type, applicant_id_number=id_number,
                        applicant_phone=phone, applicant_org=a.get("org"), form=data.get("form", {}),
                        conditional_materials=data.get("conditional_materials", []), status=Status.SUBMITTED.value,
                        submitted_at=uow.now, version=1)
    actor_label = staff.label if staff else "applicant"
    transition = full_row(TRANSITIONS, id=ids["case_transitions"][0], case_id=case_id, department_id=dept, seq=1,
                          event="submit", to_status=Status.SUBMITTED.value, actor=actor_label,
                          actor_role=staff.role if staff else None, occurred_at=uow.now, recorded_at=uow.now,
                          backfilled=False, data={"channel": channel})
    binds = binding([up for _, up in uploads], None)
    material_rows = [full_row(MATERIALS, id=mid, case_id=case_id, department_id=dept, material_code=code_,
                              upload_id=up.id, digest=up.digest, size=up.size, file_type=up.file_type,
                              filename=up.filename, added_at=uow.now, binds=b)
                     for mid, (code_, up), b in zip(ids["case_materials"], uploads, binds, strict=True)]
    n = None if "submitted" in ctx.muted_notifications(uow.session) else notifications.outbox_row(
        uow.now, ctx.settings.node_name, case_id=case_id, code=code, phone=phone, promised=None, item_name=v.name,
        template="submitted")
    note = full_row(NOTIFICATIONS, id=ids["notifications"][0], **n) if n is not None else None
    add_case(uow, NewCase(case_row, transition, material_rows, note), readable=readable)
    if data.get("prerequisites"):  # (``readable``: the case's row is written before these)
        prerequisites.record_entries(uow, case_id, dept, v, data["prerequisites"])
    if uow.logs_events:
        # The case as written, for the signed record: the values themselves (an ORM instance
        # and its materials cost more than the rest of the record on this hot path).
        written = SimpleNamespace(**case_row, item_version=v, license=None,
                                  materials=[SimpleNamespace(digest=r["digest"]) for r in material_rows])
        uow.case_event(cast(Case, written), "submit", actor=actor_label, actor_role=staff.role if staff else None)
    if note is not None:
        nid = note["id"]
        uow.after_commit(lambda: ctx.dispatch_notifications([nid]))
    return code
