"""Tables of one node. Tenant-scoped rows carry ``department_id`` (see ``TenantScoped``)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


CST = timezone(timedelta(hours=8), "CST")


class TZDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite drops the offset; it is restored as CST,
    the zone every value is written in)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(CST).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=CST) if value.tzinfo is None else value.astimezone(CST)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class TenantScoped:
    """Rows owned by one department. Reads by department staff are filtered on this column
    for every ORM query (``node.persistence.db``), so isolation does not depend on each query
    remembering a WHERE clause."""

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))


class Audited:
    """Every insert, update and delete of these rows is appended to the hash-chained audit log."""


class Department(Audited, Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="department")  # department | service_point
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


class Staff(Audited, Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    absent: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime())
    expires_at: Mapped[datetime] = mapped_column(TZDateTime())


class Item(TenantScoped, Audited, Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(TZDateTime())
    updated_at: Mapped[datetime] = mapped_column(TZDateTime())
    versions: Mapped[list[ItemVersion]] = relationship(back_populates="item", order_by="ItemVersion.version")


class ItemVersion(TenantScoped, Audited, Base):
    __tablename__ = "item_versions"
    __table_args__ = (UniqueConstraint("item_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    legal_limit_days: Mapped[int] = mapped_column(Integer)
    promised_limit_days: Mapped[int] = mapped_column(Integer)
    materials: Mapped[list[Any]] = mapped_column(JSON)
    stages: Mapped[list[Any]] = mapped_column(JSON)
    fees: Mapped[list[Any]] = mapped_column(JSON)
    conditions: Mapped[str] = mapped_column(Text, default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    procedure: Mapped[str] = mapped_column(Text, default="")
    issues_license: Mapped[bool] = mapped_column(Boolean, default=False)
    license_name: Mapped[str | None] = mapped_column(String(100))
    license_validity_days: Mapped[int | None] = mapped_column(Integer)
    change_note: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(TZDateTime())
    published_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    item: Mapped[Item] = relationship(back_populates="versions")


class Upload(Audited, Base):
    """A stored file awaiting (or referenced by) a submission; content addressed by SHA-256."""

    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    file_type: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


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
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}

    item_version: Mapped[ItemVersion] = relationship(lazy="joined")
    materials: Mapped[list[CaseMaterial]] = relationship(order_by="CaseMaterial.id")
    transitions: Mapped[list[CaseTransition]] = relationship(order_by="CaseTransition.seq")
    license: Mapped[License | None] = relationship(uselist=False)


class CaseMaterial(TenantScoped, Audited, Base):
    __tablename__ = "case_materials"
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


class Notification(Audited, Base):
    """Outbox row: written in the transaction of the change it announces."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime())


class CalendarYear(Audited, Base):
    """An admin-loaded holiday schedule for one year; overrides the shipped data."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(TZDateTime())


class AuditHead(Base):
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """One link of the per-node audit chain: ``hash = sha256(prev_hash_hex || payload)``.

    The payload is stored as the exact bytes hashed, so verification never re-serializes.
    """

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(TZDateTime())
    actor: Mapped[str] = mapped_column(String(40))
    table_name: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(10))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditQueued(Base):
    """An audit entry committed with its change but not yet linked into the chain (PostgreSQL).

    Its payload is ``prefix || seq || suffix`` once the chainer gives it its sequence number
    (``audit.chain_queued``): entries are linked in the order of ``id``, moved to ``audit_log``
    and deleted from here in one transaction."""

    __tablename__ = "audit_queue"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(TZDateTime())
    actor: Mapped[str] = mapped_column(String(40))
    table_name: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(10))
    prefix: Mapped[bytes] = mapped_column(LargeBinary)
    suffix: Mapped[bytes] = mapped_column(LargeBinary)


class BenchRow(Base):
    """Target of the benchmark's minimal one-row-insert baseline endpoint."""

    __tablename__ = "bench_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    note: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


# --- federation: the per-origin signed log, cursors, checkpoints, alerts and the shared library ---


class FedRecord(Base):
    """A signed log record, own or received; ``body`` is kept exactly as signed."""

    __tablename__ = "fed_records"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[str] = mapped_column(String(64))
    acc: Mapped[str] = mapped_column(String(64))  # sha256(acc of seq-1 || hash): commits to the whole log
    key_id: Mapped[str] = mapped_column(String(32))
    received_from: Mapped[str | None] = mapped_column(String(6))
    stored_at: Mapped[datetime] = mapped_column(TZDateTime())


class FedHead(Base):
    """Per-origin head: for this node's own origin the append point; for others the cursor."""

    __tablename__ = "fed_heads"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    acc: Mapped[str] = mapped_column(String(64))
    pushed_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # acknowledged by our parent
    updated_at: Mapped[datetime] = mapped_column(TZDateTime())


class FedQueued(Base):
    """A case event committed with its change but not sealed into this node's signed log yet
    (PostgreSQL): ``federation.log.seal_queued`` numbers, signs and applies it after the commit."""

    __tablename__ = "fed_queue"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[bytes] = mapped_column(LargeBinary)


class FedCheckpoint(Base):
    __tablename__ = "fed_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(6), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


class FedAlert(Base):
    """Evidence of misbehaviour (a fork, an inconsistent checkpoint): kept with its proof."""

    __tablename__ = "fed_alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(6), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text)
    proof: Mapped[dict[str, Any]] = mapped_column(JSON)
    peer: Mapped[str | None] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


class LibCase(Base):
    """Shared resource library (审批资源共享库): the latest signed state of each case in the subtree."""

    __tablename__ = "lib_cases"
    service_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    origin: Mapped[str] = mapped_column(String(6), index=True)
    item_code: Mapped[str] = mapped_column(String(40), index=True)
    item_name: Mapped[str] = mapped_column(String(200))
    department_code: Mapped[str] = mapped_column(String(32), index=True)
    department_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    stage_kind: Mapped[str] = mapped_column(String(20))
    stage_name: Mapped[str] = mapped_column(String(50))
    last_event: Mapped[str] = mapped_column(String(30))
    last_event_at: Mapped[datetime] = mapped_column(TZDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    concluded_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    legal_deadline: Mapped[date | None] = mapped_column(Date)
    promised_deadline: Mapped[date | None] = mapped_column(Date)
    stage_deadline: Mapped[date | None] = mapped_column(Date)
    result: Mapped[str | None] = mapped_column(String(10))
    applicant_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    applicant_name_masked: Mapped[str] = mapped_column(String(100))
    record_seq: Mapped[int] = mapped_column(BigInteger)
    record_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[datetime] = mapped_column(TZDateTime())


class LibLicense(Base):
    __tablename__ = "lib_licenses"
    number: Mapped[str] = mapped_column(String(40), primary_key=True)
    origin: Mapped[str] = mapped_column(String(6), index=True)
    service_code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    holder_hash: Mapped[str] = mapped_column(String(64), index=True)
    holder_masked: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    issuing_department: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))
    digest: Mapped[str] = mapped_column(String(64))
    record_seq: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[datetime] = mapped_column(TZDateTime())


class CatalogChange(Base):
    """A signed catalog change from the province, as received (or as published, at the province)."""

    __tablename__ = "catalog_changes"
    publisher: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    item_code: Mapped[str] = mapped_column(String(40), index=True)
    change: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[datetime] = mapped_column(TZDateTime())
    adopted: Mapped[bool] = mapped_column(Boolean, default=False)
