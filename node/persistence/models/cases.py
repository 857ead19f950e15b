"""Cases and what hangs off them: uploads, materials, transitions, extensions, licenses,
evaluations and rectifications."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Audited, Base, TenantScoped, TZDateTime

if TYPE_CHECKING:
    from .catalog import ItemVersion


class Upload(Audited, Base):
    """A stored file awaiting (or referenced by) a submission; content addressed by SHA-256.

    ``uploaded_by`` is who sent it (``staff:<id>``, ``client:<address>``, ``local`` for in-process
    callers; None for rows older than the column): the quota counts on it, across every worker."""

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_uploaded_by_created_at", "uploaded_by", "created_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    file_type: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), index=True)
    uploaded_by: Mapped[str | None] = mapped_column(String(80))


class Case(TenantScoped, Audited, Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    item_version_id: Mapped[int] = mapped_column(ForeignKey("item_versions.id"))
    item_code: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # online | window | agent
    service_point_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    processing: Mapped[str] = mapped_column(String(10), default="online")
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_id_type: Mapped[str] = mapped_column(String(12), default="resident_id")
    applicant_id_number: Mapped[str] = mapped_column(String(32))
    applicant_phone: Mapped[str | None] = mapped_column(String(32))
    applicant_org: Mapped[str | None] = mapped_column(String(200))
    form: Mapped[dict[str, Any]] = mapped_column(JSON)
    conditional_materials: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)
    stage_index: Mapped[int | None] = mapped_column(Integer)
    resume_status: Mapped[str | None] = mapped_column(String(20))
    resume_stage_index: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(TZDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    concluded_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    accepted_on: Mapped[date | None] = mapped_column(Date)
    legal_deadline: Mapped[date | None] = mapped_column(Date)
    promised_deadline: Mapped[date | None] = mapped_column(Date)
    stage_started_on: Mapped[date | None] = mapped_column(Date)
    stage_deadline: Mapped[date | None] = mapped_column(Date)
    supplement_started_on: Mapped[date | None] = mapped_column(Date)
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(String(10))
    result_reason: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    joint_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    """A part of a joint case (联办件): the joint case it belongs to (``case_parts`` says which part)."""
    agent_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    """The free agent (代办员) acting for the applicant: sees every part, supplies for them."""
    green_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    """绿色通道: a key project's case, first in every queue (set at acceptance; parts inherit it)."""
    linked_from: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    """A part of another node's joint case worked here (市区两级联动): ``origin:joint_code:part``."""
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}

    item_version: Mapped[ItemVersion] = relationship(lazy="joined")
    materials: Mapped[list[CaseMaterial]] = relationship(order_by="CaseMaterial.id")
    transitions: Mapped[list[CaseTransition]] = relationship(order_by="CaseTransition.seq")
    license: Mapped[License | None] = relationship(uselist=False)
    prerequisites: Mapped[list[CasePrerequisite]] = relationship(order_by="CasePrerequisite.position")


class CaseMaterial(TenantScoped, Audited, Base):
    """A file of a case. ``binds``: this row binds its upload to the case (one upload, one
    application) -- the first row of the case naming that upload. The partial unique index lets
    one row per upload bind, so a second case naming the same upload fails, even when two
    submissions race; an upload no row binds is pending, and expires
    (``services.uploads.purge_uploads``). Rows older than the rule that named an upload another
    case had used first (migration 0010 kept them) do not bind it."""

    __tablename__ = "case_materials"
    __table_args__ = (Index("uq_case_materials_bound_upload", "upload_id", unique=True,
                            sqlite_where=text("binds"), postgresql_where=text("binds")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    material_code: Mapped[str] = mapped_column(String(40))
    upload_id: Mapped[str] = mapped_column(ForeignKey("uploads.id"))
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    file_type: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(TZDateTime())
    binds: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CaseTransition(TenantScoped, Audited, Base):
    __tablename__ = "case_transitions"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))  # looked up through uq (case_id, seq)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    from_stage: Mapped[int | None] = mapped_column(Integer)
    to_status: Mapped[str] = mapped_column(String(20))
    to_stage: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(40))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(TZDateTime())
    recorded_at: Mapped[datetime] = mapped_column(TZDateTime())
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False)
    stage_deadline: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class Extension(TenantScoped, Audited, Base):
    __tablename__ = "extensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(TZDateTime())
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)


