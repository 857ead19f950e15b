"""Supervision orders (督办、纠错), complaints (投诉) and disputes between a joint case's departments
(争议协调): issue 12 items 3 and 5 (``docs/supervision.md``, "Orders and complaints")."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Audited, Base, TZDateTime


class SupOrder(Audited, Base):
    """One supervision or correction order as one node sees it: ``side`` 'issuer' at the upper node
    that issued it, 'owner' at the node owning the case (written when the order record is applied).
    ``ref`` (issuer node, its row id) names the order on both sides."""

    __tablename__ = "sup_orders"
    __table_args__ = (UniqueConstraint("side", "ref"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), index=True)
    side: Mapped[str] = mapped_column(String(8))  # issuer | owner
    issuer_node: Mapped[str] = mapped_column(String(6))
    owner_node: Mapped[str] = mapped_column(String(6), index=True)
    case_code: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # supervise | correct
    text: Mapped[str] = mapped_column(Text)
    due_days: Mapped[int | None] = mapped_column(Integer)
    due_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(10), index=True)  # issued delivered responded returned closed
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)  # owner side
    department_code: Mapped[str | None] = mapped_column(String(32))
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(TZDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    rounds: Mapped[int] = mapped_column(Integer, default=0)  # responses so far
    response_text: Mapped[str | None] = mapped_column(Text)
    fix: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    responded_by: Mapped[str | None] = mapped_column(String(64))
    responded_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    order_seq: Mapped[int | None] = mapped_column(Integer)  # the issuer's addressed record (issuer side)
    case_seq: Mapped[int | None] = mapped_column(Integer)  # owner side: the case's last transition when applied
    updated_at: Mapped[datetime] = mapped_column(TZDateTime())


class Complaint(Audited, Base):
    """A complaint (投诉) by the applicant about a case of this node, for its inspectors."""

    __tablename__ = "complaints"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    case_code: Mapped[str] = mapped_column(String(32), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), index=True)  # received | handling | concluded
    finding: Mapped[str | None] = mapped_column(String(16))  # substantiated | partly | unsubstantiated
    conclusion: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TZDateTime())
    handling_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    concluded_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class Dispute(Audited, Base):
    """A dispute (争议) between departments of a joint case, raised by a part's department chief and
    resolved by coordination (the hall admin or an inspector of the joint case's node)."""

    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(primary_key=True)
    joint_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    joint_code: Mapped[str] = mapped_column(String(32), index=True)
    part_no: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))  # the raising department
    other_departments: Mapped[list[int]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), index=True)  # open | resolved
    raised_by: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[datetime] = mapped_column(TZDateTime())
    decision: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime())
