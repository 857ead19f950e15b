"""Supervision orders (督办) and correction orders (纠错) across levels, complaints (投诉) and disputes
between a joint case's departments (争议协调): ``docs/supervision.md`` "Orders and complaints".

An inspector of an upper node issues an order on a case of its shared library; the order travels to
the case's owning node as an addressed record (``supervision_order``, header: ref, case, kind, due
date; the text sealed to the owner), applied once there (``receive_order``) onto the case
department's queue; the department answers (``respond``: ``supervision_response`` back up), the
issuer closes or returns it (``decide``: ``supervision_decision`` down). Every refusal is a
``DomainError`` with a code (the transport keeps the record refused and tells the sender).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from node.domain import servicecode
from node.domain import supervision_orders as rules
from node.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from node.domain.policy import Action, Target, require
from node.domain.supervision_orders import ComplaintState, Kind, State
from node.persistence.models import (
    Case,
    CasePart,
    CaseTransition,
    Complaint,
    Department,
    Dispute,
    FedAddressed,
    LibCase,
    Notification,
    Staff,
    SupOrder,
)
from node.ports import AddressedMessage

from .addressed import register, send_message
from .context import NodeContext, Work

ORDER, RESPONSE, DECISION = "supervision_order", "supervision_response", "supervision_decision"
ISSUER, OWNER = "issuer", "owner"
ALL = {"all_tenants": True}


# --- at the issuing (upper) node -------------------------------------------------------------
def issue_order(uow: Work, case_code: Any, kind: Any, text: Any, due_days: Any = None) -> SupOrder:
    """An inspector's order on a case of this node's library, addressed to the case's owner."""
    require(uow.actor, Action.ISSUE_SUPERVISION_ORDER)
    k, body, days = rules.check_kind(kind), rules.check_text(text), rules.check_due_days(due_days)
    code = servicecode.normalize(str(case_code or ""), field="case_code")
    here, s = uow.ctx.node_id, uow.session
    lib = s.get(LibCase, code)
    if lib is None:
        raise NotFound(f"no case {code} in the shared library of {here}", field="case_code")
    rules.check_addressable(here, lib.origin)
    due = uow.calendar().add_working_days(uow.now.date(), days) if days else None
    row = SupOrder(ref="", side=ISSUER, issuer_node=here, owner_node=lib.origin, case_code=code, kind=k.value,
                   text=body, due_days=days, due_date=due, state=State.ISSUED.value, department_code=lib.department_code,
                   issued_by=_who(uow), issued_at=uow.now, rounds=0, updated_at=uow.now)
    s.add(row)
    s.flush()
    row.ref = f"{here}-{row.id}"
    header = {"ref": row.ref, "case_code": code, "kind": k.value, "due_date": due.isoformat() if due else None,
              "due_days": days, "issued_at": uow.now.isoformat()}
    send_message(uow, lib.origin, ORDER, header, {"text": body}, subject=code).then(
        lambda seq: setattr(row, "order_seq", seq))
    return row


def decide(uow: Work, order_id: int, decision: Any, note: Any = None) -> SupOrder:
    """The issuer closes (accepts) the response or returns it; the decision travels down."""
    require(uow.actor, Action.ISSUE_SUPERVISION_ORDER)
    try:
        d = rules.Decision(decision)
    except ValueError:
        raise InvalidInput("decision: close or return", "decision") from None
    text = rules.check_text(note, "note") if note is not None or d == rules.Decision.RETURN else None
    row = _locked(uow, order_id, ISSUER)
    row.state = rules.next_state(row.state, d.value).value
    row.decision_note, row.decided_by, row.decided_at, row.updated_at = text, _who(uow), uow.now, uow.now
    send_message(uow, row.owner_node, DECISION, {"ref": row.ref, "decision": d.value, "round": row.rounds},
                 {"note": text} if text else None, subject=row.case_code)
    return row


