"""Case work: transitions through the one state machine, supplements, extensions, assignment."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from node.domain import deadlines, servicecode
from node.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from node.domain.items import StageKind
from node.domain.policy import Action, Target, require, why_not
from node.domain.lifecycle import (
    DERIVED_EVENTS,
    Actor,
    CaseState,
    Decision,
    Event,
    Processing,
    Result,
    Status,
    allowed_events,
    decide,
)
from node.domain.roles import Role
from node.persistence.cases import load_case
from node.persistence.models import (
    Case,
    CasePart,
    CaseTransition,
    Department,
    Extension,
    ItemVersion,
    License,
    Staff,
)

from . import joint as joint_cases
from . import linked
from . import notifications, prerequisites
from .catalog import stage_defs
from .context import CST, Work, as_cst
from .materials import completeness
from .uploads import attach, usable_by

HANDLER_STAGES = (StageKind.UNDERTAKE,)

JOINT_CASE_EVENTS = frozenset({Event.ACCEPT, Event.REFUSE, Event.REQUEST_SUPPLEMENT, Event.SUPPLY, Event.WITHDRAW,
                               Event.CONCLUDE_JOINT})
"""What a joint case itself does: acceptance (which spawns its parts), refusal, a supplement before
acceptance; then it concludes with its last part (``conclude_joint``), or is withdrawn with every
part not yet concluded (``joint.withdraw_parts``)."""


def state_of(case: Case) -> CaseState:
    return CaseState(Status(case.status), case.stage_index,
                     Status(case.resume_status) if case.resume_status else None, case.resume_stage_index)


def _check_assignment(s: Session, case: Case, actor: Actor, decision_stage: StageKind | None) -> None:
    """First-question responsibility at the handler's stages (``policy.WORK_ASSIGNED_CASE``)."""
    if case.assignee_id is None or decision_stage not in HANDLER_STAGES:
        return
    assignee = s.get(Staff, case.assignee_id)
    target = Target(staff_id=case.assignee_id, absent=bool(assignee and assignee.absent),
                    backup_id=assignee.backup_id if assignee else None)
    reason = why_not(actor, Action.WORK_ASSIGNED_CASE, target)
    if reason is not None:
        raise PermissionDenied(f"the case is assigned to {assignee.name if assignee else case.assignee_id}; {reason}",
                               field="event")


def _when(now: datetime, occurred_at: datetime | None, case: Case) -> tuple[datetime, bool]:
    if occurred_at is None:
        return now, False
    if case.processing == Processing.ONLINE:
        raise InvalidInput("an original time is accepted only for paper or offline processed cases",
                           field="occurred_at")
    occurred_at = as_cst(occurred_at)
    if occurred_at > now:
        raise InvalidInput("the original time lies in the future", field="occurred_at")
    last = max((as_cst(t.occurred_at) for t in case.transitions), default=None)
    if last is not None and occurred_at < last:
        raise InvalidInput(f"the original time is before the case's previous step ({last.isoformat()})",
                           field="occurred_at")
    return occurred_at, True


@dataclass
class TransitionInput:
    event: Event
    expected_version: int | None = None
    reason: str | None = None
    opinion: str | None = None
    occurred_at: datetime | None = None
    result: Result | None = None
    missing: list[dict[str, Any]] | None = None
    materials: list[dict[str, Any]] | None = None
    license_valid_until: date | None = None
    green_channel: bool | None = None  # at acceptance (clerk): a key project's case, first in every queue
    agent_staff_id: int | None = None  # at acceptance: the free agent (代办员) acting for the applicant
    open_parts: int | None = None  # the guard of conclude_joint (set by the joint service only)
    prerequisites: list[dict[str, Any]] | None = None
    """At acceptance: references for the item's prerequisites (``services.prerequisites``)."""
    by_joint: bool = False  # a part withdrawn with its joint case (set by the joint services only)
    remote_materials: list[dict[str, Any]] | None = None
    """A supply from the joint case's node to a case worked here for it: the materials' digests
    (``linked.receive_supply`` only; the bytes stay there)."""


def _part_label(s: Session, case: Case) -> str:
    of = joint_cases.part_of(s, case)
    dept = s.get(Department, case.department_id)
    where = f"part {of['part_no']} of joint case {of['joint_code']}" if of else f"case {case.code}"
    return f"{where} belongs to {dept.name if dept else case.department_id}"


