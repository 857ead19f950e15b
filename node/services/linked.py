"""Joint cases across levels (市区两级联动, ``docs/linked-approval.md`` section 3).

A part of a joint item may belong to another node (``parts: [{item_code, node}]``). Accepting the
joint case writes one ``part_dispatch`` addressed record per remote part in that unit of work
(``dispatch_remote``): the header says what relays and the library may read (joint code, part,
item, deadlines, green channel); the private part (sealed to the owner) carries the applicant,
the part's form and its materials' digests. The owner applies it once (``receive_dispatch``) as
an accepted case of its own item (``cases.linked_from = origin:joint_code:part``) in that item's
department; every transition of that case sends ``part_progress`` back, its conclusion
``part_result`` (``part_moved``). The origin applies them to the ``case_parts`` row and re-derives
the joint case with the same rules as a local part (``receive_progress``).

Refusals raise a ``DomainError`` carrying a code: the transport keeps the record refused, raises
the alert at the refusing node and tells the sender in the ack. This module does not import
``cases`` (which calls it): ``install`` is given the state machine's ``fire`` and the joint
re-derivation.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable

from sqlalchemy import select

from node.domain import completeness, joint, servicecode
from node.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from node.domain.items import ItemKind, ItemStatus
from node.domain.lifecycle import TERMINAL, Event, Status
from node.persistence.models import (
    Case,
    CasePart,
    CaseTransition,
    FedAddressed,
    FedLink,
    ItemVersion,
    License,
)
from node.persistence.cases import read_uploads
from node.ports import AddressedMessage

from . import notifications
from .addressed import register, send_message
from .catalog import current_version
from .context import NodeContext, Work
from .uploads import attach, usable_by

DISPATCH, PROGRESS, RESULT, WITHDRAW = "part_dispatch", "part_progress", "part_result", "part_withdraw"
SUPPLY = "part_supply"  # the applicant's supplement for a remote part, sent from the joint case's node
ALL = {"all_tenants": True}
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
Fire = Callable[..., Case]
Rederive = Callable[[Work, Case], None]


class LinkRefused(DomainError):
    """A linked-part record this node will not apply (``code`` says why; the sender is told)."""

    status = 409

    def __init__(self, message: str, code: str, field: str = "part") -> None:
        super().__init__(message, field)
        self.code = code


# --- at the accepting node -------------------------------------------------------------------
def remote_parts(v: ItemVersion, here: str) -> dict[int, str]:
    """{part number: owning node} of a joint item's parts owned elsewhere."""
    return {no: n for no, p in enumerate(v.parts or [], 1) if (n := joint.remote_node(p, here))}


def check_destinations(uow: Work, v: ItemVersion) -> None:
    """Before anything is written: every remote part's node is one this node can address."""
    remote = remote_parts(v, uow.ctx.node_id)
    if remote and uow.ctx.addressed is None:
        raise Conflict("this node has no federation identity: a part owned by another node cannot be dispatched",
                       field=f"parts[{min(remote) - 1}].node")


def _store_dispatch_seq(row: CasePart) -> Callable[[int], None]:
    def store(seq: int) -> None:
        row.dispatch_seq = seq
    return store