def receive_response(uow: Work, m: AddressedMessage) -> None:
    h, p = m.header, m.private or {}
    row = _by_ref(uow, str(h.get("ref") or ""), ISSUER)
    if m.origin != row.owner_node:
        raise PermissionDenied(f"order {row.ref} was sent to {row.owner_node}, not to {m.origin}", "origin",
                               code="not_order_owner")
    row.state = rules.next_state(row.state, "respond").value
    row.response_text = rules.check_text(p.get("text"), "text")
    fix = p.get("fix")
    row.fix = fix if isinstance(fix, dict) else None
    if row.kind == Kind.CORRECT and row.fix is None:
        raise InvalidInput("a correction response carries its fix", "fix", code="malformed")
    row.responded_by = str(h.get("responded_by") or m.origin)[:64]
    row.responded_at, row.rounds, row.updated_at = m.signed_at, row.rounds + 1, uow.now
    _notify(uow, _staff_of(uow, row.issued_by), None,
            f"【{uow.ctx.settings.node_name}】{rules.KIND_ZH[Kind(row.kind)]}单 {row.ref}（{row.case_code}）"
            f"已由 {m.origin} 反馈，请审核办结或退回。", "supervision_responded")


# --- at the owning node ----------------------------------------------------------------------
def receive_order(uow: Work, m: AddressedMessage) -> None:
    """An order from a node above: onto the case department's queue, exactly once."""
    here, s, h = uow.ctx.node_id, uow.session, m.header
    rules.check_from_ancestor(here, m.origin)
    ref, code = h.get("ref"), h.get("case_code")
    if not isinstance(ref, str) or not ref.startswith(f"{m.origin}-") or len(ref) > 40 or not isinstance(code, str):
        raise InvalidInput("an order names its ref (issuer-number) and case", "ref", code="malformed")
    try:
        kind = rules.check_kind(h.get("kind"))
        text = rules.check_text((m.private or {}).get("text"))
        days = rules.check_due_days(h.get("due_days"))
    except InvalidInput as e:
        raise InvalidInput(e.message, e.field, code="malformed") from None
    case = s.scalar(select(Case).where(Case.code == code).execution_options(**ALL))
    if case is None:
        raise NotFound(f"{here} has no case {code}", "case_code", code="unknown_case")
    if s.scalar(select(SupOrder.id).where(SupOrder.side == OWNER, SupOrder.ref == ref)) is not None:
        raise Conflict(f"order {ref} is here already", "ref", code="duplicate_order")
    dept = s.get(Department, case.department_id)
    due = h.get("due_date")
    row = SupOrder(ref=ref, side=OWNER, issuer_node=m.origin, owner_node=here, case_code=code, kind=kind.value,
                   text=text, due_days=days, due_date=_date(due), state=State.DELIVERED.value,
                   department_id=case.department_id, department_code=dept.code if dept else None,
                   issued_by=m.origin, issued_at=m.signed_at, delivered_at=uow.now, rounds=0, updated_at=uow.now,
                   case_seq=s.scalar(select(func.max(CaseTransition.seq)).where(CaseTransition.case_id == case.id)
                                     .execution_options(**ALL)) or 0)
    s.add(row)
    s.flush()
    staff = list(s.scalars(select(Staff).where(Staff.department_id == case.department_id, Staff.role == "chief",
                                               Staff.active.is_(True))))
    if case.assignee_id is not None and case.assignee_id not in {x.id for x in staff}:
        a = s.get(Staff, case.assignee_id)
        staff += [a] if a is not None else []
    _notify(uow, staff, case.id,
            f"【{uow.ctx.settings.node_name}】{m.origin} 下发{rules.KIND_ZH[kind]}单 {ref}：{code}"
            f"{'，限 ' + due + ' 前反馈' if isinstance(due, str) else ''}。", "supervision_delivered")


def respond(uow: Work, order_id: int, text: Any, fix: Any = None) -> SupOrder:
    """The case department's answer (a correction records its fix), sent to the issuer."""
    s = uow.session
    row = _locked(uow, order_id, OWNER)
    case = s.scalar(select(Case).where(Case.code == row.case_code).execution_options(**ALL))
    assert case is not None
    require(uow.actor, Action.RESPOND_SUPERVISION_ORDER, Target(department_id=row.department_id,
                                                                staff_id=case.assignee_id))
    body = rules.check_text(text)
    nxt = rules.next_state(row.state, "respond")
    after = {t.seq for t in case.transitions if t.seq > (row.case_seq or 0)}
    recorded = rules.check_fix(Kind(row.kind), fix, after)
    row.state, row.response_text, row.fix = nxt.value, body, recorded
    row.responded_by, row.responded_at, row.rounds, row.updated_at = _who(uow), uow.now, row.rounds + 1, uow.now
    send_message(uow, row.issuer_node, RESPONSE, {"ref": row.ref, "round": row.rounds, "kind": row.kind,
                                                  "responded_by": f"{uow.ctx.node_id}/{row.department_code}"},
                 {"text": body, "fix": recorded}, subject=row.case_code)
    return row