def check_part_actor(uow: Work, case: Case) -> None:
    """A part of a joint case (here, or linked from another node) is acted on by its own department
    only (``policy.WORK_PART``): 403 naming the part and its department."""
    if case.joint_case_id is None and not case.linked_from:
        return
    reason = why_not(uow.actor, Action.WORK_PART, Target(department_id=case.department_id))
    if reason is not None:
        raise PermissionDenied(f"{_part_label(uow.session, case)}: {reason}", field="code")


def load_for_work(uow: Work, code: str) -> Case:
    """The case to act on, locked. A part of a joint case outside the actor's tenancy is refused
    as another department's part (403, named by ``check_part_actor``), not hidden as absent: the
    departments of one joint case see each other's parts in its view."""
    s = uow.session
    try:
        case = load_case(s, code, lock=True)
    except NotFound:
        other = s.scalar(select(Case).where(Case.code == servicecode.normalize(code))
                         .execution_options(all_tenants=True))
        if other is None or (other.joint_case_id is None and not other.linked_from):
            raise
        check_part_actor(uow, other)
        raise
    check_part_actor(uow, case)
    return case


def transition_case(uow: Work, code: str, event: Event, expected_version: int | None, **kw: Any) -> Case:
    return apply_transition(uow, code, TransitionInput(event, expected_version, **kw))


def apply_transition(uow: Work, code: str, t: TransitionInput) -> Case:
    """Move the case through the one state machine (``lifecycle.decide``)."""
    if t.event in DERIVED_EVENTS:
        raise InvalidInput(f"'{t.event}' is the node's own step, never fired by hand", field="event")
    if t.by_joint:
        raise InvalidInput("a part is withdrawn with its joint case only", field="event")
    if t.event == Event.WITHDRAW:
        joint_cases.lock_parts_first(uow, code)  # parts before the joint case, as a part's conclusion locks them
    case = load_for_work(uow, code)
    if t.expected_version is not None and t.expected_version != case.version:
        raise Conflict(f"the case is at version {case.version}, not {t.expected_version}: someone else "
                       "just changed it; reload and try again", field="version", current_version=case.version)
    return transition_loaded(uow, case, t)


def fire(uow: Work, case: Case, event: Event, sync_joint: bool = True, **kw: Any) -> Case:
    """``event`` on a case already loaded (and locked) in this unit of work."""
    return transition_loaded(uow, case, TransitionInput(event, **kw), sync_joint)


