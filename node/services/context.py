"""The node's service context: settings, database, storage, clock and post-commit dispatch."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from federation.envelope import Signer
from node.config import Settings
from node.domain.calendar import WorkingCalendar, parse_schedule, shipped_schedules
from node.domain.lifecycle import Actor
from node.domain.roles import HALL_WIDE, Role
from node.persistence.blobs import BlobStore, LocalBlobStore
from node.persistence.db import make_engine, make_session_factory
from node.persistence.models import CalendarYear, ItemVersion
from node.persistence.uow import UnitOfWork, link_queued

CST = timezone(timedelta(hours=8), "CST")
"""China Standard Time: working days and deadlines are dates in this zone."""


def system_clock() -> datetime:
    return datetime.now(CST)


def as_cst(dt: datetime) -> datetime:
    """Datetimes come back naive from SQLite; they were stored in CST."""
    return dt.replace(tzinfo=CST) if dt.tzinfo is None else dt.astimezone(CST)


@dataclass
class NodeContext:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    store: BlobStore
    clock: Callable[[], datetime] = system_clock
    dispatch_notifications: Callable[[list[int]], None] = lambda ids: None
    link_queued: Callable[[], None] | None = None
    """Seals queued case events and links queued audit entries after a commit (PostgreSQL): the
    server's background linker; None: each unit of work does it itself, right after its commit."""
    signer: Signer | None = None  # set once the node has a federation identity
    id_hash_key: bytes = b""
    _calendar: WorkingCalendar | None = field(default=None, repr=False)
    item_versions: dict[int, ItemVersion] = field(default_factory=dict, repr=False)
    """Published item versions loaded so far (immutable once published), detached, by id."""

    @classmethod
    def build(cls, settings: Settings, **kw: object) -> "NodeContext":
        engine = make_engine(settings.database_url, settings.pool_size)
        return cls(settings, engine, make_session_factory(engine), LocalBlobStore(settings.storage_dir), **kw)  # type: ignore[arg-type]

    def uow(self, actor: Actor | None = None, now: datetime | None = None) -> UnitOfWork:
        tenant = point = None
        label = "public"
        if actor is not None:
            label = actor.label
            if actor.role == Role.AGENT:
                point = actor.service_point_id if actor.service_point_id is not None else -1
            elif actor.role not in HALL_WIDE and actor.department_id is not None:
                tenant = actor.department_id
        return UnitOfWork(self.factory, now or self.clock(), label, tenant, point, self.signer, self.id_hash_key,
                          self.link_queued)

    def link_now(self) -> None:
        """Seal the queued case events, then link the queued audit entries (PostgreSQL)."""
        link_queued(self.factory, self.clock(), self.signer, self.id_hash_key)

    def calendar(self) -> WorkingCalendar:
        """Shipped schedules overridden by any year the admin has loaded into the database."""
        if self._calendar is None:
            years = {s.year: s for s in shipped_schedules()}
            with self.factory() as s:
                for row in s.scalars(select(CalendarYear)):
                    years[row.year] = parse_schedule(row.year, row.data)
            self._calendar = WorkingCalendar(years.values())
        return self._calendar

    def invalidate_calendar(self) -> None:
        self._calendar = None
