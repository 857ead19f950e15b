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
from contextlib import contextmanager
from datetime import datetime
from typing import Callable, Iterator, Protocol, TypeVar

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
                 link: Callable[[bool], None] | None = None) -> None:
        self._factory = factory
        self.now = now
        self.actor = actor
        self.audit_actor = actor.label
        """Who the audit chain names (a federation read names the asking node instead)."""
        self.tenant, self.service_point = read_scope(actor)
        self.audit = AuditBuffer()
        self.link_needed = False
        """Set when something was queued for linking after the commit (PostgreSQL)."""
        self.events_queued = False
        """Set when what was queued includes case events to seal (not only audit entries)."""
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

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of this unit of work that can fail alone (SAVEPOINT): if the block raises, its
        writes are rolled back -- rows, audit entries captured from its flushes, side effects and
        hooks' pending writes (a hook with ``mark``/``rewind``) -- and the exception propagates; the
        rest of the unit of work goes on. (An addressed record refused by its handler: the record
        stays stored as refused, the handler's half-done change does not.)"""
        a = self.audit
        marks = (len(a.entries), len(a.rows), len(a.with_commit), len(self._after))
        known = {k: (h.mark() if hasattr(h, "mark") else None) for k, h in self._hooks.items()}
        sp = self.session.begin_nested()
        try:
            yield
            self.session.flush()
        except BaseException:
            sp.rollback()
            del a.entries[marks[0]:], a.rows[marks[1]:], a.with_commit[marks[2]:], self._after[marks[3]:]
            for k in [k for k in self._hooks if k not in known]:
                del self._hooks[k]
            for k, m in known.items():
                if m is not None:
                    self._hooks[k].rewind(m)  # type: ignore[attr-defined]
            raise
        sp.commit()

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
                self._link(self.events_queued)
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