def dispatch_remote(uow: Work, jc: Case, rows: list[tuple[CasePart, dict[str, Any]]]) -> None:
    """One ``part_dispatch`` per remote part of ``jc`` (being accepted), in this unit of work. An
    unknown or revoked destination refuses the acceptance (nothing written)."""
    materials = [{"material_code": m.material_code, "digest": m.digest, "filename": m.filename, "size": m.size,
                  "file_type": m.file_type} for m in jc.materials]
    applicant = {"name": jc.applicant_name, "id_type": jc.applicant_id_type, "id_number": jc.applicant_id_number,
                 "phone": jc.applicant_phone, "org": jc.applicant_org}
    for row, form in rows:
        assert row.remote_node is not None
        header = {"item_code": row.item_code, "joint_code": jc.code, "part": row.part_no,
                  "joint_item": jc.item_code, "channel": jc.channel, "green_channel": bool(jc.green_channel),
                  "accepted_at": jc.accepted_at.isoformat() if jc.accepted_at else None,
                  "joint_promised_deadline": _iso(jc.promised_deadline),
                  "joint_legal_deadline": _iso(jc.legal_deadline)}
        private = {"applicant": applicant, "form": form, "materials": materials}
        try:
            sent = send_message(uow, row.remote_node, DISPATCH, header, private, subject=jc.code, part=row.part_no)
        except InvalidInput as e:
            raise Conflict(f"part {row.part_no}: {e.message}", field=f"parts[{row.part_no - 1}].node") from None
        sent.then(_store_dispatch_seq(row))  # numbered as the acceptance commits


def withdraw_remote(uow: Work, jc: Case, row: CasePart, reason: str | None) -> None:
    """The joint case ``jc`` is being withdrawn: ask the owner of remote part ``row`` to withdraw its
    linked case (``part_withdraw``, in this unit of work). The row keeps what the owner last
    reported until its ``part_result`` (withdrawn, or the result it had already reached) arrives."""
    assert row.remote_node is not None
    send_message(uow, row.remote_node, WITHDRAW, {"joint_code": jc.code, "part": row.part_no,
                                                  "reason": (reason or "申请人撤回联办件")[:500]},
                 subject=jc.code, part=row.part_no)
    row.remote_info = {**(row.remote_info or {}), "withdraw_requested_at": uow.now.isoformat()}


def supply_remote(uow: Work, jc: Case, row: CasePart, materials: list[dict[str, Any]]) -> CasePart:
    """The applicant (or the window, or their agent, for them) supplies what the owner of remote part
    ``row`` asked for: the files join the joint case's one material set here (so the owner fetches
    them by digest, as the dispatched ones) and one ``part_supply`` -- their digests, sealed to the
    owner -- goes to it, in this unit of work. The part stays 补正 until the owner reports it moving."""
    info = dict(row.remote_info or {})
    if jc.status != Status.IN_PROGRESS.value or info.get("withdraw_requested_at"):
        raise Conflict(f"joint case {jc.code} is {jc.status}{' (withdrawn)' if info.get('withdraw_requested_at') else ''}:"
                       " its parts take no more materials", field="code", state=jc.status)
    if row.status != Status.SUPPLEMENTING.value:
        raise Conflict(f"part {row.part_no} of {jc.code} is not waiting for materials ({row.status})", field="part",
                       state=row.status)
    if info.get("supply_sent_at"):
        raise Conflict(f"materials for part {row.part_no} were sent to {row.remote_node} at {info['supply_sent_at']}; "
                       f"waiting for it to resume the part", field="part")
    if not materials:
        raise InvalidInput("supply the requested materials", field="materials")
    asked = [m for m in (info.get("supplement") or {}).get("missing") or [] if m.get("material_code")]
    defs = [{"code": m["material_code"], "name": m.get("name") or m["material_code"], "requirement": "optional",
             "file_types": m.get("file_types") or []} for m in asked] \
        or [{"code": c, "name": c, "requirement": "optional"} for c in dict.fromkeys(m["material_code"]
                                                                                   for m in materials)]
    uploads = read_uploads(uow.session, [m["upload_id"] for m in materials])
    notice, given = completeness.check(row.item_code, str(info.get("item_name") or row.item_code), defs, materials,
                                       [], uploads, usable_by(uow.actor, jc.id))
    if notice.invalid:
        raise InvalidInput("some supplied materials are not acceptable", field="materials", notice=notice.as_dict())
    sent = [{"material_code": r.material_code, "digest": r.digest, "filename": r.filename, "size": r.size,
             "file_type": r.file_type} for r in attach(jc, given, uow.now)]
    assert row.remote_node is not None
    row.remote_info = {**info, "supply_sent_at": uow.now.isoformat()}
    send_message(uow, row.remote_node, SUPPLY, {"joint_code": jc.code, "part": row.part_no, "count": len(sent)},
                 {"materials": sent}, subject=jc.code, part=row.part_no,
                 ).then(lambda seq: setattr(row, "remote_info", {**(row.remote_info or {}), "supply_seq": seq}))
    return row


