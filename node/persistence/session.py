"""The session's back-reference to its unit of work: SQLAlchemy's event listeners (tenancy of
reads, audit capture after a flush) are given only the session."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from .uow import UnitOfWork

UOW = "uow"


def unit_of_work(session: Session) -> "UnitOfWork | None":
    """The unit of work ``session`` belongs to (None for a bare session)."""
    return session.info.get(UOW)
