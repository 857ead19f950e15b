"""Prerequisites verified by result (前置审批结果验证): the references entered for a case and their
verification at acceptance, here first and then through the levels above (``ResultVerifier``).

The rules are ``node.domain.prerequisites``; this module looks the facts up. Here means this
node's own licenses and cases (every department's: a result of one department is recognised by
another, 跨部门结果互认) and then its shared library (what its subtree signed); the levels above
are asked only for a reference this node holds nothing about. A reference that fails, or one that
could not be checked, refuses the acceptance with an error naming the prerequisite and why: the
case is never accepted on a verification that was not made.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from node.domain.errors import Conflict, DomainError, InvalidInput
from node.domain.masking import keyed_hash
from node.domain.prerequisites import (
    PENDING,
    SAME_JOINT,
    Kind,
    Reason,
    ResultFacts,
    Settlement,
    Verification,
    approval_blocked,
    in_same_joint,
    judge,
    parse_entry,
    settle,
)
from node.persistence import audit
from node.persistence.models import Case, CasePrerequisite, ItemVersion, LibCase, LibLicense, License
from node.ports import VerificationUnavailable

from .context import NodeContext, Work

MAX_HOPS = 3
"""How far up a question travels (county -> city -> province -> ...)."""


class PrerequisiteNotMet(DomainError):
    """A prerequisite's reference is missing or does not satisfy it (422)."""

    status = 422


class VerificationNotPossible(DomainError):
    """The levels above could not be asked: nothing was accepted (503)."""

    status = 503


def holder_hash(uow: Work, id_number: str) -> str:
    return keyed_hash(uow.ctx.id_hash_key, id_number)


def own_facts(uow: Work, kind: Kind, ref: str) -> ResultFacts | None:
    """This node's own license or case ``ref`` (every department's: not confined to the reader's)."""
    s = uow.session
    if kind == Kind.LICENSE:
        row = s.execute(select(License, Case.item_code).join(Case, Case.id == License.case_id)
                        .where(License.number == ref).execution_options(all_tenants=True)).first()
        if row is None:
            return None
        lic, item_code = row
        return ResultFacts(holder_hash(uow, lic.holder_id_number), item_code, lic.name, lic.status, lic.valid_from,
                           lic.valid_until)
    case = s.scalar(select(Case).where(Case.code == ref).execution_options(all_tenants=True))
    if case is None:
        return None
    return ResultFacts(holder_hash(uow, case.applicant_id_number), case.item_code, case.item_version.name,
                       case.status, result=case.result)


def library_facts(uow: Work, kind: Kind, ref: str) -> ResultFacts | None:
    """What this node's shared library holds about ``ref`` (signed by a node of its subtree)."""
    s = uow.session
    if kind == Kind.LICENSE:
        row = s.execute(select(LibLicense, LibCase.item_code).outerjoin(
            LibCase, LibCase.service_code == LibLicense.service_code).where(LibLicense.number == ref)).first()
        if row is None:
            return None
        lic, item_code = row
        return ResultFacts(lic.holder_hash, item_code or "", lic.name, lic.status, lic.valid_from, lic.valid_until)
    c = s.get(LibCase, ref)
    if c is None:
        return None
    return ResultFacts(c.applicant_id_hash, c.item_code, c.item_name, c.status, result=c.result)


def answer_here(uow: Work, kind: Kind, ref: str, holder: str, item_code: str, on: date) -> Verification | None:
    """The verdict from what this node holds, or None when it holds nothing about ``ref``."""
    node = uow.ctx.node_id
    facts = own_facts(uow, kind, ref) or library_facts(uow, kind, ref)
    return None if facts is None else judge(kind, facts, holder, item_code, on, node)


def verify_reference(uow: Work, kind: Kind, ref: str, holder: str, item_code: str, on: date) -> Verification:
    """Here first, then the levels above (``ctx.result_verifier``); not found when nobody holds it."""
    got = answer_here(uow, kind, ref, holder, item_code, on)
    if got is not None:
        return got
    verifier = uow.ctx.result_verifier
    if verifier is None:
        return judge(kind, None, holder, item_code, on, uow.ctx.node_id)
    try:
        return verifier.verify(kind, ref, holder, item_code, on, uow.actor.label, hops=MAX_HOPS)
    except VerificationUnavailable as e:
        raise VerificationNotPossible(
            f"前置审批结果暂时无法核验，未予受理 / the prerequisite '{item_code}' could not be verified: {e}; "
            "nothing was accepted, try again when the link to the upper level is back", field="prerequisites",
            reference=ref) from None


