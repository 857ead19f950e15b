"""Federation: the per-origin signed log, cursors, checkpoints and the shared library."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime


class FedRecord(Base):
    """A signed log record, own or received; ``body`` is kept exactly as signed."""

    __tablename__ = "fed_records"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[str] = mapped_column(String(64))
    leaf: Mapped[str] = mapped_column(String(64))  # Merkle leaf hash sha256(0x00 || body), as sealed or received
    key_id: Mapped[str] = mapped_column(String(32))
    received_from: Mapped[str | None] = mapped_column(String(6))
    stored_at: Mapped[datetime] = mapped_column(TZDateTime())


class FedHead(Base):
    """Per-origin head: for this node's own origin the append point; for others the cursor."""

    __tablename__ = "fed_heads"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    frontier: Mapped[str] = mapped_column(Text, default="")  # the Merkle tree's perfect subtrees at seq, largest first (hex)
    pushed_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # acknowledged by our parent
    updated_at: Mapped[datetime] = mapped_column(TZDateTime())


class FedQueued(Base):
    """A case event committed with its change but not sealed into this node's signed log yet
    (PostgreSQL): ``federation.log.seal_queued`` numbers, signs and applies it after the commit."""

    __tablename__ = "fed_queue"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[bytes] = mapped_column(LargeBinary)


class FedTreeNode(Base):
    """A perfect subtree (level >= 1) of an origin's Merkle tree, stored when its last leaf is
    appended (``federation.merkle``): proofs and roots are lookups, never a walk of the log."""

    __tablename__ = "fed_tree"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class FedCheckpoint(Base):
    """A checkpoint received from a child. ``scheme``: 'merkle' (``head_hash`` is the tree root of
    the first ``size`` records) or 'linear' (before revision 0007: the old accumulator)."""

    __tablename__ = "fed_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(6), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    scheme: Mapped[str] = mapped_column(String(10), default="merkle")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(TZDateTime())


class LibCase(Base):
    """Shared resource library (审批资源共享库): the latest signed state of each case in the subtree."""

    __tablename__ = "lib_cases"
    __table_args__ = (
        Index("ix_lib_cases_light_due", "light", "due_on", "service_code"),  # overdue / yellow lists, keyset
        Index("ix_lib_cases_stage_light", "stage_light", "stage_deadline", "service_code"),
        Index("ix_lib_cases_counts", "origin", "stage_kind", "light"),  # counts by stage and light per region
        Index("ix_lib_cases_idle", "status", "last_event_at"),  # integrity: cases that never moved (0025)
    )
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
    channel: Mapped[str | None] = mapped_column(String(10))  # online | window | agent (None: older rows)
    joint_code: Mapped[str | None] = mapped_column(String(32), index=True)  # a joint case and its parts share it
    part_no: Mapped[int | None] = mapped_column(Integer)  # 0: the joint case itself; None: not joint
    service_point: Mapped[str | None] = mapped_column(String(32), index=True)  # village service point's unit code
    evaluation_score: Mapped[int | None] = mapped_column(SmallInteger)  # 好差评 1-5 from the signed record (None: none yet)
    record_seq: Mapped[int] = mapped_column(BigInteger)
    record_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[datetime] = mapped_column(TZDateTime())
    # supervision (migration 0021): the current stage, the clock, and the lights kept as records apply
    stage_index: Mapped[int | None] = mapped_column(SmallInteger)
    stage_started_on: Mapped[date | None] = mapped_column(Date)
    supplement_started_on: Mapped[date | None] = mapped_column(Date)
    paused_days: Mapped[int | None] = mapped_column(Integer)
    due_on: Mapped[date | None] = mapped_column(Date)  # the case light's deadline: promised, else legal
    light: Mapped[str | None] = mapped_column(String(8))  # green, yellow, red, on_time, late (node/domain/lights.py)
    stage_light: Mapped[str | None] = mapped_column(String(8))
    light_changes_on: Mapped[date | None] = mapped_column(Date, index=True)


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


class LibAssessment(Base):
    """Performance assessment counters (绩效考核) per (origin, department, month), maintained by
    ``federation.library.apply_records`` in the same transaction (see node.domain.assessment)."""

    __tablename__ = "lib_assessment"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True, index=True)
    department_name: Mapped[str] = mapped_column(String(100), default="")
    received: Mapped[int] = mapped_column(Integer, default=0)
    concluded: Mapped[int] = mapped_column(Integer, default=0)
    early: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    speedup_sum: Mapped[int] = mapped_column(BigInteger, default=0)  # millionths
    speedup_n: Mapped[int] = mapped_column(Integer, default=0)
    eval_n: Mapped[int] = mapped_column(Integer, default=0)
    eval_good: Mapped[int] = mapped_column(Integer, default=0)
    eval_sum: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0)


class LibAssessmentItem(Base):
    """Cases per catalog item and (origin, department, month of acceptance), and of them the ones
    received online: the item counts behind 事项纳入率, maintained by
    ``federation.library.apply_records`` in the same transaction (node.domain.assessment)."""

    __tablename__ = "lib_assessment_items"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True, index=True)
    item_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0)  # cases accepted in the month
    online: Mapped[int] = mapped_column(Integer, default=0)  # of them, through the online channel
