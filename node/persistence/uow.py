"""The unit of work: one transaction per use case, audit chain appended at commit, side effects
(task enqueues) run only after the commit succeeded."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from .audit import QUEUED, append_pending, chain_queued

FED_QUEUED = "fed_queued"  # federation.log.QUEUED (that package imports this one)

log = logging.getLogger("yiwang.audit")


class UnitOfWork:
    def __init__(
        self,
        factory: sessionmaker[Session],
        now: datetime,
        actor: str = "system",
        tenant: int | None = None,
        service_point: int | None = None,
        signer: object | None = None,
        id_key: bytes = b"",
        link_queued: Callable[[], None] | None = None,
    ) -> None:
        self._factory = factory
        self.now = now
        self._info = {"now": now, "actor": actor, "tenant": tenant, "service_point": service_point,
                      "fed_signer": signer, "fed_id_key": id_key}
        self._signer, self._id_key = signer, id_key
        self._after: list[Callable[[], None]] = []
        self._link_queued = link_queued
        self._done = False

    def __enter__(self) -> "UnitOfWork":
        self.session = self._factory()
        self.session.info.update(self._info)
        return self

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after.append(fn)

    def commit(self) -> None:
        if self.session.info.get("fed_pending"):
            from federation.log import append_pending as append_records

            append_records(self.session)
        self.session.flush()
        append_pending(self.session, commit=True)  # PostgreSQL: the last statement and COMMIT together
        self.session.commit()
        self._done = True
        if self.session.info.get(QUEUED) or self.session.info.get(FED_QUEUED):
            self._link()
        for fn in self._after:
            fn()

    def _link(self) -> None:
        """Have what this commit queued (PostgreSQL: case events for the signed log, entries for
        the audit chain) sealed and linked: by the node's background linker if it runs one, else
        here and now. A failure leaves them queued (committed) for the next linker; the change
        itself is committed either way."""
        try:
            if self._link_queued is not None:
                self._link_queued()
            else:
                link_queued(self._factory, self.now, self._signer, self._id_key)
        except Exception:
            log.warning("queued federation events / audit entries stay queued for the next linker", exc_info=True)

    def __exit__(self, exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        if exc_type is not None and not self._done:
            self.session.rollback()
        self.session.close()  # ends any open transaction without expiring what was read


def link_queued(factory: sessionmaker[Session], now: datetime, signer: object | None = None, id_key: bytes = b"") -> None:
    """Seal the queued case events (when the node signs), then link the queued audit entries
    (PostgreSQL; nothing is queued elsewhere)."""
    from federation.log import seal_queued

    if signer is not None:
        seal_queued(lambda: UnitOfWork(factory, now, "system", signer=signer, id_key=id_key, link_queued=lambda: None))
    chain_queued(factory)
