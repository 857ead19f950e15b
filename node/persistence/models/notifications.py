"""The notification outbox."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Audited, Base, TZDateTime


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


class NotificationSetting(Audited, Base):
    """The hall admin's choice for one message kind (``notifications.TEMPLATES``): sent or not. A kind
    without a row is sent; the notices the law requires are always sent (``notifications.MANDATORY``)."""

    __tablename__ = "notification_settings"
    template: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))