def transition_loaded(uow: Work, case: Case, t: TransitionInput, sync_joint: bool = True) -> Case:
    """``apply_transition`` of a case already loaded (and locked) in this unit of work: the joint
    services use it for a joint case's parts and for a stage every listed department signs."""
    ctx, actor = uow.ctx, uow.actor
    cal = uow.calendar()
    s = uow.session
    stages = stage_defs(case.item_version)
    before = state_of(case)
    joint_item = joint_cases.is_joint(case.item_version)
    if joint_item and t.event != Event.WITHDRAW and (
            t.event not in JOINT_CASE_EVENTS or (before.status == Status.IN_PROGRESS) != (t.event == Event.CONCLUDE_JOINT)):
        raise Conflict("a joint case (联办件) moves with its parts: work each part at its department",
                       field="event", state=before.status.value)
    if joint_item and t.event not in DERIVED_EVENTS:
        require(actor, Action.WORK_JOINT_CASE, field="code")
    if case.joint_case_id is not None or case.linked_from:
        if t.event == Event.WITHDRAW and not t.by_joint:
            of = joint_cases.part_of(s, case)
            raise Conflict(f"a part of a joint case is not withdrawn alone: withdraw the joint case "
                           f"{of['joint_code'] if of else ''} (every part not yet concluded is withdrawn with it)",
                           field="event")
        if t.event != Event.SIGN_OFF:  # a joint stage's listed departments sign (policy.SIGN_OFF_STAGE)
            check_part_actor(uow, case)
    if before.status == Status.IN_PROGRESS and not t.by_joint:
        _check_assignment(s, case, actor, stages[before.stage_index or 0].kind)
    pending: list[str] = []
    if t.event == Event.SIGN_OFF and before.stage_index is not None:
        pending = joint_cases.pending_signoffs(s, case, before.stage_index, stages)
    d = decide(before, stages, t.event, actor, Processing(case.processing), t.reason, t.result,
               pending_signoffs=pending, open_parts=t.open_parts)
    if case.joint_case_id is not None:  # a prerequisite that is another part of its joint case (前置审批)
        prerequisites.guard_same_joint(case, t.event == Event.APPROVE or d.result == Result.APPROVED,
                                       d.after.status == Status.CONCLUDED)
    at, backfilled = _when(uow.now, t.occurred_at, case)
    on = at.date()
    if t.event == Event.ACCEPT:
        prerequisites.verify_at_acceptance(uow, case, t.prerequisites, on)
    elif t.prerequisites:
        raise InvalidInput("prerequisites are entered at submission or acceptance", field="prerequisites")
    new_materials = list(t.materials or [])
    if t.remote_materials is not None and (t.event != Event.SUPPLY or not case.linked_from or actor.kind != "system"):
        raise InvalidInput("materials by digest are supplied only by a linked case's joint case node",
                           field="materials")
    if t.event == Event.SUPPLY and t.remote_materials is None:  # digests by a linked case's node: recorded below
        if not new_materials:
            raise InvalidInput("supply the requested materials", field="materials")
        notice, given = completeness(s, case.item_version, new_materials, [], usable=usable_by(actor, case.id))
        if notice.invalid:
            raise InvalidInput("some supplied materials are not acceptable", field="materials",
                               notice=notice.as_dict())
        attach(case, given, uow.now)
    case.status = d.after.status.value
    case.stage_index = d.after.stage_index
    case.resume_status = d.after.resume_status.value if d.after.resume_status else None
    case.resume_stage_index = d.after.resume_stage_index
    v = case.item_version
    deadlines.after_decision(deadlines.Clock.of(case), d, on, cal, v.legal_limit_days,
                             v.promised_limit_days).write_to(case)
    if t.event == Event.ACCEPT:
        case.accepted_at = at
        joint_cases.set_acceptance_options(uow, case, t.green_channel, t.agent_staff_id)
        if joint_item:
            joint_cases.spawn_parts(uow, case, fire)
    if joint_item and t.event == Event.WITHDRAW and before.status == Status.IN_PROGRESS:
        joint_cases.withdraw_parts(uow, case, fire, t.reason)
    if t.event == Event.SEND_BACK and d.after.stage_index is not None:
        joint_cases.clear_signoffs(s, case, d.after.stage_index)  # a joint stage sent back to is signed anew
    if t.event == Event.UNDERTAKE and case.assignee_id is None and actor.role == Role.HANDLER:
        case.assignee_id = actor.staff_id
    license_no = None
    if d.after.status == Status.CONCLUDED:
        case.concluded_at = at
        case.result = d.result.value if d.result else None
        case.result_reason = t.reason if d.result == Result.DENIED else (t.opinion or t.reason)
        if d.result == Result.APPROVED and case.item_version.issues_license:
            license_no = _issue_license(s, ctx, case, on, at, t.license_valid_until)
    seq = (s.scalar(select(func.max(CaseTransition.seq)).where(CaseTransition.case_id == case.id)
                    .execution_options(all_tenants=True)) or 0) + 1
    data: dict[str, Any] = {}
    if t.opinion:
        data["opinion"] = t.opinion
    if t.missing:
        data["missing"] = t.missing
    if license_no:
        data["license_number"] = license_no
    if t.remote_materials is not None:
        data["materials"] = t.remote_materials
    case.transitions.append(CaseTransition(case_id=case.id, department_id=case.department_id, seq=seq, event=t.event.value,
                         from_status=before.status.value, from_stage=before.stage_index,
                         to_status=d.after.status.value, to_stage=d.after.stage_index, actor=actor.label,
                         actor_role=actor.role.value if actor.role else None, occurred_at=at,
                         recorded_at=uow.now, backfilled=backfilled, stage_deadline=case.stage_deadline,
                         reason=t.reason, data=data))
    uow.case_event(case, t.event.value, occurred_at=at, actor_role=actor.role.value if actor.role else None,
                   backfilled=backfilled, reason=t.reason)
    # A joint case's parts tell the applicant only what they must act on (a supplement); the
    # acceptance and the results go out once, for the joint case. A case worked here for another
    # node's joint case tells the applicant nothing itself: the joint case's node does, under the one
    # code the applicant holds (its supplement request too, ``linked.receive_progress``).
    part = case.joint_case_id is not None
    n = None if case.linked_from or (part and t.event != Event.REQUEST_SUPPLEMENT) \
        else _notify(s, ctx, uow.now, case, d, t, license_no)
    if n is not None:
        s.flush()
        nid = n.id
        uow.after_commit(lambda: ctx.dispatch_notifications([nid]))
    if part and sync_joint:
        joint_cases.part_changed(uow, case, fire)
    if case.linked_from:
        linked.part_moved(uow, case, t.event.value)  # another node's joint case: its origin is told
    return case