def receive_decision(uow: Work, m: AddressedMessage) -> None:
    row = _by_ref(uow, str(m.header.get("ref") or ""), OWNER)
    if m.origin != row.issuer_node:
        raise PermissionDenied(f"order {row.ref} was issued by {row.issuer_node}, not {m.origin}", "origin",
                               code="not_order_issuer")
    decision = m.header.get("decision")
    if decision not in ("close", "return"):
        raise InvalidInput(f"decision: {decision!r}", "decision", code="malformed")
    row.state = rules.next_state(row.state, decision).value
    note = (m.private or {}).get("note")
    row.decision_note = note if isinstance(note, str) else None
    row.decided_by, row.decided_at, row.updated_at = m.origin, m.signed_at, uow.now


# --- reads -----------------------------------------------------------------------------------
def list_orders(uow: Work, state: str | None = None, case_code: str | None = None) -> list[dict[str, Any]]:
    """Inspectors and the admin: every order of this node (issued here and received here);
    department staff: the orders addressed to their department (the department's 督办 queue)."""
    a = uow.actor
    require(uow.actor, Action.READ_SUPERVISION_ORDERS, Target(department_id=a.department_id)
            if a.kind == "staff" and a.role not in ("admin", "inspector") else Target())
    q = select(SupOrder)
    if a.kind == "staff" and a.role not in ("admin", "inspector"):
        q = q.where(SupOrder.side == OWNER, SupOrder.department_id == a.department_id)
    if case_code:
        q = q.where(SupOrder.case_code == servicecode.normalize(case_code, field="case_code"))
    rows = [order_view(uow, r) for r in uow.session.scalars(q.order_by(SupOrder.id.desc()).limit(500))]
    return [r for r in rows if state is None or r["state"] == state]


def get_order(uow: Work, order_id: int) -> dict[str, Any]:
    row = uow.session.get(SupOrder, order_id)
    if row is None:
        raise NotFound(f"no supervision order {order_id}", "order_id")
    require(uow.actor, Action.READ_SUPERVISION_ORDERS, Target(department_id=row.department_id))
    return order_view(uow, row)


def case_orders(uow: Work, code: str) -> list[dict[str, Any]]:
    """The orders on one case of this node (for the case view; dates as ISO strings)."""
    return [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in order_view(uow, r).items()}
            for r in uow.session.scalars(select(SupOrder).where(SupOrder.case_code == code).order_by(SupOrder.id))]


def order_view(uow: Work, r: SupOrder) -> dict[str, Any]:
    state = r.state
    delivery = refusal = None
    if r.side == ISSUER and r.order_seq is not None:
        sent = uow.session.get(FedAddressed, (uow.ctx.node_id, r.order_seq))
        delivery = sent.state if sent is not None else None
        refusal = sent.code if sent is not None and delivery == "refused" else None
        if state == State.ISSUED and delivery == "acked":
            state = State.DELIVERED.value  # the owner applied it (its ack came back)
        elif state == State.ISSUED and delivery == "refused":
            state = "refused"
    return {"id": r.id, "ref": r.ref, "side": r.side, "issuer_node": r.issuer_node, "owner_node": r.owner_node,
            "case_code": r.case_code, "case_seq": r.case_seq, "kind": r.kind, "text": r.text, "due_days": r.due_days,
            "due_date": r.due_date,
            "state": state, "state_zh": rules.STATE_ZH.get(State(state), "对方拒收") if state != "refused" else "对方拒收",
            "delivery": delivery, "refusal": refusal,
            "department_id": r.department_id, "department_code": r.department_code, "issued_by": r.issued_by,
            "issued_at": r.issued_at, "delivered_at": r.delivered_at, "rounds": r.rounds,
            "response_text": r.response_text, "fix": r.fix, "responded_by": r.responded_by,
            "responded_at": r.responded_at, "decision_note": r.decision_note, "decided_by": r.decided_by,
            "decided_at": r.decided_at}


