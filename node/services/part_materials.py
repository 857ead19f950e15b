"""A linked part's materials by digest (``docs/linked-approval.md`` section 1: "materials never travel
in records").

The node that accepted a joint case keeps its materials; a part dispatched to another node carries
only their digests, names and sizes (its submit transition's ``materials``). Staff of the department
working the part there read a material through ``GET /api/v1/cases/{code}/materials/{digest}``: the
request is audited at the working node (``material_request``), the bytes are fetched from the joint
case's node over the federation (``MaterialGateway``, FetchMaterial) and their SHA-256 checked against
the digest the part was dispatched with (``fetch_material``). The joint case's node serves a material
only to the node its part was dispatched to, checks the stored bytes against the digest before
sending, and audits each fetch -- which node, who there, which case, part and digest
(``serve_part_material``). A case worked here reads its own materials from this node's store.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import select

from node.domain import joint, servicecode
from node.domain.errors import Conflict, DomainError, NotFound
from node.domain.policy import Action, Target, can, require
from node.persistence import audit
from node.persistence.cases import load_case
from node.persistence.models import Case, CaseMaterial, CasePart
from node.ports import FetchedMaterial

from . import signoffs
from .alerts import raise_incident
from .context import SYSTEM, NodeContext, Work
from .joint import shared_materials
from .linked import dispatched_materials

ALL = {"all_tenants": True}
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class MaterialRefused(DomainError):
    """A FetchMaterial this node will not serve (``code`` says why; the caller is told)."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message, "digest")
        self.code = code
        self.status = status


def check_digest(digest: str) -> str:
    d = digest.strip().lower()
    if not _DIGEST.match(d):
        raise NotFound("a material's digest is 64 hexadecimal characters (SHA-256)", field="digest")
    return d


# --- at the joint case's node ----------------------------------------------------------------
def serve_part_material(uow: Work, joint_code: str, part: int, digest: str, by_node: str, requester: str,
                        purpose: str) -> FetchedMaterial:
    """The bytes of material ``digest`` of joint case ``joint_code`` for ``by_node`` (the mTLS peer),
    which must be the node part ``part`` was dispatched to. Refused: ``unknown_part``,
    ``not_part_node``, ``unknown_digest`` (in no case here), ``not_in_case`` (a digest of another
    case), ``corrupt`` (the stored bytes do not match). The fetch is audited in ``uow``."""
    s = uow.session
    jc = s.scalar(select(Case).where(Case.code == joint_code).execution_options(**ALL))
    row = None if jc is None else s.scalar(select(CasePart).where(CasePart.joint_case_id == jc.id,
                                                                  CasePart.part_no == part).execution_options(**ALL))
    if jc is None or row is None or row.remote_node is None or row.dispatch_seq is None:
        raise MaterialRefused(f"{joint_code} part {part}: no such part was dispatched from {uow.ctx.node_id}",
                              "unknown_part", 404)
    if row.remote_node != by_node:
        raise MaterialRefused(f"{joint_code} part {part} was dispatched to {row.remote_node}, not to {by_node}",
                              "not_part_node", 403)
    digest = digest.lower()
    mat = next((m for m in jc.materials if m.digest == digest), None)
    if mat is None:
        other = s.scalar(select(CaseMaterial.id).where(CaseMaterial.digest == digest).limit(1)
                         .execution_options(**ALL))
        if other is not None:
            raise MaterialRefused(f"material {digest} is not one of {joint_code}'s", "not_in_case", 403)
        raise MaterialRefused(f"no material {digest} at {uow.ctx.node_id}", "unknown_digest", 404)
    data = uow.ctx.store.get(digest)
    if hashlib.sha256(data).hexdigest() != digest:
        raise MaterialRefused(f"the stored bytes of {digest} do not match their digest", "corrupt", 500)
    uow.audit_actor = f"node:{by_node}"
    audit.record(uow, "cases", str(jc.id), "material",
                 {"by_node": by_node, "requester": requester[:80], "joint_code": jc.code, "part": part,
                  "digest": digest, "purpose": purpose[:500]})
    return FetchedMaterial(data, digest, mat.filename, mat.file_type, mat.material_code, uow.ctx.node_id)


