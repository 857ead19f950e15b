"""The unit of work: one transaction per use case.

Whoever starts a use case — a request, a CLI command, a Celery task, a federation apply — opens
one ``UnitOfWork`` and commits it once; services receive it and never begin or commit, so use
cases compose into one transaction (all of it or none of it). Collaborators that must write with
the change or act after it register a typed ``CommitHook`` on the unit of work (the federation's
case-event sink does); the audit chain is the unit of work's own last write. Side effects
(``after_commit``) run only once the commit succeeded.

The session carries one back-reference to its unit of work (``session.info[UOW]``): SQLAlchemy's
event listeners (tenant scoping of reads, audit capture after each flush) are given only the
session.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from node.domain.lifecycle import Actor
from node.domain.policy import read_scope

from .audit import AuditBuffer, append_pending
from .session import UOW, links_after_commit, unit_of_work

SYSTEM = Actor("system")

log = logging.getLogger("yiwang.uow")


class CommitHook(Protocol):
    """A collaborator of one unit of work (registered with ``UnitOfWork.hook``)."""

    def before_commit(self, uow: "UnitOfWork") -> None:
        """Last writes inside the transaction (after the services' work, before the audit append)."""

    def after_commit(self, uow: "UnitOfWork") -> None:
        """The transaction is durable."""


H = TypeVar("H", bound=CommitHook)


class UnitOfWork:
    def __init__(self, factory: sessionmaker[Session], now: datetime, actor: Actor = SYSTEM, *,
                 link: Callable[[], None] | None = None) -> None:
        self._factory = factory
        self.now = now
        self.actor = actor
        self.audit_actor = actor.label
        """Who the audit chain names (a federation read names the asking node instead)."""
        self.tenant, self.service_point = read_scope(actor)
        self.audit = AuditBuffer()
        self.link_needed = False
        """Set when something was queued for linking after the commit (PostgreSQL)."""
        self._link = link
        self._hooks: dict[object, CommitHook] = {}
        self._after: list[Callable[[], None]] = []
        self._done = False

    @property
    def links_after_commit(self) -> bool:
        """PostgreSQL: the audit entries and case events of this unit of work are queued with it
        and linked after its commit (``session.links_after_commit``)."""
        return links_after_commit(self._factory.kw["bind"])

    def __enter__(self) -> "UnitOfWork":
        self.session = self._factory()
        self.session.info[UOW] = self
        return self

    def hook(self, key: object, make: Callable[[], H]) -> H:
        """The collaborator registered under ``key``, made (and registered) on first use; hooks run
        in the order they were registered."""
        h = self._hooks.get(key)
        if h is None:
            h = self._hooks[key] = make()
        return h  # type: ignore[return-value]

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after.append(fn)

    def commit(self) -> None:
        """Commit once: the hooks' last writes, the audit append (on PostgreSQL sent with the
        COMMIT), then the linking of what was queued and the side effects."""
        if self._done:
            raise RuntimeError("a unit of work commits once")
        for h in list(self._hooks.values()):
            h.before_commit(self)
        self.session.flush()
        append_pending(self, commit=True)
        self.session.commit()
        self._done = True
        if self.link_needed and self._link is not None:
            try:
                self._link()
            except Exception:
                log.warning("queued federation events / audit entries stay queued for the next linker", exc_info=True)
        for h in list(self._hooks.values()):
            h.after_commit(self)
        for fn in self._after:
            fn()

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        if exc_type is not None and not self._done:
            self.session.rollback()
        # Ends any open transaction (a unit of work left without commit writes nothing) without
        # expiring what was read: what a read-only use case returns stays readable.
        self.session.close()


__all__ = ["SYSTEM", "UOW", "AuditBuffer", "CommitHook", "UnitOfWork", "unit_of_work"]