def supply_part(uow: Work, joint_code: str, part_no: int, materials: list[dict[str, Any]]) -> Case:
    """补正 of one part, asked for at the joint case the applicant holds the code of (the applicant,
    their agent, or the window for them: ``policy.WORK_JOINT_CASE``). A part worked in this hall is
    supplied as its own case; a part worked at another node through ``linked.supply_remote``. The
    joint case is locked first, so two supplies at once send one."""
    require(uow.actor, Action.WORK_JOINT_CASE, field="code")
    s = uow.session
    jc = load_case(s, joint_code, lock=True)
    if not joint_cases.is_joint(jc.item_version):
        raise Conflict(f"{jc.code} is not a joint case (联办件): supply its materials at the case itself",
                       field="part")
    row = s.scalar(select(CasePart).where(CasePart.joint_case_id == jc.id, CasePart.part_no == part_no)
                   .with_for_update().execution_options(all_tenants=True, populate_existing=True))
    if row is None:
        raise NotFound(f"joint case {jc.code} has no part {part_no}", field="part")
    if row.local_case_id is not None:
        code = s.scalar(select(Case.code).where(Case.id == row.local_case_id).execution_options(all_tenants=True))
        apply_transition(uow, str(code), TransitionInput(Event.SUPPLY, materials=materials))
    else:
        linked.supply_remote(uow, jc, row, materials)
    return jc


def install_linked(ctx: Any) -> None:
    """The handlers of linked parts (市区两级联动), given the state machine and the joint re-derivation."""
    linked.install(ctx, fire, lambda uow, jc: joint_cases.rederive_locked(uow, jc, fire))


def _notify(s: Session, ctx: Any, now: datetime, case: Case, d: Decision, t: TransitionInput,
            license_no: str | None) -> Any:
    """The applicant's message of this transition, if it has one (and the hall sends that kind)."""
    kind, detail = _message_of(s, case, d, t, license_no)
    if kind is None:
        return None
    return notifications.queue(s, now, ctx.settings.node_name, case, case.item_version.name, kind, detail,
                               ctx.muted_notifications(s))


def _message_of(s: Session, case: Case, d: Decision, t: TransitionInput,
                license_no: str | None) -> tuple[str | None, str]:
    if t.event == Event.CONCLUDE_JOINT:  # every part's result, together: one message
        return "joint_concluded", t.opinion or ""
    if t.event == Event.WITHDRAW and joint_cases.is_joint(case.item_version) and d.before.status == Status.IN_PROGRESS:
        return "joint_withdrawn", joint_cases.kept_results(s, case)
    if t.event == Event.ACCEPT:
        return "accepted", ""
    if t.event == Event.REQUEST_SUPPLEMENT:
        return "supplement", ("；".join(m.get("name") or m.get("material_code", "") for m in (t.missing or []))
                              or (t.reason or ""))
    if t.event == Event.REFUSE:
        return "refused", t.reason or ""
    if d.result == Result.DENIED:
        return "denied", t.reason or ""
    if d.result == Result.APPROVED:
        return "concluded", f"证照编号 {license_no}。" if license_no else ""
    return None, ""


def _issue_license(s: Session, ctx: Any, case: Case, on: date, at: datetime,
                   valid_until: date | None) -> str:
    v = case.item_version
    dept = s.get(Department, case.department_id)
    number = f"{ctx.node_id}-{(dept.code if dept else 'X').upper()}-{on:%Y}-" + ctx.random_part()
    if valid_until is None and v.license_validity_days:
        valid_until = on + timedelta(days=v.license_validity_days)
    if valid_until is not None and valid_until < on:
        raise InvalidInput("the license cannot expire before it is issued", field="license_valid_until")
    case.license = (License(number=number, case_id=case.id, department_id=case.department_id,
                  name=v.license_name or v.name, holder_name=case.applicant_org or case.applicant_name,
                  holder_id_number=case.applicant_id_number, valid_from=on, valid_until=valid_until,
                  issued_at=at, status="valid"))
    return number


