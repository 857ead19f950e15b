"""Failed attempts at a secret and the locks they set (the lookup's ID tail, staff passwords)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TZDateTime


class AccessLock(Base):
    """Failures counted against one thing a guesser aims at (``scope``: a service code, a user
    name, a client address) since ``window_start``; ``locked_until`` is set when they reach the
    limit. A row of the database, so a lock holds for every worker and across restarts. Failures
    themselves are recorded in the audit chain (``table_name`` ``access_failures``)."""

    __tablename__ = "access_locks"
    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(TZDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(TZDateTime(), index=True)