class License(TenantScoped, Audited, Base):
    __tablename__ = "licenses"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    name: Mapped[str] = mapped_column(String(100))
    holder_name: Mapped[str] = mapped_column(String(200))
    holder_id_number: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(TZDateTime())
    status: Mapped[str] = mapped_column(String(10), default="valid")


class CasePrerequisite(TenantScoped, Audited, Base):
    """A prior approval the case's item requires (前置审批), as entered (a license number or a case's
    service code) and as verified: what was checked, the answer, which node answered, when and for
    whom. One row per prerequisite of the item (``position`` in the item's list); the row is rewritten
    by each verification (at submission, again at acceptance). Nothing of the holder is stored: the
    case's applicant is the holder checked (by keyed hash)."""

    __tablename__ = "case_prerequisites"
    __table_args__ = (UniqueConstraint("case_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    position: Mapped[int] = mapped_column(Integer)
    item_code: Mapped[str] = mapped_column(String(40))  # the item the prerequisite must be a result of
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # license | case
    reference: Mapped[str] = mapped_column(String(40))  # the license number or service code entered
    valid: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(20))  # why not (node.domain.prerequisites.Reason)
    result_item_code: Mapped[str | None] = mapped_column(String(40))  # what the reference is a result of
    result_name: Mapped[str | None] = mapped_column(String(100))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    answered_by: Mapped[str | None] = mapped_column(String(6))  # the node whose records answered
    checked_on: Mapped[date | None] = mapped_column(Date)  # the day validity was checked for
    checked_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    checked_by: Mapped[str | None] = mapped_column(String(40))
    entered_at: Mapped[datetime] = mapped_column(TZDateTime())
    entered_by: Mapped[str] = mapped_column(String(40))


class Evaluation(TenantScoped, Audited, Base):
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


class Rectification(TenantScoped, Audited, Base):
    """A low rating (1-2) opens a rectification record (整改) for the department."""

    __tablename__ = "rectifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    created_at: Mapped[datetime] = mapped_column(TZDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    note: Mapped[str | None] = mapped_column(Text)


class CasePart(TenantScoped, Audited, Base):
    """One part of a joint case (联办件): a local part is a case of its own department
    (``local_case_id``); a remote part (another node's, built later) has ``remote_node`` and
    ``remote_code`` instead. Status, deadline and result mirror the part's case, written in the
    unit of work of the part's transition. ``department_id`` is the part's department (None for
    a remote part)."""

    __tablename__ = "case_parts"
    __table_args__ = (UniqueConstraint("joint_case_id", "part_no"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    joint_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    part_no: Mapped[int] = mapped_column(Integer)
    item_code: Mapped[str] = mapped_column(String(40))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)  # type: ignore[assignment]
    local_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    remote_node: Mapped[str | None] = mapped_column(String(12))
    remote_code: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[date | None] = mapped_column(Date)
    result: Mapped[str | None] = mapped_column(String(10))
    dispatch_seq: Mapped[int | None] = mapped_column(BigInteger)
    """A remote part: its ``part_dispatch`` record's number in this node's log (its ack settles it)."""
    remote_seq: Mapped[int | None] = mapped_column(BigInteger)
    """A remote part: the owner's last ``part_progress``/``part_result`` applied (its seq in the owner's log)."""
    remote_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """A remote part: what its owner last reported (stage, event, reason, license, deadlines)."""


class StageSignoff(TenantScoped, Audited, Base):
    """A department's sign-off of a joint review or joint site inspection stage (联合审图, 联合踏勘):
    one row per (case, stage, department); ``department_id`` is the signing department."""

    __tablename__ = "stage_signoffs"
    __table_args__ = (UniqueConstraint("case_id", "stage_index", "department_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    stage_index: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    opinion: Mapped[str] = mapped_column(Text)
    signed_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    signed_at: Mapped[datetime] = mapped_column(TZDateTime())
