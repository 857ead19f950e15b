"""Read models of a case for staff and (masked) for the public."""
from __future__ import annotations

from typing import Any

from node.domain.masking import keyed_hash, mask_id_number, mask_name, mask_phone
from sqlalchemy.orm import object_session

from node.persistence.models import CST, Case, License
from .cases import allowed_for
from .joint import joint_view, part_of, shared_materials, signoffs
from .linked import dispatched_materials


def _stages(case: Case) -> list[dict[str, Any]]:
    return [dict(index=i, kind=s["kind"], name=s.get("name") or s["kind"], role=s["role"],
                 time_limit_days=s["time_limit_days"]) for i, s in enumerate(case.item_version.stages)]


def _materials(case: Case) -> list[dict[str, Any]]:
    """The case's materials; a part of a joint case in this hall reads its joint case's (one merged
    material set, never resubmitted per part)."""
    holder, mats = shared_materials(case)
    names = {m.get("code"): m.get("name") for m in holder.item_version.materials or []}
    out = [dict(material_code=m.material_code, name=names.get(m.material_code) or m.material_code, digest=m.digest,
                size=m.size, file_type=m.file_type, filename=m.filename, added_at=m.added_at) for m in mats]
    if case.linked_from:  # worked here for another node's joint case: the digests it sent (bytes fetched from there)
        out += [dict(material_code=str(m.get("material_code") or ""),
                     name=names.get(m.get("material_code")) or str(m.get("material_code") or ""), digest=m["digest"],
                     size=int(m.get("size") or 0), file_type=str(m.get("file_type") or ""),
                     filename=str(m.get("filename") or m["digest"]), added_at=m["added_at"])
                for m in dispatched_materials(case)]
    return out


def _transitions(case: Case) -> list[dict[str, Any]]:
    return [dict(seq=t.seq, event=t.event, from_status=t.from_status, from_stage=t.from_stage, to_status=t.to_status,
                 to_stage=t.to_stage, actor=t.actor, actor_role=t.actor_role, occurred_at=t.occurred_at,
                 recorded_at=t.recorded_at, backfilled=t.backfilled, stage_deadline=t.stage_deadline,
                 reason=t.reason, data=t.data) for t in case.transitions]


def _license(lic: License | None) -> dict[str, Any] | None:
    if lic is None:
        return None
    return dict(number=lic.number, name=lic.name, holder_name=lic.holder_name, valid_from=lic.valid_from,
                valid_until=lic.valid_until, issued_at=lic.issued_at, status=lic.status)


def _prerequisites(case: Case) -> list[dict[str, Any]]:
    return [dict(item_code=p.item_code, name=p.name, kind=p.kind, reference=p.reference, valid=p.valid,
                 reason=p.reason, result_item_code=p.result_item_code, result_name=p.result_name,
                 valid_from=p.valid_from, valid_until=p.valid_until, answered_by=p.answered_by,
                 checked_on=p.checked_on, checked_at=p.checked_at, checked_by=p.checked_by,
                 entered_at=p.entered_at, entered_by=p.entered_by) for p in case.prerequisites]


def staff_view(case: Case) -> dict[str, Any]:
    """The case as staff see it (``case_schema.CaseSchema``): plain values, nothing of the ORM."""
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
        result_reason=case.result_reason, license=_license(case.license), materials=_materials(case),
        transitions=_transitions(case), prerequisites=_prerequisites(case), **_joint(case), **_lights(case),
    )


def _lights(case: Case) -> dict[str, Any]:
    """The case's and its stage's light today (node/domain/lights.py), for staff."""
    from .supervision import own_case_lights

    s = object_session(case)
    uow = s.info.get("uow") if s is not None else None
    if uow is None or not hasattr(uow, "calendar"):
        return {"light": None, "stage_light": None}
    got = own_case_lights(case, uow.calendar(), uow.ctx.settings.light_warn_share,
                          uow.now.astimezone(CST).date())
    return {"light": got.light, "stage_light": got.stage_light}


def _joint(case: Case, public: bool = False) -> dict[str, Any]:
    """A joint case's parts and merged timeline; a part's joint case; the joint stages' sign-offs."""
    s = object_session(case)
    out: dict[str, Any] = dict(green_channel=bool(case.green_channel), agent_staff_id=case.agent_staff_id)
    if s is None:
        return out
    out["joint"] = joint_view(s, case, public)
    out["part_of"] = part_of(s, case)
    if not public:
        out["signoffs"] = signoffs(s, case) if any(st["kind"].startswith("joint_") for st in case.item_version.stages) \
            else []
    return out


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
        rated=rated, **{k: v for k, v in _joint(case, public=True).items() if k in ("joint", "part_of")},
    )


def case_file(case: Case, id_hash_key: bytes) -> dict[str, Any]:
    """The case file an inspector above fetches from the owner: the staff view, field for field,
    except the applicant's identifiers. An inspector checks how a case was handled, not who to
    reach: the ID number and the phone are masked as on public pages, and the ID number's keyed
    hash is added so an inspector holding a complainant's ID number can tell it is the same person
    (the library's ``applicant_id_hash``). The name, the enterprise, the form, the materials'
    names, digests and sizes and the license (holder's name, never the holder's ID number) are
    as staff see them: they are what is inspected."""
    view = staff_view(case)
    a = view["applicant"]
    view["applicant"] = dict(a, id_number=mask_id_number(a["id_number"]),
                             phone=mask_phone(a["phone"]) if a["phone"] else None,
                             id_number_hash=keyed_hash(id_hash_key, case.applicant_id_number))
    return view
