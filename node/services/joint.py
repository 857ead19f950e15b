"""Joint cases in one hall (联办件, 并联审批), joint stages (联合审图, 联合踏勘), agency and the green
channel (代办, 绿色通道).

A joint case is a ``Case`` of a joint item; accepting it (``cases.transition_loaded``, at the
window or later) spawns and accepts one case per part, each of its own department, in the same
unit of work (``spawn_parts``). Every transition of a part re-derives the joint case in the
part's unit of work (``part_changed``): the part's ``case_parts`` row, the joint deadlines (the
longest part's), and — with the last part's conclusion — the joint case's own conclusion by its
decision rule, with one notification. The rules are ``node.domain.joint``'s.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, selectinload

from node.domain import deadlines, joint, servicecode
from node.domain.errors import Conflict, InvalidInput, NotFound
from node.domain.items import JOINT_STAGES, ItemKind, ItemStatus, StageDef
from node.domain.lifecycle import TERMINAL, Event, Status
from node.domain.policy import Action, require
from node.domain.roles import Role
from node.persistence.models import Case, CaseMaterial, CasePart, CaseTransition, Department, ItemVersion, Staff, StageSignoff

from . import linked, prerequisites
from .catalog import current_version
from .context import Work

ALL = {"all_tenants": True}
Fire = Callable[..., Case]
"""``cases.fire(uow, case, event, sync_joint=True, **input)``: a transition of a loaded case through the
one state machine, passed in by ``cases`` (which imports this module, not the other way round)."""


def is_joint(v: ItemVersion) -> bool:
    """A joint item with parts (a joint item without parts is worked by its own department)."""
    return v.kind == ItemKind.JOINT and bool(v.parts)


def set_acceptance_options(uow: Work, case: Case, green_channel: bool | None, agent_staff_id: int | None) -> None:
    """What the clerk sets at acceptance: the green channel (绿色通道) and the free agent (代办员)."""
    if green_channel is None and agent_staff_id is None:
        return
    require(uow.actor, Action.SET_ACCEPTANCE_OPTIONS, field="green_channel" if green_channel is not None
            else "agent_staff_id")
    if green_channel is not None:
        case.green_channel = green_channel
    if agent_staff_id is not None:
        st = uow.session.get(Staff, agent_staff_id)
        if st is None or st.role != Role.AGENT.value or not st.active:
            raise InvalidInput(f"staff {agent_staff_id} is not an active agent (代办员)", field="agent_staff_id")
        case.agent_staff_id = agent_staff_id


def spawn_parts(uow: Work, jc: Case, fire: Fire) -> None:
    """Create and accept every part of the joint case ``jc`` (being accepted now). A part item that
    is not active refuses the acceptance: the unit of work rolls back, nothing is written."""
    s = uow.session
    v = jc.item_version
    codes = [p["item_code"] for p in v.parts or []]
    remote = linked.remote_parts(v, uow.ctx.node_id)
    if remote:
        linked.check_destinations(uow, v)
    versions: list[ItemVersion | None] = []
    for i, code in enumerate(codes):
        if i + 1 in remote:
            versions.append(None)  # another node's item: that node checks it when the dispatch arrives
            continue
        try:
            pv = current_version(s, code)
        except NotFound:
            raise Conflict(f"part {i + 1}: item '{code}' is no longer in the catalog", field=f"parts[{i}].item_code") \
                from None
        if pv.item.status != ItemStatus.ACTIVE:
            raise Conflict(f"part {i + 1}: item '{code}' is {pv.item.status} and takes no applications; "
                           "the joint case cannot be accepted", field=f"parts[{i}].item_code")
        versions.append(pv)
    joint.check_form(v.fields, jc.form or {})
    forms = joint.part_forms(v.fields, jc.form or {}, codes)
    s.flush()  # the joint case's id and state are in the database before its parts point to it
    dispatches: list[tuple[CasePart, dict[str, Any]]] = []
    for no, (code, maybe) in enumerate(zip(codes, versions, strict=True), 1):
        if maybe is None:
            row = CasePart(joint_case_id=jc.id, part_no=no, item_code=code, department_id=None,
                           remote_node=remote[no], status=Status.SUBMITTED.value)
            s.add(row)
            dispatches.append((row, forms[code]))
            continue
        pv = maybe
        part = Case(code=servicecode.make_code(uow.ctx.node_id, uow.now.date(), uow.ctx.random_part()),
                    department_id=pv.department_id, item_version_id=pv.id, item_code=code, channel=jc.channel,
                    service_point_id=jc.service_point_id, submitted_by=jc.submitted_by, processing=jc.processing,
                    applicant_name=jc.applicant_name, applicant_id_type=jc.applicant_id_type,
                    applicant_id_number=jc.applicant_id_number, applicant_phone=jc.applicant_phone,
                    applicant_org=jc.applicant_org, form=forms[code], conditional_materials=[],
                    status=Status.SUBMITTED.value, submitted_at=uow.now, joint_case_id=jc.id,
                    agent_staff_id=jc.agent_staff_id, green_channel=jc.green_channel, paused_days=0,
                    extended_days=0)
        part.item_version = pv
        s.add(part)
        s.flush()
        part.transitions.append(CaseTransition(
            case_id=part.id, department_id=part.department_id, seq=1, event="submit", to_status=Status.SUBMITTED.value,
            actor=uow.actor.label, actor_role=uow.actor.role.value if uow.actor.role else None, occurred_at=uow.now,
            recorded_at=uow.now, backfilled=False, data={"channel": jc.channel, "joint_code": jc.code, "part_no": no}))
        row = CasePart(joint_case_id=jc.id, part_no=no, item_code=code, department_id=pv.department_id,
                       local_case_id=part.id, status=Status.SUBMITTED.value)
        s.add(row)
        s.flush()
        uow.note_joint_link(part, jc.code, no)
        uow.case_event(part, "submit")
        fire(uow, part, Event.ACCEPT, sync_joint=False)
        _mirror(row, part)
    _rederive(uow, jc, fire)
    if dispatches:
        s.flush()
        linked.dispatch_remote(uow, jc, dispatches)  # with the joint deadlines of its local parts


def shared_materials(case: Case) -> tuple[Case, list[CaseMaterial]]:
    """(the case whose materials ``case`` is worked with, those materials): a part of a joint case
    accepted here has none of its own and shares the joint case's (read whatever the reader's
    department: the part's department works with them); any other case, its own."""
    s = object_session(case)
    if case.joint_case_id is None or case.materials or s is None:
        return case, list(case.materials)
    jc = s.scalar(select(Case).where(Case.id == case.joint_case_id).execution_options(**ALL))
    if jc is None:
        return case, []
    mats = s.scalars(select(CaseMaterial).where(CaseMaterial.case_id == jc.id).order_by(CaseMaterial.id)
                     .execution_options(**ALL))
    return jc, list(mats)


