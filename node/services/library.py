"""Queries over the shared resource library (审批资源共享库): synced cases of the subtree,
prerequisite-result verification (前置审批结果验证) and license comparison (证照比对).

Every answer carries its provenance: the origin node that signed the record, the key, the record's
sequence number and hash, and when it was signed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import func, select

from node.domain.errors import Conflict, InvalidInput, NotFound
from node.domain.lifecycle import Actor
from node.domain.masking import keyed_hash
from node.domain import servicecode
from node.domain.policy import Action, require
from node.persistence import audit
from node.persistence.models import LibCase, LibLicense

from .alerts import raise_incident
from .case_file_check import discrepancies
from .case_schema import CaseSchema
from .context import SYSTEM, NodeContext, Work


def provenance(row: LibCase | LibLicense) -> dict[str, Any]:
    return {"signed_by": row.origin, "key_id": row.key_id, "record_seq": row.record_seq,
            "signed_at": row.signed_at, **({"record_hash": row.record_hash} if isinstance(row, LibCase) else {})}


def query_cases(uow: Work, *, region: str | None = None, department: str | None = None,
                item_code: str | None = None, status: str | None = None, stage: str | None = None,
                since: datetime | None = None, until: datetime | None = None, channel: str | None = None,
                joint_code: str | None = None, service_point: str | None = None, page: int = 1,
                page_size: int = 50) -> tuple[list[LibCase], int]:
    """``region`` is a division-code prefix: ``3301`` is Hangzhou and everything below it."""
    require(uow.actor, Action.READ_LIBRARY)
    if region is not None and (not region.isdigit() or not 2 <= len(region) <= 6):
        raise InvalidInput("a region is 2-6 leading digits of a division code, e.g. 3301", field="region")
    q = select(LibCase)
    if region:
        q = q.where(LibCase.origin.startswith(region))
    if department:
        q = q.where(LibCase.department_code == department)
    if item_code:
        q = q.where(LibCase.item_code == item_code)
    if status:
        q = q.where(LibCase.status == status)
    if stage:
        q = q.where(LibCase.stage_kind == stage)
    if channel:
        q = q.where(LibCase.channel == channel)
    if joint_code:  # a joint case with all its parts, at every node of the region
        q = q.where(LibCase.joint_code == servicecode.normalize(joint_code, field="joint_code"))
    if service_point:  # what a village service point's agents submitted (代办)
        q = q.where(LibCase.service_point == service_point)
    if since:
        q = q.where(LibCase.last_event_at >= since)
    if until:
        q = q.where(LibCase.last_event_at < until)
    s = uow.session
    total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = list(s.scalars(q.order_by(LibCase.last_event_at.desc(), LibCase.service_code)
                          .offset((page - 1) * page_size).limit(page_size)))
    return rows, total


def _license_verdict(ctx: NodeContext, lic: LibLicense | None, number: str, holder_id: str | None,
                     on: date) -> dict[str, Any]:
    if lic is None:
        return {"number": number, "found": False, "valid": False,
                "problem": "no such license in the shared library of this node's region"}
    problems = []
    if lic.status != "valid":
        problems.append(f"the license is {lic.status}")
    if lic.valid_from > on:
        problems.append(f"not valid before {lic.valid_from}")
    if lic.valid_until is not None and lic.valid_until < on:
        problems.append(f"expired on {lic.valid_until}")
    holder_matches = None
    if holder_id:
        holder_matches = keyed_hash(ctx.id_hash_key, holder_id) == lic.holder_hash
        if not holder_matches:
            problems.append("issued to another holder")
    return {"number": lic.number, "found": True, "valid": not problems, "problems": problems,
            "name": lic.name, "holder": lic.holder_masked, "holder_matches": holder_matches,
            "issuing_department": lic.issuing_department, "valid_from": lic.valid_from,
            "valid_until": lic.valid_until, "status": lic.status, "service_code": lic.service_code,
            "digest": lic.digest, **provenance(lic)}


def verify_license(uow: Work, number: str, holder_id: str | None = None, on: date | None = None) -> dict[str, Any]:
    """前置审批结果验证: is license ``number`` valid on ``on``, who issued it, for which holder."""
    require(uow.actor, Action.READ_LIBRARY)
    return _license_verdict(uow.ctx, uow.session.get(LibLicense, number.strip()), number, holder_id,
                            on or uow.now.date())


def compare_licenses(uow: Work, numbers: list[str], holder_id: str | None = None,
                     on: date | None = None) -> dict[str, Any]:
    """证照比对: several licenses (from any departments and levels) checked together — do they
    exist, are they valid, and do they all belong to the same holder?"""
    require(uow.actor, Action.READ_LIBRARY)
    if not 1 <= len(numbers) <= 50:
        raise InvalidInput("compare 1 to 50 license numbers", field="numbers")
    day = on or uow.now.date()
    rows = {r.number: r for r in uow.session.scalars(select(LibLicense).where(LibLicense.number.in_(numbers)))}
    verdicts = [_license_verdict(uow.ctx, rows.get(n), n, holder_id, day) for n in numbers]
    holders = {rows[n].holder_hash for n in numbers if n in rows}
    return {"on": day, "all_found": all(v["found"] for v in verdicts), "all_valid": all(v["valid"] for v in verdicts),
            "same_holder": len(holders) == 1 and all(v["found"] for v in verdicts), "licenses": verdicts}


@dataclass(frozen=True)
class CaseFileRequest:
    owner: str
    code: str
    purpose: str


def request_case_file(uow: Work, code: str, purpose: str) -> CaseFileRequest:
    """An inspector's request for a synced case's full file (materials list, history, applicant),
    audited here; commit it before ``fetch_case_file`` asks the owner, so the access is on record
    even when no answer comes. The data stays where it is owned."""
    require(uow.actor, Action.FETCH_CASE_FILE)
    code = servicecode.normalize(code)  # a malformed or mistyped code is a 422 naming it, as everywhere
    if not purpose.strip():
        raise InvalidInput("say why you need the case file", field="purpose")
    row = uow.session.get(LibCase, code)
    if row is None:
        raise NotFound(f"no synced case {code} in this node's library", field="code")
    if uow.ctx.owner_gateway is None:
        raise Conflict("this node has no federation identity, so it cannot ask other nodes", field="code")
    audit.record(uow, "lib_cases", code, "fetch", {"from_node": row.origin, "purpose": purpose[:500]})
    return CaseFileRequest(row.origin, code, purpose)


def fetch_case_file(ctx: NodeContext, actor: Actor, req: CaseFileRequest) -> dict[str, Any]:
    """Ask the owning node over the federation (``OwnerGateway``); it checks this node is above
    it and audits the access on its side. The file is loaded (validated) with the one case
    schema, compared with the signed records this library holds (``case_file_check``), and every
    difference is flagged in the answer and raised as a ``case_file_mismatch`` alert here."""
    assert ctx.owner_gateway is not None
    try:
        raw = ctx.owner_gateway.fetch_case_detail(req.owner, req.code, actor.label, req.purpose)
    except Exception as e:  # the owner's refusal or an unreachable owner: say what happened
        details = e.details() if callable(getattr(e, "details", None)) else str(e)  # type: ignore[attr-defined]
        raise Conflict(f"the owning node {req.owner} did not serve the file: {details}", field="code") from None
    served_by = str(raw.pop("served_by", req.owner))
    try:
        case = CaseSchema().load(raw)
    except ValidationError as e:
        raise Conflict(f"the owning node {req.owner} served a case file not in the agreed form "
                       f"(an older version?): {json.dumps(e.messages, ensure_ascii=False)[:500]}", field="code") from None
    with ctx.uow(SYSTEM) as uow:
        lib = uow.session.get(LibCase, req.code)
        if lib is None:
            raise NotFound(f"no synced case {req.code} in this node's library", field="code")
        history = ctx.signed_history.case_events(uow.session, lib.origin, req.code) if ctx.signed_history else []
        found = discrepancies(case, lib, history)
        if found:
            raise_incident(uow, kind="case_file_mismatch", origin=req.owner,
                           detail=f"the case file {req.code} served by {served_by} differs from its signed records "
                                  "in " + ", ".join(d["field"] for d in found),
                           proof={"discrepancies": found[:50], "requested_by": actor.label}, subject=req.code)
        signed = provenance(lib)
        uow.commit()
    return {"case": case, "served_by": served_by, "fetched_at": uow.now, "requested_by": actor.label,
            "purpose": req.purpose, "signed_record": signed, "discrepancies": found}
