"""The declarative base, its naming convention, the shared column type and the row mixins."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, MetaData
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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