def _mirror(row: CasePart, part: Case) -> None:
    for attr, value in (("status", part.status), ("deadline", part.promised_deadline), ("result", part.result)):
        if getattr(row, attr) != value:
            setattr(row, attr, value)


def _parts(s: Session, jc: Case) -> tuple[list[CasePart], list[Case]]:
    rows = list(s.scalars(select(CasePart).where(CasePart.joint_case_id == jc.id).order_by(CasePart.part_no)
                          .execution_options(populate_existing=True, **ALL)))
    cases = list(s.scalars(select(Case).where(Case.joint_case_id == jc.id)
                           .options(selectinload(Case.prerequisites))  # read by every re-derivation
                           .execution_options(populate_existing=True, **ALL)))
    return rows, cases


def _current_parts(s: Session, jc: Case) -> tuple[list[CasePart], dict[int, Case]]:
    """The joint case's part rows, each local one mirroring its case as it stands in this unit of work."""
    s.flush()
    rows, cases = _parts(s, jc)
    by_id = {c.id: c for c in cases}
    for r in rows:
        if r.local_case_id in by_id:
            _mirror(r, by_id[r.local_case_id])
    return rows, by_id


def _rederive(uow: Work, jc: Case, fire: Fire) -> None:
    """The joint case from its parts, in this unit of work: its deadlines (the longest part's) and,
    once every part has concluded, its own conclusion with one notification."""
    rows, by_id = _current_parts(uow.session, jc)
    cases = list(by_id.values())
    _settle_prerequisites(uow, rows, by_id)
    states = [joint.PartState(r.part_no, r.status, r.result, r.deadline) for r in rows]
    if Status(jc.status) in TERMINAL:
        return
    clock = deadlines.Clock.of(jc)
    clock.promised_deadline = joint.deadline(states)
    clock.legal_deadline = deadlines.joint_deadline([c.legal_deadline for c in cases]
                                                    + [_remote_date(r, "legal_deadline") for r in rows])
    clock.write_to(jc)
    if joint.all_concluded(states):
        result = joint.outcome(jc.item_version.decision or joint.DecisionRule.ALL_MUST_APPROVE, states)
        summary = "；".join(f"{r.part_no}.{_part_name(r, by_id)}："
                           f"{_RESULT_ZH.get(r.result or r.status, r.result or r.status)}" for r in rows)
        fire(uow, jc, Event.CONCLUDE_JOINT, result=result, open_parts=0, opinion=summary)


