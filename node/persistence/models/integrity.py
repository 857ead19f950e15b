"""Integrity findings (环节完整性监察) raised on an upper node from the signed records it holds."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime


class IntegrityFinding(Base):
    """One finding, raised once: ``key`` (kind + subject) is unique; ``evidence`` lists the signed
    records it rests on as ``[{"origin", "seq", "hash"}]``."""

    __tablename__ = "integrity_findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(6), index=True)
    detail: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list] = mapped_column(JSON)
    raised_at: Mapped[datetime] = mapped_column(TZDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(TZDateTime())
    review_note: Mapped[str | None] = mapped_column(Text)
    head_seq: Mapped[int | None] = mapped_column(BigInteger)
