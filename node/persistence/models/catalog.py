"""The catalog: items and their published versions, the holiday calendar, the province's
standard-catalog changes."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Audited, Base, TenantScoped, TZDateTime


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
    parts: Mapped[list[Any] | None] = mapped_column(JSON)  # a joint item's parts: [{item_code}]
    decision: Mapped[str | None] = mapped_column(String(20))  # all_must_approve | independent
    fields: Mapped[list[Any] | None] = mapped_column(JSON)  # a bundle's merged form (一表式)
    change_note: Mapped[str] = mapped_column(Text, default="")
    # Prior approvals verified by their result (前置审批结果验证): [{item_code, name}]
    prerequisites: Mapped[list[Any]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime] = mapped_column(TZDateTime())
    published_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    item: Mapped[Item] = relationship(back_populates="versions")


class CalendarYear(Audited, Base):
    """An admin-loaded holiday schedule for one year; overrides the shipped data."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(TZDateTime())


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