def receive_progress(uow: Work, m: AddressedMessage, rederive: Rederive) -> None:
    """The owner's ``part_progress`` / ``part_result`` for a part dispatched from here."""
    s = uow.session
    jc = s.scalar(select(Case).where(Case.code == m.subject).with_for_update(of=Case)
                  .execution_options(populate_existing=True, **ALL))
    row = None if jc is None else s.scalar(select(CasePart).where(CasePart.joint_case_id == jc.id,
                                                                  CasePart.part_no == m.part)
                                           .execution_options(populate_existing=True, **ALL))
    if jc is None or row is None or row.remote_node is None or row.dispatch_seq is None:
        raise LinkRefused(f"{m.subject} part {m.part}: no such part was dispatched from {uow.ctx.node_id}",
                          "unknown_part")
    if m.origin != row.remote_node:
        raise LinkRefused(f"{m.subject} part {m.part} was dispatched to {row.remote_node}, not to {m.origin}",
                          "not_part_owner")
    if joint.concluded(row.status):
        raise LinkRefused(f"{m.subject} part {m.part} has concluded already ({row.status})", "part_concluded")
    if row.remote_seq is not None and m.seq <= row.remote_seq:
        return  # an older report than one applied (records of one origin arrive in order; kept for safety)
    h = m.header
    try:
        status = Status(str(h.get("status")))
    except ValueError:
        raise InvalidInput(f"status: {h.get('status')!r} is not a case status", "status", code="malformed") from None
    if (m.kind == RESULT) != (status in TERMINAL):
        raise InvalidInput(f"a {m.kind} carries {'a concluded' if m.kind == RESULT else 'an open'} status, "
                           f"not {status.value}", "status", code="malformed")
    result = h.get("result")
    if result is not None and result not in ("approved", "denied"):
        raise InvalidInput(f"result: {result!r}", "result", code="malformed")
    was = row.status
    row.status, row.result = status.value, result
    row.deadline = _date(h.get("promised_deadline"))
    row.remote_code = str(h.get("code") or "")[:32] or row.remote_code
    row.remote_seq = m.seq
    before = dict(row.remote_info or {})
    row.remote_info = {k: h.get(k) for k in ("code", "item_name", "department", "stage", "event", "reason",
                                             "license_number", "license_valid_until", "promised_deadline",
                                             "legal_deadline") if h.get(k) is not None}
    row.remote_info["reported_at"] = m.signed_at.isoformat()
    if status == Status.SUPPLEMENTING:
        asked = _supplement_asked((m.private or {}).get("supplement"))
        if asked is not None:  # a new request: what the applicant must supply (sealed to this node)
            row.remote_info["supplement"] = asked
            if was != Status.SUPPLEMENTING.value:  # told once per request, however often it is repeated
                _tell_applicant(uow, jc, row, asked)
        else:  # another report while it waits: the request, and a supply already sent, stay
            row.remote_info.update({k: before[k] for k in ("supplement", "supply_sent_at", "supply_seq")
                                    if k in before})
    rederive(uow, jc)


