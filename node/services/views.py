"""Read models of a case for staff and (masked) for the public."""
from __future__ import annotations

from typing import Any

from node.domain.masking import mask_id_number, mask_name, mask_phone
from node.persistence.models import Case, License
from .cases import allowed_for


def _stages(case: Case) -> list[dict[str, Any]]:
    return [dict(index=i, kind=s["kind"], name=s.get("name") or s["kind"], role=s["role"],
                 time_limit_days=s["time_limit_days"]) for i, s in enumerate(case.item_version.stages)]


def staff_view(case: Case) -> dict[str, Any]:
    stages = _stages(case)
    return dict(
        code=case.code, version=case.version, item_code=case.item_code, item_name=case.item_version.name,
        item_version=case.item_version.version, department_id=case.department_id, channel=case.channel,
        service_point_id=case.service_point_id, processing=case.processing,
        applicant=dict(name=case.applicant_name, id_type=case.applicant_id_type,
                       id_number=case.applicant_id_number, phone=case.applicant_phone, org=case.applicant_org),
        form=case.form, status=case.status,
        stage=stages[case.stage_index] if case.stage_index is not None else None, stages=stages,
        allowed_events=allowed_for(case), assignee_id=case.assignee_id, submitted_at=case.submitted_at,
        accepted_at=case.accepted_at, concluded_at=case.concluded_at, legal_deadline=case.legal_deadline,
        promised_deadline=case.promised_deadline, stage_deadline=case.stage_deadline,
        paused_days=case.paused_days, extended_days=case.extended_days, result=case.result,
        result_reason=case.result_reason, license=case.license, materials=case.materials,
        transitions=case.transitions,
    )


def public_view(case: Case, license: License | None, rated: bool) -> dict[str, Any]:
    stages = _stages(case)
    return dict(
        code=case.code, item_code=case.item_code, item_name=case.item_version.name,
        applicant_name=mask_name(case.applicant_name), applicant_id_number=mask_id_number(case.applicant_id_number),
        applicant_phone=mask_phone(case.applicant_phone or ""), status=case.status,
        stage=stages[case.stage_index] if case.stage_index is not None else None, stages=stages,
        submitted_at=case.submitted_at, accepted_at=case.accepted_at, concluded_at=case.concluded_at,
        promised_deadline=case.promised_deadline, result=case.result,
        result_reason=case.result_reason if case.result == "denied" or case.status == "refused" else None,
        license=dict(number=license.number, name=license.name, valid_from=license.valid_from,
                     valid_until=license.valid_until, status=license.status) if license else None,
        progress=[dict(event=t.event, to_status=t.to_status,
                       stage=stages[t.to_stage]["name"] if t.to_stage is not None else None,
                       occurred_at=t.occurred_at) for t in case.transitions],
        rated=rated,
    )


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def case_file(case: Case) -> dict[str, Any]:
    """The full case file (what an inspector above fetches from the owner): the staff view with
    its materials, history and license as plain values."""
    view = staff_view(case)
    view["materials"] = [_columns(m) for m in case.materials]
    view["transitions"] = [_columns(t) for t in case.transitions]
    view["license"] = _columns(case.license) if case.license is not None else None
    return view