def entered(uow: Work, version: ItemVersion, entries: list[dict[str, Any]]) -> dict[str, tuple[Kind, str]]:
    """The references entered, by prerequisite item code, checked against the item's list."""
    wanted = {p["item_code"] for p in version.prerequisites or []}
    out: dict[str, tuple[Kind, str]] = {}
    for i, e in enumerate(entries):
        code, kind, ref = parse_entry(e, f"prerequisites[{i}]")
        if code not in wanted:
            raise InvalidInput(f"item '{version.item.code}' has no prerequisite '{code}'"
                               + (f"; it asks for: {', '.join(sorted(wanted))}" if wanted else ""),
                               field=f"prerequisites[{i}].item_code")
        if code in out:
            raise InvalidInput(f"prerequisite '{code}' is entered twice", field=f"prerequisites[{i}].item_code")
        out[code] = (kind, ref)
    return out


def record_entries(uow: Work, case_id: int, department_id: int, version: ItemVersion,
                   entries: list[dict[str, Any]], case: Case | None = None) -> list[CasePrerequisite]:
    """Write (or rewrite) the case's rows for the references entered; verified at acceptance.
    ``case``: the loaded case, whose rows these are (None: a case being submitted)."""
    got = entered(uow, version, entries)
    rows = list(case.prerequisites) if case is not None else []
    by_code = {r.item_code: r for r in rows}
    out = list(rows)
    for pos, p in enumerate(version.prerequisites or []):
        if p["item_code"] not in got:
            continue
        kind, ref = got[p["item_code"]]
        row = by_code.get(p["item_code"])
        if row is None:
            row = CasePrerequisite(case_id=case_id, department_id=department_id, position=pos,
                                   item_code=p["item_code"], name=p["name"], valid=False)
            if case is not None:
                case.prerequisites.append(row)
            else:
                uow.session.add(row)
            out.append(row)
        if row.kind != kind.value or row.reference != ref:
            row.kind, row.reference, row.valid, row.reason, row.checked_at = kind.value, ref, False, None, None
        row.entered_at, row.entered_by = uow.now, uow.actor.label
    out.sort(key=lambda r: r.position)
    return out


def verify_at_acceptance(uow: Work, case: Case, entries: list[dict[str, Any]] | None, on: date) -> None:
    """Every prerequisite of the case's item needs a reference (entered at submission or now) that
    verifies; the verification is written to the case's rows. The first that fails refuses the
    acceptance (naming it and why); an unverifiable one too (503)."""
    v = case.item_version
    same = record_same_joint(uow, case, on)
    prereqs = [p for p in v.prerequisites or [] if p["item_code"] not in same]
    if not prereqs:
        if entries and not same:
            raise InvalidInput(f"item '{case.item_code}' has no prerequisites", field="prerequisites")
        return
    rows = record_entries(uow, case.id, case.department_id, v, entries or [], case)
    have = {r.item_code: r for r in rows if r.item_code not in same}
    missing = [p for p in prereqs if p["item_code"] not in have]
    if missing:
        p = missing[0]
        raise PrerequisiteNotMet(
            f"前置审批「{p['name']}」({p['item_code']}) 未提供证照编号或办件编号 / the prerequisite '{p['name']}' "
            f"({p['item_code']}) needs the license number or service code of its result",
            field="prerequisites", prerequisite=p["item_code"], reason="missing")
    holder = holder_hash(uow, case.applicant_id_number)
    for r in rows:
        if r.item_code in same:
            continue
        ver = verify_reference(uow, Kind(r.kind), r.reference, holder, r.item_code, on)
        r.valid, r.reason = ver.valid, ver.reason.value if ver.reason else None
        r.result_item_code, r.result_name = ver.item_code, ver.name
        r.valid_from, r.valid_until, r.answered_by = ver.valid_from, ver.valid_until, ver.answered_by
        r.checked_on, r.checked_at, r.checked_by = on, uow.now, uow.actor.label
        if not ver.valid:
            raise PrerequisiteNotMet(
                f"前置审批「{r.name}」({r.item_code}) 核验未通过：{r.reference} {ver.explain()} / the prerequisite "
                f"'{r.name}' ({r.item_code}) is not met: {r.reference}: {ver.reason}", field="prerequisites",
                prerequisite=r.item_code, reference=r.reference, reason=ver.reason.value if ver.reason else None,
                answered_by=ver.answered_by)