# --- at the owning node ----------------------------------------------------------------------
def receive_dispatch(uow: Work, m: AddressedMessage, fire: Fire) -> None:
    """Another node's part becomes an accepted case of this node's item, in its department's queue."""
    s, h = uow.session, m.header
    code = h.get("item_code")
    if not isinstance(code, str) or not code:
        raise InvalidInput("item_code: the part's item", "item_code", code="malformed")
    try:
        pv = current_version(s, code)
    except NotFound:
        raise LinkRefused(f"{uow.ctx.node_id} has no item '{code}'", "item_not_owned", "item_code") from None
    if pv.item.status != ItemStatus.ACTIVE or (pv.kind == ItemKind.JOINT and pv.parts):
        raise LinkRefused(f"item '{code}' at {uow.ctx.node_id} is {pv.item.status}"
                          f"{' and a joint item' if pv.parts else ''}: it takes no parts", "item_not_owned",
                          "item_code")
    if not m.subject or m.part < 1:
        raise InvalidInput("a dispatch names its joint case and part", "part", code="malformed")
    lf = joint.linked_from(m.origin, m.subject, m.part)
    if s.scalar(select(Case.id).where(Case.linked_from == lf).execution_options(**ALL)) is not None:
        raise LinkRefused(f"{lf} is worked here already", "already_linked")
    p = m.private or {}
    ap, form = p.get("applicant"), p.get("form")
    if not isinstance(ap, dict) or not ap.get("name") or not ap.get("id_number") or not isinstance(form, dict):
        raise InvalidInput("the dispatch's private part names the applicant and the part's form", "private",
                           code="malformed")
    channel = h.get("channel") if h.get("channel") in ("online", "window", "agent") else "window"
    case = Case(code=servicecode.make_code(uow.ctx.node_id, uow.now.date(), uow.ctx.random_part()),
                department_id=pv.department_id, item_version_id=pv.id, item_code=code, channel=channel,
                service_point_id=None, submitted_by=None, processing="online", applicant_name=str(ap["name"])[:100],
                applicant_id_type=str(ap.get("id_type") or "resident_id")[:12],
                applicant_id_number=str(ap["id_number"])[:32], applicant_phone=(str(ap["phone"])[:32]
                                                                                if ap.get("phone") else None),
                applicant_org=str(ap["org"])[:200] if ap.get("org") else None, form=form, conditional_materials=[],
                status=Status.SUBMITTED.value, submitted_at=uow.now, green_channel=bool(h.get("green_channel")),
                paused_days=0, extended_days=0, linked_from=lf)
    case.item_version = pv
    s.add(case)
    s.flush()
    mats = [x for x in p.get("materials") or [] if isinstance(x, dict)][:100]
    case.transitions.append(CaseTransition(
        case_id=case.id, department_id=case.department_id, seq=1, event="submit", to_status=Status.SUBMITTED.value,
        actor=uow.actor.label, actor_role=None, occurred_at=uow.now, recorded_at=uow.now, backfilled=False,
        data={"channel": channel, "linked_from": lf, "dispatch": f"{m.origin}#{m.seq}", "materials": mats}))
    s.flush()
    uow.case_event(case, "submit")
    fire(uow, case, Event.ACCEPT, opinion=f"{m.origin} 综合窗口已受理（联办件 {m.subject} 第 {m.part} 项）")


def _linked_case(uow: Work, m: AddressedMessage) -> Case:
    """The case worked here for the part ``m`` is about, locked (refused ``unknown_part`` if none)."""
    lf = joint.linked_from(m.origin, m.subject, m.part)
    case = uow.session.scalar(select(Case).where(Case.linked_from == lf).with_for_update(of=Case)
                              .execution_options(populate_existing=True, **ALL))
    if case is None:
        raise LinkRefused(f"{lf}: no such part is worked at {uow.ctx.node_id}", "unknown_part")
    return case


def receive_withdraw(uow: Work, m: AddressedMessage, fire: Fire) -> None:
    """The origin's joint case was withdrawn: withdraw the case worked here for that part, through
    the one state machine (its ``part_result`` goes back as for any conclusion). A case that has
    concluded already keeps its result: nothing to do, its result is on its way to the origin."""
    case = _linked_case(uow, m)
    if Status(case.status) in TERMINAL:
        return
    reason = m.header.get("reason")
    fire(uow, case, Event.WITHDRAW, by_joint=True,
         reason=str(reason)[:500] if isinstance(reason, str) and reason.strip() else "申请人撤回联办件")


