"""Prerequisites verified by their result (前置审批结果验证, 跨部门结果互认): the rules.

An item may require prior approvals (``prerequisites: [{item_code, name}]``). Instead of a paper
copy, the applicant or the clerk enters, per prerequisite, the license number or the service code
of the earlier case; the node checks it against the records it holds (or asks the levels above).
A reference satisfies a prerequisite when it is held by the same applicant (compared by the
federation's keyed hash of the ID number, never the number itself), valid on the day of the check
(validity dates; a case: concluded with approval), not revoked, and a result of the required item.

The answer says only valid or not, why not, and -- when the holder matches -- the item and the
validity: a node that asks about a license with another holder's hash learns that it is not that
holder's, nothing about who holds it, for which item or until when. Pure: the facts are looked
up by the caller.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, Sequence

from .errors import InvalidInput
from .servicecode import normalize

MAX_PREREQUISITES = 10
REFERENCE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-]{3,39}$")


class Kind(StrEnum):
    LICENSE = "license"  # a license number (证照编号)
    CASE = "case"  # the service code of a concluded case (办件编号)


class Reason(StrEnum):
    NOT_FOUND = "not_found"
    OTHER_HOLDER = "other_holder"
    WRONG_ITEM = "wrong_item"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    NOT_APPROVED = "not_approved"  # a case that did not (yet) conclude with approval


REASONS_ZH = {
    Reason.NOT_FOUND: "未找到该证照或办件",
    Reason.OTHER_HOLDER: "不属于本申请人",
    Reason.WRONG_ITEM: "不是所要求事项的审批结果",
    Reason.EXPIRED: "已过有效期",
    Reason.NOT_YET_VALID: "尚未生效",
    Reason.REVOKED: "已被撤销或注销",
    Reason.NOT_APPROVED: "该办件未经批准办结",
}


@dataclass(frozen=True)
class ResultFacts:
    """What the records say about a license or a case (looked up by the caller)."""

    holder_hash: str
    item_code: str
    name: str
    status: str  # a license: valid | revoked | ...; a case: its status
    valid_from: date | None = None
    valid_until: date | None = None
    result: str | None = None  # a case: approved | denied


@dataclass(frozen=True)
class Verification:
    """The answer about one reference. ``item_code``, ``name`` and the validity are only given
    when the holder matched (see the module)."""

    valid: bool
    reason: Reason | None
    answered_by: str
    item_code: str | None = None
    name: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None

    def explain(self) -> str:
        return "有效" if self.valid else REASONS_ZH[self.reason or Reason.NOT_FOUND]


def judge(kind: Kind, facts: ResultFacts | None, holder_hash: str, item_code: str, on: date,
          answered_by: str) -> Verification:
    """The rule of the module's docstring, in this order: found, holder, item, revoked, dates."""
    if facts is None:
        return Verification(False, Reason.NOT_FOUND, answered_by)
    if facts.holder_hash != holder_hash:
        return Verification(False, Reason.OTHER_HOLDER, answered_by)

    def answer(reason: Reason | None) -> Verification:
        return Verification(reason is None, reason, answered_by, facts.item_code, facts.name, facts.valid_from,
                            facts.valid_until)

    if facts.item_code != item_code:
        return answer(Reason.WRONG_ITEM)
    if kind == Kind.CASE:
        return answer(None if facts.status == "concluded" and facts.result == "approved" else Reason.NOT_APPROVED)
    if facts.status != "valid":
        return answer(Reason.REVOKED)
    if facts.valid_from is not None and facts.valid_from > on:
        return answer(Reason.NOT_YET_VALID)
    if facts.valid_until is not None and facts.valid_until < on:
        return answer(Reason.EXPIRED)
    return answer(None)


