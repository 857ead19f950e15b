"""Supervision (电子监察): the library's record history and the escalations sent for own cases."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime


class LibEvent(Base):
    """Every applied CaseEvent record of the library (its history beside ``lib_cases``' latest
    state). On PostgreSQL partitioned by month of ``at`` (migration 0021 creates the default
    partition; ``federation.library`` adds monthly ones as records need them)."""

    __tablename__ = "lib_events"
    __table_args__ = (
        Index("ix_lib_events_service_code", "service_code", "at"),
        Index("ix_lib_events_joint_code", "joint_code", "at"),
        {"postgresql_partition_by": "RANGE (at)"},
    )
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(TZDateTime(), primary_key=True)  # the event's time (partition key)
    service_code: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    stage_index: Mapped[int] = mapped_column(SmallInteger)
    stage_kind: Mapped[str] = mapped_column(String(20))
    stage_name: Mapped[str] = mapped_column(String(50))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    item_code: Mapped[str] = mapped_column(String(40))
    department_code: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(10))
    legal_deadline: Mapped[date | None] = mapped_column(Date)
    promised_deadline: Mapped[date | None] = mapped_column(Date)
    stage_deadline: Mapped[date | None] = mapped_column(Date)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str | None] = mapped_column(String(10))
    joint_code: Mapped[str | None] = mapped_column(String(32))
    part_no: Mapped[int | None] = mapped_column(Integer)
    record_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(TZDateTime())


class LibCount(Base):
    """The library's cases per (origin, stage kind, light): what ``GET /supervision/counts`` sums.
    Kept by ``federation.library.apply_records`` and ``services.supervision.refresh_lights`` in
    the transaction that moves a case's row (migration 0026); a case without a light is in none."""

    __tablename__ = "lib_counts"
    origin: Mapped[str] = mapped_column(String(6), primary_key=True)
    stage_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    light: Mapped[str] = mapped_column(String(8), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class Escalation(Base):
    """One escalation of an own case's stage: ``warning`` (预警, to the handler), ``yellow``
    (黄牌, to the department's chief) or ``red`` (红牌, to the inspectors). The unique key
    (case, stage, level) makes each one happen once, whoever runs the job and whenever."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("case_id", "stage_index", "level"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(Integer, index=True)
    stage_index: Mapped[int] = mapped_column(Integer)  # -1: the case's own limit (not at a stage)
    level: Mapped[str] = mapped_column(String(10))
    deadline: Mapped[date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer)  # notification rows written
    created_at: Mapped[datetime] = mapped_column(TZDateTime())