# --- at the node working the case ------------------------------------------------------------
@dataclass(frozen=True)
class MaterialRequest:
    code: str
    digest: str
    filename: str
    file_type: str
    material_code: str
    origin: str | None = None  # None: the case's own material, in this node's store
    joint_code: str = ""
    part: int = 0


def _readable_case(uow: Work, code: str) -> Case:
    """The case whose materials the actor asks for: one of the actor's department (the policy's
    rule), or another department's that the actor co-signs at a joint stage it has reached (会签:
    the co-signers review the same materials). Anyone else: not found, or refused by the policy."""
    try:
        case = load_case(uow.session, code)
    except NotFound:
        other = load_case(uow.session, code, all_tenants=True)  # raises the same NotFound if there is none
        if not signoffs.reads_as_cosigner(uow, other):
            raise NotFound(f"no case {servicecode.normalize(code)} that you may see", field="code") from None
        return other
    if not can(uow.actor, Action.READ_CASE_MATERIAL, Target(department_id=case.department_id)) \
            and signoffs.reads_as_cosigner(uow, case):
        return case
    require(uow.actor, Action.READ_CASE_MATERIAL, Target(department_id=case.department_id), field="digest")
    return case


def material_request(uow: Work, code: str, digest: str) -> MaterialRequest:
    """A staff member of the case's department, or one co-signing it, asks for one of its materials: checked and audited
    here (commit it before ``fetch_material`` asks the joint case's node, so the access is on record
    even when no answer comes)."""
    digest = check_digest(digest)
    case = _readable_case(uow, code)
    link = joint.parse_linked_from(case.linked_from)
    if link is None:  # a part of a joint case accepted here: the joint case's materials
        mat = next((m for m in shared_materials(case)[1] if m.digest == digest), None)
        if mat is None:
            raise NotFound(f"case {case.code} has no material {digest}", field="digest")
        audit.record(uow, "cases", str(case.id), "material", {"digest": digest})
        return MaterialRequest(case.code, digest, mat.filename, mat.file_type, mat.material_code)
    origin, joint_code, part = link
    mat_d = next((m for m in dispatched_materials(case) if m.get("digest") == digest), None)
    if mat_d is None:
        raise NotFound(f"case {case.code} (part {part} of {origin}'s {joint_code}) was dispatched without "
                       f"material {digest}", field="digest")
    if uow.ctx.material_gateway is None:
        raise Conflict("this node has no federation identity, so it cannot ask other nodes", field="digest")
    audit.record(uow, "cases", str(case.id), "material",
                 {"from_node": origin, "joint_code": joint_code, "part": part, "digest": digest})
    return MaterialRequest(case.code, digest, str(mat_d.get("filename") or digest), str(mat_d.get("file_type") or ""),
                           str(mat_d.get("material_code") or ""), origin, joint_code, part)


def fetch_material(ctx: NodeContext, requester: str, req: MaterialRequest) -> FetchedMaterial:
    """The bytes of ``req``: from this node's store, or from the joint case's node, verified against
    the digest the part was dispatched with. Bytes that do not match are refused (409) and raised as
    a ``material_mismatch`` alert here."""
    if req.origin is None:
        return FetchedMaterial(ctx.store.get(req.digest), req.digest, req.filename, req.file_type,
                               req.material_code, ctx.node_id)
    assert ctx.material_gateway is not None
    try:
        got = ctx.material_gateway.fetch_material(req.origin, req.joint_code, req.part, req.digest, requester,
                                                  f"linked part {req.code}")
    except LookupError as e:
        raise Conflict(f"the joint case's node {req.origin} did not serve material {req.digest}: {e}",
                       field="digest") from None
    actual = hashlib.sha256(got.data).hexdigest()
    if actual != req.digest or got.digest != req.digest:
        with ctx.uow(SYSTEM) as uow:
            raise_incident(uow, kind="material_mismatch", origin=req.origin,
                           detail=f"{req.origin} served bytes for material {req.digest} of {req.joint_code} part "
                                  f"{req.part} whose SHA-256 is {actual}",
                           proof={"digest": req.digest, "actual": actual, "claimed": got.digest,
                                  "case": req.code}, subject=req.joint_code)
            uow.commit()
        raise Conflict(f"{req.origin} served bytes that do not match material {req.digest}", field="digest")
    return FetchedMaterial(got.data, actual, req.filename, req.file_type, req.material_code, got.served_by)