def _settle_prerequisites(uow: Work, rows: list[CasePart], by_id: dict[int, Case]) -> None:
    """Parts whose prerequisite is another part of this joint case: settled once that part has concluded."""
    waiting = [c for c in by_id.values() if any(p.kind == prerequisites.SAME_JOINT for p in c.prerequisites)]
    if not waiting:  # (most joint cases: nothing to settle, no part's licence to read)
        return
    facts: dict[str, tuple[str, str | None, str, str, str]] = {}
    for r in rows:
        pc = by_id.get(r.local_case_id) if r.local_case_id is not None else None
        if pc is not None:
            lic = pc.license
            facts[r.item_code] = (pc.status, pc.result, lic.number if lic is not None else pc.code,
                                  lic.name if lic is not None else pc.item_version.name, uow.ctx.node_id)
        elif r.remote_node is not None:
            info = r.remote_info or {}
            facts[r.item_code] = (r.status, r.result, str(info.get("license_number") or r.remote_code or ""),
                                  str(info.get("item_name") or r.item_code), r.remote_node)
    for c in waiting:
        prerequisites.settle_same_joint(uow, c, facts)


def _part_name(r: CasePart, by_id: dict[int, Case]) -> str:
    if r.local_case_id in by_id:
        return by_id[r.local_case_id].item_version.name
    return str((r.remote_info or {}).get("item_name") or r.item_code) + (f"（{r.remote_node}）" if r.remote_node else "")


def _remote_date(r: CasePart, key: str) -> date | None:
    v = (r.remote_info or {}).get(key) if r.remote_node else None
    try:
        return date.fromisoformat(v) if isinstance(v, str) else None
    except ValueError:
        return None


def rederive_locked(uow: Work, jc: Case, fire: Fire) -> None:
    """A remote part's report was applied to its row: re-derive the joint case (locked by the caller)."""
    _rederive(uow, jc, fire)


_RESULT_ZH = {"approved": "准予许可", "denied": "不予许可", "refused": "不予受理", "withdrawn": "已撤回",
              "partial": "部分准予许可"}


def part_changed(uow: Work, part: Case, fire: Fire) -> None:
    """A part's transition (or extension): re-derive its joint case, whose row is locked first, so
    of two parts concluding at once the second waits and sees the first (it concludes the joint
    case, exactly once)."""
    s = uow.session
    s.flush()
    jc = s.scalar(select(Case).where(Case.id == part.joint_case_id).with_for_update(of=Case)
                  .execution_options(populate_existing=True, **ALL))
    if jc is None:  # pragma: no cover - the foreign key keeps it
        raise NotFound("the part's joint case is gone", field="code")
    _rederive(uow, jc, fire)


def lock_parts_first(uow: Work, code: str) -> None:
    """Before a joint case is withdrawn: lock its local parts (in id order), then the caller locks
    the joint case -- the order a part's conclusion takes (its own row, then the joint one), so a
    withdrawal racing the last part's conclusion waits for it (or it for the withdrawal) instead
    of deadlocking: one wins, the other finds the case ended (409)."""
    s = uow.session
    jid = s.scalar(select(Case.id).where(Case.code == servicecode.normalize(code)))  # within the reader's tenancy
    if jid is None:
        return
    list(s.scalars(select(Case.id).where(Case.joint_case_id == jid).order_by(Case.id).with_for_update()
                   .execution_options(**ALL)))


def withdraw_parts(uow: Work, jc: Case, fire: Fire, reason: str | None) -> None:
    """The applicant withdraws the joint case (撤回): in this unit of work every local part not yet
    concluded is withdrawn through the state machine, every remote one is asked to be
    (``part_withdraw`` to its owner, who withdraws its linked case and reports back as usual). A
    part already concluded keeps its result (a license issued stays issued: a withdrawal is not a
    revocation)."""
    rows, by_id = _current_parts(uow.session, jc)
    for r in rows:
        if r.local_case_id in by_id:
            pc = by_id[r.local_case_id]
            if Status(pc.status) not in TERMINAL:
                fire(uow, pc, Event.WITHDRAW, sync_joint=False, by_joint=True,
                     reason=reason or "申请人撤回联办件")
            _mirror(r, pc)
        elif r.remote_node is not None and not joint.concluded(r.status):
            linked.withdraw_remote(uow, jc, r, reason)


def kept_results(s: Session, jc: Case) -> str:
    """What a withdrawn joint case's notification says of the parts that had concluded before."""
    rows, by_id = _current_parts(s, jc)
    done = [f"{r.part_no}.{_part_name(r, by_id)}：{_RESULT_ZH.get(r.result or r.status, r.result or r.status)}"
            for r in rows if r.result is not None]
    return f"已办结的事项保留其结果：{'；'.join(done)}。" if done else ""