def validate_prerequisites(prereqs: Sequence[dict[str, Any]], own_code: str | None = None) -> list[dict[str, str]]:
    """An item's list of prior approvals: each names an item by its power code and says what it
    is (for the clerk and the applicant); none twice, never the item itself."""
    from .items import POWER_CODE

    if len(prereqs) > MAX_PREREQUISITES:
        raise InvalidInput(f"at most {MAX_PREREQUISITES} prerequisites per item", field="prerequisites")
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, p in enumerate(prereqs):
        f = f"prerequisites[{i}]"
        code = (p.get("item_code") or "").strip() if isinstance(p, dict) else ""
        if not POWER_CODE.match(code):
            raise InvalidInput("a prerequisite names an item by its power code (4-40 digits, capital letters, '-')",
                               field=f"{f}.item_code")
        if code == own_code:
            raise InvalidInput("an item cannot be its own prerequisite", field=f"{f}.item_code")
        if code in seen:
            raise InvalidInput(f"prerequisite '{code}' appears twice", field=f"{f}.item_code")
        seen.add(code)
        name = (p.get("name") or "").strip()
        if not name or len(name) > 200:
            raise InvalidInput("say what the prerequisite is (1-200 characters), e.g. 户外广告设置许可证",
                               field=f"{f}.name")
        out.append({"item_code": code, "name": name})
    return out


def parse_entry(entry: dict[str, Any], field: str) -> tuple[str, Kind, str]:
    """One reference entered for a prerequisite: ``{item_code, license_number}`` or
    ``{item_code, service_code}`` -> (item code, kind, reference)."""
    code = (entry.get("item_code") or "").strip()
    lic = (entry.get("license_number") or "").strip()
    svc = (entry.get("service_code") or "").strip()
    if not code:
        raise InvalidInput("say which prerequisite this is (its item_code)", field=f"{field}.item_code")
    if bool(lic) == bool(svc):
        raise InvalidInput("enter either the license number or the service code of the earlier case",
                           field=f"{field}.license_number")
    if svc:
        return code, Kind.CASE, normalize(svc, field=f"{field}.service_code")
    if not REFERENCE.match(lic):
        raise InvalidInput("a license number is 4-40 letters, digits or '-'", field=f"{field}.license_number")
    return code, Kind.LICENSE, lic


# --- a prerequisite that is itself a part of the same joint case (issue 11 item 6) -------------
SAME_JOINT = "part"
"""``case_prerequisites.kind`` of a prerequisite worked as another part of the same joint case:
no reference is asked for; it runs in parallel and is settled when that part concludes."""
PENDING = "pending"
"""``case_prerequisites.reason`` while that part has not concluded."""


class Settlement(StrEnum):
    PENDING = "pending"  # the prerequisite's part has not concluded yet
    SATISFIED = "satisfied"  # it concluded approved: stored with its result (license or case)
    FAILED = "failed"  # it was denied, refused or withdrawn: the dependent part cannot be approved


def in_same_joint(prerequisites: Sequence[str], part_codes: Sequence[str], own_code: str) -> list[str]:
    """The prerequisites (item codes) of a part that are other parts of its joint case."""
    others = {c for c in part_codes if c != own_code}
    return [c for c in prerequisites if c in others]


def settle(status: str, result: str | None) -> Settlement:
    """A prerequisite part's standing, from its status and result."""
    if status not in ("concluded", "refused", "withdrawn"):
        return Settlement.PENDING
    return Settlement.SATISFIED if status == "concluded" and result == "approved" else Settlement.FAILED


def approval_blocked(waiting: Sequence[tuple[str, Settlement]], concluding: bool) -> str | None:
    """Why a part may not take an approving step now, given its same-joint prerequisites
    ``(name, settlement)``; None when it may. A failed prerequisite blocks every approving step
    (批准, 办结 with approval): the part must be denied. A pending one blocks only the approving
    conclusion (the license would be issued before its prerequisite is): the parts run in
    parallel up to the conclusion, which waits for the prerequisite's."""
    failed = [n for n, st in waiting if st == Settlement.FAILED]
    if failed:
        return (f"前置审批「{'、'.join(failed)}」未获批准，本事项不能准予许可 / the prerequisite part "
                f"{', '.join(failed)} was not approved: this part cannot be approved (deny it)")
    pending = [n for n, st in waiting if st == Settlement.PENDING]
    if pending and concluding:
        return (f"前置审批「{'、'.join(pending)}」尚未办结 / the prerequisite part {', '.join(pending)} has not "
                "concluded yet: this part concludes with approval after it")
    return None