# --- complaints (投诉) -----------------------------------------------------------------------
def file_complaint(uow: Work, code: str, id_last4: str, text: Any) -> Complaint:
    """The applicant's complaint about their case (proved like the public lookup), for this node's
    inspectors; its filing and conclusion travel up as case events (``complaint``,
    ``complaint_concluded``) so the levels above see and count them."""
    from .public import lookup_case

    body = rules.check_text(text)
    case, _, _ = lookup_case(uow, code, id_last4)
    c = Complaint(case_id=case.id, case_code=case.code, department_id=case.department_id, text=body,
                  state=ComplaintState.RECEIVED.value, created_at=uow.now)
    uow.session.add(c)
    uow.session.flush()
    uow.case_event(case, "complaint", actor="applicant")
    inspectors = list(uow.session.scalars(select(Staff).where(Staff.role == "inspector", Staff.active.is_(True))))
    _notify(uow, inspectors, case.id, f"【{uow.ctx.settings.node_name}】收到投诉 #{c.id}：{case.code}。",
            "complaint_received")
    return c


def list_complaints(uow: Work, state: str | None = None) -> list[Complaint]:
    require(uow.actor, Action.HANDLE_COMPLAINT)
    q = select(Complaint)
    if state:
        q = q.where(Complaint.state == state)
    return list(uow.session.scalars(q.order_by(Complaint.id.desc()).limit(500)))


def handle_complaint(uow: Work, complaint_id: int) -> Complaint:
    require(uow.actor, Action.HANDLE_COMPLAINT)
    c = _complaint(uow, complaint_id)
    c.state = rules.complaint_next(c.state, "handle").value
    c.handled_by, c.handling_at = _who(uow), uow.now
    return c


def conclude_complaint(uow: Work, complaint_id: int, finding: Any, conclusion: Any) -> Complaint:
    require(uow.actor, Action.HANDLE_COMPLAINT)
    f, text = rules.check_finding(finding), rules.check_text(conclusion, "conclusion")
    c = _complaint(uow, complaint_id)
    c.state = rules.complaint_next(c.state, "conclude").value
    c.finding, c.conclusion, c.concluded_at = f.value, text, uow.now
    c.handled_by = c.handled_by or _who(uow)
    case = uow.session.scalar(select(Case).where(Case.id == c.case_id).execution_options(**ALL))
    assert case is not None
    uow.case_event(case, "complaint_concluded", reason=f"{f.value}: {text}"[:500])
    return c


def complaint_counts(uow: Work) -> dict[str, Any]:
    """Per department: complaints received, concluded, substantiated (for the assessment)."""
    require(uow.actor, Action.HANDLE_COMPLAINT)
    rows = uow.session.execute(select(Department.code, Complaint.state, Complaint.finding, func.count())
                               .join(Department, Department.id == Complaint.department_id)
                               .group_by(Department.code, Complaint.state, Complaint.finding))
    out: dict[str, dict[str, int]] = {}
    for dept, state, finding, n in rows:
        d = out.setdefault(dept, {"received": 0, "concluded": 0, "substantiated": 0})
        d["received"] += n
        if state == ComplaintState.CONCLUDED:
            d["concluded"] += n
        if finding in ("substantiated", "partly"):
            d["substantiated"] += n
    return {"departments": out}


# --- disputes (争议协调) ----------------------------------------------------------------------
def raise_dispute(uow: Work, joint_code: Any, part_no: Any, text: Any) -> Dispute:
    """A part's department chief raises a dispute with the other departments of the joint case."""
    s = uow.session
    code = servicecode.normalize(str(joint_code or ""), field="joint_code")
    body = rules.check_text(text)
    jc = s.scalar(select(Case).where(Case.code == code).execution_options(**ALL))
    parts = [] if jc is None else list(s.scalars(select(CasePart).where(CasePart.joint_case_id == jc.id)
                                                 .execution_options(**ALL)))
    if jc is None or not parts:
        raise NotFound(f"no joint case {code}", "joint_code")
    if not isinstance(part_no, int) or isinstance(part_no, bool) or part_no not in {p.part_no for p in parts}:
        raise InvalidInput(f"part_no: one of {sorted(p.part_no for p in parts)}", "part_no")
    mine = next(p for p in parts if p.part_no == part_no)
    require(uow.actor, Action.RAISE_DISPUTE, Target(departments=frozenset(
        {mine.department_id} if mine.department_id is not None else set())))
    others = sorted({p.department_id for p in parts if p.department_id not in (None, mine.department_id)})
    d = Dispute(joint_case_id=jc.id, joint_code=code, part_no=part_no, department_id=mine.department_id,
                other_departments=others, text=body, state="open", raised_by=_who(uow), raised_at=uow.now)
    s.add(d)
    s.flush()
    coord = list(s.scalars(select(Staff).where(Staff.role.in_(("admin", "inspector")), Staff.active.is_(True))))
    _notify(uow, coord, jc.id, f"【{uow.ctx.settings.node_name}】联办件 {code} 第 {part_no} 项部门提出争议 #{d.id}，"
                               "请协调。", "dispute_raised")
    return d