def claim_case(uow: Work, code: str, staff_id: int | None = None) -> Case:
    """A handler claims a case (认领), or the chief assigns it to a handler of the department."""
    actor = uow.actor
    s = uow.session
    case = load_for_work(uow, code)
    target = staff_id if staff_id is not None else actor.staff_id
    require(actor, Action.ASSIGN_CASE, Target(staff_id=staff_id),
            field="staff_id" if staff_id not in (None, actor.staff_id) else "role")
    st = s.get(Staff, target)
    if st is None or st.department_id != case.department_id or st.role != Role.HANDLER.value:
        raise InvalidInput("assign to a handler of the case's department", field="staff_id")
    if case.status in (Status.CONCLUDED, Status.REFUSED, Status.WITHDRAWN):
        raise Conflict("the case has ended", field="code")
    if case.assignee_id not in (None, target) and actor.role != Role.CHIEF:
        raise Conflict("the case is already assigned to someone else", field="code")
    case.assignee_id = target
    return case


def request_extension(uow: Work, code: str, days: int, reason: str) -> Extension:
    """At most one request per case waits for a decision: the case row is locked, so of two
    concurrent requests one wins and the other gets 409."""
    actor = uow.actor
    if days < 1 or days > 60:
        raise InvalidInput("an extension is 1 to 60 working days", field="days")
    if not reason.strip():
        raise InvalidInput("say why the case needs more time", field="reason")
    require(actor, Action.REQUEST_EXTENSION)
    s = uow.session
    case = load_for_work(uow, code)
    if case.status not in (Status.IN_PROGRESS, Status.SUPPLEMENTING):
        raise Conflict("only a case in progress can be extended", field="code")
    if s.scalar(select(Extension.id).where(Extension.case_id == case.id, Extension.status == "pending")):
        raise Conflict("an extension request for this case is already waiting for a decision", field="code")
    e = Extension(case_id=case.id, department_id=case.department_id, days=days, reason=reason,
                  status="pending", requested_by=actor.staff_id or 0, requested_at=uow.now)
    s.add(e)
    s.flush()
    return e


def decide_extension(uow: Work, code: str, extension_id: int, approve: bool, note: str | None) -> Extension:
    """Approved by a higher role (approver or chief representative), never by the requester. The
    extension row is locked: of an approval and a rejection at once, one wins, the other gets 409."""
    actor = uow.actor
    require(actor, Action.DECIDE_EXTENSION, field="role")
    cal = uow.calendar()
    s = uow.session
    case = load_for_work(uow, code)
    e = s.scalar(select(Extension).where(Extension.id == extension_id).with_for_update()
                 .execution_options(populate_existing=True))
    if e is None or e.case_id != case.id:
        raise NotFound(f"no extension {extension_id} on case {case.code}", field="extension_id")
    if e.status != "pending":
        raise Conflict(f"the extension was already {e.status}", field="extension_id")
    require(actor, Action.DECIDE_EXTENSION, Target(staff_id=e.requested_by))
    e.status = "approved" if approve else "rejected"
    e.decided_by, e.decided_at, e.decision_note = actor.staff_id, uow.now, note
    if approve:
        deadlines.extended(deadlines.Clock.of(case), e.days, cal).write_to(case)
        uow.case_event(case, "extension", actor_role=actor.role.value if actor.role else None,
                       reason=e.reason, extension_days=e.days)
        if case.joint_case_id is not None:
            joint_cases.part_changed(uow, case, fire)
        if case.linked_from:
            linked.part_moved(uow, case, "extension")
    return e


def get_case(uow: Work, code: str) -> Case:
    return load_case(uow.session, code)


def list_cases(uow: Work, *, status: str | None = None, item_code: str | None = None,
               mine: bool = False, page: int = 1, page_size: int = 50) -> tuple[list[Case], int]:
    actor = uow.actor
    s = uow.session
    q = select(Case).options(selectinload(Case.transitions), selectinload(Case.materials),
                             selectinload(Case.license), selectinload(Case.prerequisites))
    if status:
        q = q.where(Case.status == status)
    if item_code:
        q = q.where(Case.item_code == item_code)
    if mine and actor.staff_id is not None:
        away = select(Staff.id).where(Staff.backup_id == actor.staff_id, Staff.absent.is_(True))
        q = q.where((Case.assignee_id == actor.staff_id) | Case.assignee_id.in_(away))
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = list(s.scalars(q.order_by(Case.green_channel.desc(), Case.id.desc())
                          .offset((page - 1) * page_size).limit(page_size)))  # 绿色通道 first
    if mine:  # a handler's queue: green channel first, then the most urgent light (red, yellow, green)
        from .supervision import queue_order
        rows = queue_order(uow, rows)
    return rows, total