def ask_above(ctx: NodeContext, kind: Kind, ref: str, holder: str, item_code: str, on: date, asked_by: str,
              hops: int) -> Verification:
    """A child's question this node holds nothing about: the level above is asked while ``hops``
    last (``VerificationUnavailable`` when it cannot be); else: not found."""
    if hops > 1 and ctx.result_verifier is not None:
        return ctx.result_verifier.verify(kind, ref, holder, item_code, on, asked_by, hops=hops - 1)
    return judge(kind, None, holder, item_code, on, ctx.node_id)


def audit_answer(uow: Work, kind: Kind, ref: str, item_code: str, on: date, asked_by: str, v: Verification) -> None:
    """A child's question answered here, on record: who asked about which reference and what they
    were told (the holder's hash is not kept)."""
    audit.record(uow, "prerequisite_checks", ref[:64], "verify",
                 {"asked_by": asked_by, "kind": kind.value, "item_code": item_code, "on": on.isoformat(),
                  "valid": v.valid, "reason": v.reason.value if v.reason else None, "answered_by": v.answered_by})


# --- a prerequisite worked as another part of the same joint case ------------------------------
def record_same_joint(uow: Work, case: Case, on: date) -> set[str]:
    """A part whose item requires another part's item of the same joint case asks for no
    reference: its row is written pending (``SAME_JOINT``, the joint case's code as reference) and
    settled when that part concludes (``settle_same_joint``). Returns those prerequisites' codes."""
    if case.joint_case_id is None:
        return set()
    jc = uow.session.scalar(select(Case).where(Case.id == case.joint_case_id).execution_options(all_tenants=True))
    if jc is None:  # pragma: no cover - the foreign key keeps it
        return set()
    codes = [p["item_code"] for p in jc.item_version.parts or []]
    v = case.item_version
    same = in_same_joint([p["item_code"] for p in v.prerequisites or []], codes, case.item_code)
    have = {r.item_code for r in case.prerequisites}
    for pos, p in enumerate(v.prerequisites or []):
        if p["item_code"] in same and p["item_code"] not in have:
            case.prerequisites.append(CasePrerequisite(
                case_id=case.id, department_id=case.department_id, position=pos, item_code=p["item_code"],
                name=p["name"], kind=SAME_JOINT, reference=jc.code, valid=False, reason=PENDING,
                entered_at=uow.now, entered_by=uow.actor.label, checked_on=on, checked_at=uow.now,
                checked_by=uow.actor.label, answered_by=uow.ctx.node_id))
    return set(same)


def settle_same_joint(uow: Work, dependant: Case, facts: dict[str, tuple[str, str | None, str, str, str]],
                      ) -> None:
    """Settle ``dependant``'s pending same-joint prerequisites from the parts' facts by item code:
    ``(status, result, reference, license name or item name, answering node)``; the reference is
    the prerequisite part's license number, else its case code."""
    for r in dependant.prerequisites:
        if r.kind != SAME_JOINT or r.reason != PENDING or r.item_code not in facts:
            continue
        status, result, ref, name, node = facts[r.item_code]
        st = settle(status, result)
        if st == Settlement.PENDING:
            continue
        r.valid = st == Settlement.SATISFIED
        r.reason = None if r.valid else Reason.NOT_APPROVED.value
        r.reference, r.result_item_code, r.result_name = ref[:40], r.item_code, name[:100]
        r.answered_by, r.checked_on, r.checked_at, r.checked_by = node, uow.now.date(), uow.now, uow.actor.label


def guard_same_joint(case: Case, approving: bool, concluding: bool) -> None:
    """An approving step of a part whose same-joint prerequisite failed (or, for the approving
    conclusion, has not concluded yet) is refused (409 naming the prerequisite)."""
    waiting = [(r.name, Settlement.PENDING if r.reason == PENDING else
                Settlement.SATISFIED if r.valid else Settlement.FAILED)
               for r in case.prerequisites if r.kind == SAME_JOINT]
    if not waiting or not approving:
        return
    why = approval_blocked(waiting, concluding)
    if why is not None:
        raise Conflict(why, field="event", prerequisites=[n for n, st in waiting if st != Settlement.SATISFIED])