def list_disputes(uow: Work, state: str | None = None) -> list[Dispute]:
    a = uow.actor
    q = select(Dispute)
    if a.kind == "staff" and a.role not in ("admin", "inspector"):
        if a.department_id is None:
            raise PermissionDenied("disputes are for coordination and the departments of the joint case", "role")
        q = q.where(Dispute.department_id == a.department_id)  # (the others' see it through coordination)
    if state:
        q = q.where(Dispute.state == state)
    return list(uow.session.scalars(q.order_by(Dispute.id.desc()).limit(500)))


def resolve_dispute(uow: Work, dispute_id: int, decision: Any) -> Dispute:
    require(uow.actor, Action.RESOLVE_DISPUTE)
    text = rules.check_text(decision, "decision")
    d = uow.session.scalar(select(Dispute).where(Dispute.id == dispute_id).with_for_update()
                           .execution_options(populate_existing=True))
    if d is None:
        raise NotFound(f"no dispute {dispute_id}", "dispute_id")
    if d.state != "open":
        raise Conflict(f"dispute {dispute_id} is resolved already", "state")
    d.state, d.decision, d.decided_by, d.decided_at = "resolved", text, _who(uow), uow.now
    return d


# --- helpers ---------------------------------------------------------------------------------
def _who(uow: Work) -> str:
    return uow.actor.label


def _locked(uow: Work, order_id: int, side: str) -> SupOrder:
    row = uow.session.scalar(select(SupOrder).where(SupOrder.id == order_id).with_for_update()
                             .execution_options(populate_existing=True))
    if row is None or row.side != side:
        raise NotFound(f"no supervision order {order_id} {'issued' if side == ISSUER else 'received'} here",
                       "order_id")
    return row


def _by_ref(uow: Work, ref: str, side: str) -> SupOrder:
    row = uow.session.scalar(select(SupOrder).where(SupOrder.side == side, SupOrder.ref == ref).with_for_update()
                             .execution_options(populate_existing=True))
    if row is None:
        raise NotFound(f"no order {ref!r} {'issued' if side == ISSUER else 'received'} at {uow.ctx.node_id}", "ref",
                       code="unknown_order")
    return row


def _complaint(uow: Work, complaint_id: int) -> Complaint:
    c = uow.session.scalar(select(Complaint).where(Complaint.id == complaint_id).with_for_update()
                           .execution_options(populate_existing=True))
    if c is None:
        raise NotFound(f"no complaint {complaint_id}", "complaint_id")
    return c


def _staff_of(uow: Work, label: str) -> list[Staff]:
    if not label.startswith("staff:") or not label[6:].isdigit():
        return []
    st = uow.session.get(Staff, int(label[6:]))
    return [st] if st is not None else []


def _notify(uow: Work, staff: list[Staff], case_id: int | None, body: str, template: str) -> None:
    """One outbox row per staff member (to their phone, else to their in-hall address)."""
    ids = []
    for st in staff:
        n = Notification(case_id=case_id, recipient=(st.phone or f"staff:{st.username}")[:32], template=template,
                         body=body, status="pending", attempts=0, created_at=uow.now)
        uow.session.add(n)
        uow.session.flush()
        ids.append(n.id)
    if ids:
        ctx = uow.ctx
        uow.after_commit(lambda: ctx.dispatch_notifications(ids))


def _date(v: Any) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(v) if isinstance(v, str) else None
    except ValueError:
        return None


def install(ctx: NodeContext) -> None:
    """The kinds a node applies for supervision orders."""
    for kind in (ORDER, RESPONSE, DECISION):
        ctx.addressed_handlers.pop(kind, None)
    register(ctx, ORDER, receive_order)
    register(ctx, RESPONSE, receive_response)
    register(ctx, DECISION, receive_decision)