def receive_supply(uow: Work, m: AddressedMessage, fire: Fire) -> None:
    """The origin's ``part_supply``: the case worked here for that part is supplied (补正) with the
    materials' digests, fetched from the origin like the dispatched ones, and its clock runs again."""
    case = _linked_case(uow, m)
    if case.status != Status.SUPPLEMENTING.value:
        raise LinkRefused(f"{case.code} ({case.linked_from}) is not waiting for materials ({case.status})", "not_supplementing",
                          "status")
    mats: list[dict[str, Any]] = [
            {"material_code": str(x.get("material_code") or "")[:40], "digest": str(x.get("digest") or "").lower(),
             "filename": str(x.get("filename") or "")[:255], "size": int(x.get("size") or 0)
             if isinstance(x.get("size"), int) else 0, "file_type": str(x.get("file_type") or "")[:10]}
            for x in ((m.private or {}).get("materials") or []) if isinstance(x, dict)][:100]
    if not mats or any(not x["material_code"] or not _DIGEST.match(str(x["digest"])) for x in mats):
        raise InvalidInput("a supply lists its materials, each with its code and SHA-256 digest", "private",
                           code="malformed")
    fire(uow, case, Event.SUPPLY, remote_materials=mats)


def dispatched_materials(case: Case) -> list[dict[str, Any]]:
    """A case worked here for another node's joint case: the materials it was dispatched with and
    those supplied since (digests, names, sizes, when each came; the bytes stay at the joint case's node)."""
    return [{**m, "added_at": t.occurred_at} for t in case.transitions if t.event in ("submit", "supply")
            for m in (t.data or {}).get("materials") or [] if isinstance(m, dict) and m.get("digest")]


def part_moved(uow: Work, case: Case, event: str) -> None:
    """A transition of a case worked here for another node's joint case: tell the origin."""
    link = joint.parse_linked_from(case.linked_from)
    if link is None or uow.ctx.addressed is None:
        return
    origin, joint_code, part_no = link
    stages = case.item_version.stages or []
    stage = stages[case.stage_index].get("name") if case.stage_index is not None and case.stage_index < len(stages) \
        else None
    header: dict[str, Any] = {"code": case.code, "item_name": case.item_version.name, "status": case.status,
                              "event": event, "stage": stage, "result": case.result,
                              "promised_deadline": _iso(case.promised_deadline),
                              "legal_deadline": _iso(case.legal_deadline)}
    if Status(case.status) in TERMINAL:
        header["reason"] = case.result_reason
        lic = uow.session.scalar(select(License).where(License.case_id == case.id).execution_options(**ALL))
        if lic is not None:
            header.update(license_number=lic.number, license_valid_until=_iso(lic.valid_until))
    kind = RESULT if Status(case.status) in TERMINAL else PROGRESS
    private = None
    if event == Event.REQUEST_SUPPLEMENT.value:  # what the applicant must supply, for the origin's pages only
        last = case.transitions[-1] if case.transitions else None
        defs = {d.get("code"): d for d in case.item_version.materials or []}
        missing = [dict(m, file_types=m.get("file_types") or defs.get(m.get("material_code"), {}).get("file_types")
                        or []) for m in ((last.data or {}).get("missing") or [] if last is not None else [])
                   if isinstance(m, dict)]
        private = {"supplement": {"reason": last.reason if last is not None else None, "missing": missing}}
    send_message(uow, origin, kind, {k: v for k, v in header.items() if v is not None}, private,
                 subject=joint_code, part=part_no)


# --- views -----------------------------------------------------------------------------------
_LINK_ZH = {"sent": "等待 {node} 接收", "acked": "{node} 已接收", "refused": "{node} 拒收（{code}）"}


