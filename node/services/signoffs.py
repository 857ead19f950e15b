"""Joint review and joint site inspection (联合审图, 联合踏勘): each department a stage lists signs its
own row of ``stage_signoffs``; the last signature moves the case on through the state machine
(event ``sign_off``, guard: every listed department signed)."""
from __future__ import annotations

from sqlalchemy import select

from node.domain import servicecode
from node.domain.errors import Conflict, InvalidInput, NotFound
from node.domain.items import JOINT_STAGES
from node.domain.lifecycle import Event, Status
from node.domain.policy import Action, Target, require
from node.persistence.models import Case, Department, StageSignoff

from .cases import fire
from .catalog import stage_defs
from .context import Work
from .joint import ALL, pending_signoffs


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