def pending_signoffs(s: Session, case: Case, index: int, stages: list[StageDef]) -> list[str]:
    """The departments of joint stage ``index`` that have not signed yet (codes, in listed order)."""
    st = stages[index]
    if st.kind not in JOINT_STAGES:
        return []
    signed = set(s.scalars(select(Department.code).join(StageSignoff, StageSignoff.department_id == Department.id)
                           .where(StageSignoff.case_id == case.id, StageSignoff.stage_index == index)
                           .execution_options(**ALL)))
    return [d for d in st.departments if d not in signed]


def clear_signoffs(s: Session, case: Case, from_index: int) -> None:
    """A case sent back to stage ``from_index`` (or before it): the sign-offs of its joint stages
    from there on no longer stand (audited deletes)."""
    for row in s.scalars(select(StageSignoff).where(StageSignoff.case_id == case.id,
                                                    StageSignoff.stage_index >= from_index).execution_options(**ALL)):
        s.delete(row)


def signoffs(s: Session, case: Case) -> list[dict[str, Any]]:
    rows = s.execute(select(StageSignoff, Department.code).join(Department, Department.id == StageSignoff.department_id)
                     .where(StageSignoff.case_id == case.id).order_by(StageSignoff.id).execution_options(**ALL)).all()
    return [dict(stage_index=r.stage_index, department=code, opinion=r.opinion, signed_by=r.signed_by,
                 signed_at=r.signed_at) for r, code in rows]


def joint_view(s: Session, case: Case, public: bool = False) -> dict[str, Any] | None:
    """A joint case's parts and the merged timeline of every part's transitions (and its own)."""
    if not is_joint(case.item_version):
        return None
    rows, cases = _parts_read(s, case)
    by_id = {c.id: c for c in cases}
    depts = dict(s.execute(select(Department.id, Department.name)).all())
    parts = []
    timeline: list[dict[str, Any]] = [_step(0, case, t, case.item_version.stages, public) for t in case.transitions]
    for r in rows:
        pc = by_id.get(r.local_case_id) if r.local_case_id is not None else None
        parts.append(dict(part_no=r.part_no, item_code=r.item_code,
                          item_name=pc.item_version.name if pc is not None else
                          str((r.remote_info or {}).get("item_name") or r.item_code),
                          department_id=r.department_id, department_name=depts.get(r.department_id or 0),
                          status=r.status, deadline=r.deadline, result=r.result,
                          code=pc.code if pc is not None else r.remote_code, remote_node=r.remote_node))
        if r.remote_node is not None:
            parts[-1].update(link=linked.link_view(s, r), progress=linked.progress_view(r))
        if pc is not None:
            timeline += [_step(r.part_no, pc, t, pc.item_version.stages, public) for t in pc.transitions]
    timeline.sort(key=lambda x: (x["occurred_at"], x.pop("_id")))  # same moment: in the order written
    states = [joint.PartState(r.part_no, r.status, r.result, r.deadline) for r in rows]
    return dict(decision=case.item_version.decision, status=joint.derived_status(states), parts=parts,
                timeline=timeline)


def _parts_read(s: Session, case: Case) -> tuple[list[CasePart], list[Case]]:
    rows = list(s.scalars(select(CasePart).where(CasePart.joint_case_id == case.id).order_by(CasePart.part_no)
                          .execution_options(**ALL)))
    cases = list(s.scalars(select(Case).where(Case.joint_case_id == case.id).options(selectinload(Case.transitions))
                           .execution_options(**ALL)))
    return rows, cases


def _step(part_no: int, c: Case, t: CaseTransition, stages: list[Any], public: bool) -> dict[str, Any]:
    stage = stages[t.to_stage].get("name") or stages[t.to_stage]["kind"] if t.to_stage is not None else None
    out = dict(part_no=part_no, code=c.code, seq=t.seq, event=t.event, to_status=t.to_status, stage=stage,
               occurred_at=t.occurred_at, _id=t.id)
    if not public:
        out.update(actor=t.actor, actor_role=t.actor_role, reason=t.reason)
    return out


def part_of(s: Session, case: Case) -> dict[str, Any] | None:
    """For a part: its joint case's code and the part's number."""
    link = joint.parse_linked_from(case.linked_from)
    if link is not None:
        return dict(joint_code=link[1], part_no=link[2], origin=link[0])
    if case.joint_case_id is None:
        return None
    row = s.execute(select(Case.code, CasePart.part_no).join(CasePart, CasePart.joint_case_id == Case.id)
                    .where(CasePart.local_case_id == case.id).execution_options(**ALL)).first()
    return dict(joint_code=row[0], part_no=row[1]) if row is not None else None