def link_view(s: Any, row: CasePart) -> dict[str, Any] | None:
    """Where a remote part's dispatch stands: waiting (with the link state), received, refused."""
    if row.remote_node is None:
        return None
    sent = None if row.dispatch_seq is None else s.scalar(
        select(FedAddressed).where(FedAddressed.direction == "out", FedAddressed.seq == row.dispatch_seq,
                                   FedAddressed.dest == row.remote_node, FedAddressed.kind == DISPATCH))
    state = sent.state if sent is not None else "sent"
    out: dict[str, Any] = {"node": row.remote_node, "state": {"sent": "waiting"}.get(state, state)
                           if state != "acked" else "received", "code": sent.code if sent is not None else None,
                           "text": _LINK_ZH.get(state, state).format(node=row.remote_node,
                                                                     code=sent.code if sent else "")}
    if state == "sent":
        up = s.scalar(select(FedLink).where(FedLink.direction == "parent"))
        if up is not None and up.last_error:
            since = up.last_success.isoformat(timespec="seconds") if up.last_success else "从未连通"
            out["text"] += f"（上级节点 {up.peer} 连接中断，最后连通：{since}）"
            out["link"] = "down"
        else:
            out["link"] = "up" if up is not None else "unknown"
    return out


def progress_view(row: CasePart) -> dict[str, Any] | None:
    return dict(row.remote_info) if row.remote_info else None


def _tell_applicant(uow: Work, jc: Case, row: CasePart, asked: dict[str, Any]) -> None:
    """The one-time notice (一次性告知) of a remote part's supplement, under the joint case's code."""
    detail = "；".join(x["name"] or x["material_code"] for x in asked["missing"]) or (asked["reason"] or "")
    if len(detail) > 120:  # an SMS: the rest is on the track page
        detail = detail[:119] + "…"
    n = notifications.queue(uow.session, uow.now, uow.ctx.settings.node_name, jc,
                            str((row.remote_info or {}).get("item_name") or row.item_code), "supplement", detail,
                            uow.ctx.muted_notifications(uow.session))
    if n is not None:
        uow.session.flush()
        nid, ctx = n.id, uow.ctx
        uow.after_commit(lambda: ctx.dispatch_notifications([nid]))


def _supplement_asked(v: Any) -> dict[str, Any] | None:
    """A ``part_progress``'s supplement request, as this node keeps it (bounded, plain values)."""
    if not isinstance(v, dict):
        return None
    missing = [{"material_code": str(x.get("material_code") or "")[:40], "name": str(x.get("name") or "")[:100],
                "file_types": [str(t)[:10] for t in x.get("file_types") or [] if isinstance(t, str)][:10]}
               for x in v.get("missing") or [] if isinstance(x, dict)][:40]
    reason = v.get("reason")
    return {"reason": str(reason)[:500] if isinstance(reason, str) else None, "missing": missing}


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _date(v: Any) -> date | None:
    try:
        return date.fromisoformat(v) if isinstance(v, str) else None
    except ValueError:
        return None


def install(ctx: NodeContext, fire: Fire, rederive: Rederive) -> None:
    """The kinds a node applies for linked parts (installed again: the handlers are replaced)."""
    for kind in (DISPATCH, PROGRESS, RESULT, WITHDRAW, SUPPLY):
        ctx.addressed_handlers.pop(kind, None)
    register(ctx, DISPATCH, lambda uow, m: receive_dispatch(uow, m, fire))
    register(ctx, PROGRESS, lambda uow, m: receive_progress(uow, m, rederive))
    register(ctx, RESULT, lambda uow, m: receive_progress(uow, m, rederive))
    register(ctx, WITHDRAW, lambda uow, m: receive_withdraw(uow, m, fire))
    register(ctx, SUPPLY, lambda uow, m: receive_supply(uow, m, fire))
