"""The session's back-reference to its unit of work: SQLAlchemy's event listeners (tenancy of
reads, audit capture after a flush) are given only the session."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from .uow import UnitOfWork

UOW = "uow"


def links_after_commit(bind: Engine | Connection) -> bool:
    """Whether this database has what a commit writes to the audit chain and the signed log
    queued with the change and linked right after the commit (PostgreSQL: many writers, so no
    transaction holds a chain head), rather than chained inside the transaction (SQLite: one
    writer). The one place that decides it."""
    return bind.dialect.name == "postgresql"


def unit_of_work(session: Session) -> "UnitOfWork | None":
    """The unit of work ``session`` belongs to (None for a bare session)."""
    return session.info.get(UOW)
