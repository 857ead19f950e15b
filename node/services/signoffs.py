"""Joint review and joint site inspection (联合审图, 联合踏勘): each department a stage lists signs its
own row of ``stage_signoffs``; the last signature moves the case on through the state machine
(event ``sign_off``, guard: every listed department signed)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, or_, select

from node.domain import servicecode
from node.domain.errors import Conflict, InvalidInput, NotFound
from node.domain.items import JOINT_STAGES, StageDef
from node.domain.lifecycle import Event, Status
from node.domain.masking import mask_name
from node.domain.policy import Action, Target, can, require
from node.persistence.models import Case, Department, ItemVersion, StageSignoff

from .cases import fire
from .catalog import stage_defs
from .context import Work
from .joint import ALL, pending_signoffs, shared_materials


def sign_off(uow: Work, code: str, index: int, opinion: str) -> StageSignoff:
    """A listed department signs its own row of a joint review or inspection (联合审图, 联合踏勘)
    with its opinion; the last signature moves the case on (``sign_off`` through the state
    machine, guard: every listed department signed)."""
    actor = uow.actor
    s = uow.session
    if not opinion.strip():
        raise InvalidInput("give your department's opinion", field="opinion")
    case = s.scalar(select(Case).where(Case.code == servicecode.normalize(code)).with_for_update(of=Case)
                    .execution_options(populate_existing=True, **ALL))
    if case is None:
        raise NotFound(f"no case {code}", field="code")
    stages = stage_defs(case.item_version)
    if not 0 <= index < len(stages):
        raise NotFound(f"the case's item has no stage {index}", field="index")
    st = stages[index]
    if st.kind not in JOINT_STAGES:
        raise InvalidInput(f"stage {index} ({st.name}) is not a joint review or inspection", field="index")
    listed = dict(s.execute(select(Department.id, Department.code).where(Department.code.in_(st.departments))).all())
    require(actor, Action.SIGN_OFF_STAGE, Target(role=st.role, departments=frozenset(listed)))
    if case.status != Status.IN_PROGRESS or case.stage_index != index:
        raise Conflict(f"the case is not at stage {index} ({st.name}) now", field="index")
    assert actor.department_id is not None
    mine = s.scalar(select(StageSignoff).where(StageSignoff.case_id == case.id, StageSignoff.stage_index == index,
                                               StageSignoff.department_id == actor.department_id)
                    .execution_options(**ALL))
    if mine is not None:
        raise Conflict(f"{listed[actor.department_id]} signed this stage already", field="index")
    row = StageSignoff(case_id=case.id, stage_index=index, department_id=actor.department_id, opinion=opinion,
                       signed_by=actor.staff_id, signed_at=uow.now)
    s.add(row)
    s.flush()
    if not pending_signoffs(s, case, index, stages):
        fire(uow, case, Event.SIGN_OFF, opinion=opinion)
    return row


# -- the co-signing departments' view (会签) -------------------------------------------------------

def _my_department(uow: Work) -> Department | None:
    d = uow.actor.department_id
    return uow.session.get(Department, d) if d is not None else None


def _may_sign(uow: Work, st: StageDef, dept: Department) -> bool:
    return dept.code in st.departments and can(uow.actor, Action.SIGN_OFF_STAGE,
                                               Target(role=st.role, departments=frozenset({dept.id})))


def _cosigned_stages(uow: Work, case: Case, dept: Department) -> list[int]:
    """The joint stages of ``case`` (another department's) that ``dept`` co-signs and the actor may
    sign for it: those the case has reached, or that ``dept`` signed before."""
    stages = stage_defs(case.item_version)
    mine_signed = set(uow.session.scalars(select(StageSignoff.stage_index).where(
        StageSignoff.case_id == case.id, StageSignoff.department_id == dept.id).execution_options(**ALL)))
    reached = case.stage_index if case.status == Status.IN_PROGRESS.value and case.stage_index is not None else -1
    return [i for i, st in enumerate(stages) if st.kind in JOINT_STAGES and _may_sign(uow, st, dept)
            and (i <= reached or i in mine_signed)]


def reads_as_cosigner(uow: Work, case: Case) -> bool:
    """Whether the actor may read ``case``'s materials as a co-signer (会签): one who may sign, for
    a department listed at a joint stage the case has reached, reviews the same materials."""
    dept = _my_department(uow)
    return dept is not None and dept.id != case.department_id and bool(_cosigned_stages(uow, case, dept))


def cosign_queue(uow: Work) -> list[Case]:
    """Cases of other departments waiting at a joint review or inspection (联合审图, 联合踏勘) for the
    signature of the actor's department (会签待办), the earliest stage deadline first. The actor's
    own department's cases are on its work queue already."""
    dept = _my_department(uow)
    if dept is None:
        return []
    s = uow.session
    open_versions = select(Case.item_version_id).where(Case.status == Status.IN_PROGRESS.value).distinct()
    conds = []
    for v in s.scalars(select(ItemVersion).where(ItemVersion.id.in_(open_versions.execution_options(**ALL)))
                       .execution_options(**ALL)):
        for i, st in enumerate(stage_defs(v)):
            if st.kind in JOINT_STAGES and _may_sign(uow, st, dept):
                conds.append(and_(Case.item_version_id == v.id, Case.stage_index == i))
    if not conds:
        return []
    signed = exists().where(StageSignoff.case_id == Case.id, StageSignoff.stage_index == Case.stage_index,
                            StageSignoff.department_id == dept.id)
    q = (select(Case).where(Case.status == Status.IN_PROGRESS.value, Case.department_id != dept.id, or_(*conds),
                            ~signed).order_by(Case.stage_deadline.is_(None), Case.stage_deadline, Case.id)
         .limit(200).execution_options(**ALL))
    return list(s.scalars(q))


def cosign_summary(uow: Work, code: str) -> dict[str, Any]:
    """What a co-signing department sees of another department's case (会签): the item, the
    applicant (masked), the joint stages its department is listed in with every department's
    signature, and whether it may sign now. Only for those who may sign a joint stage the case has
    reached (or their department signed before) — the stage's role of a listed department, its
    chief; anyone else: not found, as for any case of another department."""
    dept = _my_department(uow)
    s = uow.session
    case = s.scalar(select(Case).where(Case.code == servicecode.normalize(code)).execution_options(**ALL))
    if case is None or dept is None:
        raise NotFound(f"no case {code}", field="code")
    stages = stage_defs(case.item_version)
    reached = case.stage_index if case.status == Status.IN_PROGRESS.value and case.stage_index is not None else -1
    listed = _cosigned_stages(uow, case, dept)
    if not listed:
        raise NotFound(f"no case {code}", field="code")
    names = dict(s.execute(select(Department.code, Department.name)).tuples().all())
    rows = s.execute(select(StageSignoff, Department.code).join(Department, Department.id == StageSignoff.department_id)
                     .where(StageSignoff.case_id == case.id).order_by(StageSignoff.id).execution_options(**ALL)).all()
    names_of = {str(m.get("code")): str(m.get("name") or m.get("code")) for m in case.item_version.materials or []}
    out_stages = []
    for i in listed:
        st = stages[i]
        got = {c: r for r, c in rows if r.stage_index == i}
        out_stages.append({
            "index": i, "name": st.name, "kind": st.kind, "current": i == reached,
            "departments": [{"code": c, "name": names.get(c, c), "opinion": got[c].opinion if c in got else None,
                             "signed_at": got[c].signed_at if c in got else None} for c in st.departments],
            "can_sign": i == reached and dept.code not in got and _may_sign(uow, st, dept)})
    return {"code": case.code, "item_code": case.item_code, "item_name": case.item_version.name,
            "department": s.scalar(select(Department.name).where(Department.id == case.department_id)) or "",
            "applicant": mask_name(case.applicant_name or ""), "status": case.status,
            "stage_name": stages[reached].name if reached >= 0 else None, "stage_deadline": case.stage_deadline,
            "materials": [{"digest": m.digest, "filename": m.filename, "material_code": m.material_code,
                           "name": names_of.get(m.material_code, m.material_code)}
                          for m in shared_materials(case)[1]],
            "stages": out_stages, "my_department": dept.name}