def allowed_for(case: Case) -> list[str]:
    allowed = allowed_events(state_of(case), stage_defs(case.item_version), Processing(case.processing))
    if case.item_version.kind == "joint" and case.item_version.parts:
        if case.status == Status.IN_PROGRESS:
            return [Event.WITHDRAW.value]
        return [e for e in allowed if e in JOINT_CASE_EVENTS]
    if case.joint_case_id is not None or case.linked_from:
        return [e for e in allowed if e != Event.WITHDRAW]  # withdrawn with its joint case only
    return allowed


QUEUE_TABS = ("todo", "overdue", "done", "extensions")


def work_queue(uow: Work, *, tab: str = "todo", page: int = 1, page_size: int = 20) -> tuple[list[Case], int]:
    """A staff member's work queue (部门工作台, the window's cases to conclude), a page of it and the total.

    ``todo``: the cases in progress whose current stage is the actor's role's (a chief
    representative: every stage of the department); at a handler's stage, the unassigned ones and
    those assigned to the actor or to an absent colleague whose backup the actor is. A joint case
    itself is not worked (its parts are). ``overdue``: those of ``todo`` past their stage deadline.
    ``done``: the cases the actor moved, newest first. ``extensions``: the cases with an extension
    request waiting for a decision (for those who decide them). Green channel first, then the
    light, then the stage deadline (``supervision.queue_order``)."""
    from sqlalchemy import and_, false, or_

    if tab not in QUEUE_TABS:
        raise InvalidInput(f"tab is one of {', '.join(QUEUE_TABS)}", field="tab")
    actor, s = uow.actor, uow.session
    q = select(Case)
    if tab == "done":
        moved = select(CaseTransition.case_id).where(CaseTransition.actor == actor.label)
        q = q.where(Case.id.in_(moved))
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        return list(s.scalars(q.order_by(Case.id.desc()).offset((page - 1) * page_size).limit(page_size))), total
    if tab == "extensions":
        q = q.where(Case.id.in_(select(Extension.case_id).where(Extension.status == "pending")))
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        return list(s.scalars(q.order_by(Case.green_channel.desc(), Case.id)
                              .offset((page - 1) * page_size).limit(page_size))), total
    q = q.where(Case.status == Status.IN_PROGRESS.value)
    versions = s.scalars(select(ItemVersion).where(
        ItemVersion.id.in_(select(Case.item_version_id).where(Case.status == Status.IN_PROGRESS.value).distinct()))
        .execution_options(all_tenants=True))
    mine: list[Any] = []
    for v in versions:
        if joint_cases.is_joint(v):
            continue
        idx = [i for i, st in enumerate(v.stages) if actor.role == Role.CHIEF or st.get("role") == actor.role]
        if idx:
            mine.append(and_(Case.item_version_id == v.id, Case.stage_index.in_(idx)))
    q = q.where(or_(*mine) if mine else false())
    if actor.role == Role.HANDLER and actor.staff_id is not None:
        away = select(Staff.id).where(Staff.backup_id == actor.staff_id, Staff.absent.is_(True))
        q = q.where(Case.assignee_id.is_(None) | (Case.assignee_id == actor.staff_id) | Case.assignee_id.in_(away))
    if tab == "overdue":
        q = q.where(Case.stage_deadline < uow.now.astimezone(CST).date())
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = list(s.scalars(q.order_by(Case.green_channel.desc(), Case.stage_deadline.is_(None),
                                     Case.stage_deadline, Case.id.desc())
                          .offset((page - 1) * page_size).limit(page_size)))
    from .supervision import queue_order
    return queue_order(uow, rows), total


def case_extensions(uow: Work, code: str) -> list[dict[str, Any]]:
    """A case's extension requests (延期), oldest first, as plain values."""
    case = load_case(uow.session, code)
    rows = uow.session.scalars(select(Extension).where(Extension.case_id == case.id).order_by(Extension.id))
    return [dict(id=e.id, days=e.days, reason=e.reason, status=e.status, requested_by=e.requested_by,
                 requested_at=e.requested_at, decided_by=e.decided_by, decided_at=e.decided_at,
                 decision_note=e.decision_note) for e in rows]


def may_work_assigned(uow: Work, case: Case) -> bool:
    """Whether first-question responsibility (``policy.WORK_ASSIGNED_CASE``) lets the actor act on
    the case's current stage: what a page asks before offering the stage's buttons."""
    if case.status != Status.IN_PROGRESS:
        return True
    try:
        _check_assignment(uow.session, case, uow.actor, stage_defs(case.item_version)[case.stage_index or 0].kind)
    except PermissionDenied:
        return False
    return True
