"""The node's service context (settings, database, storage, clock, ports) and ``Work``, the unit
of work services receive."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from node.config import Settings
from node.domain import servicecode
from node.domain.calendar import WorkingCalendar, parse_schedule, shipped_schedules
from node.domain.lifecycle import Actor
from node.persistence.audit import chain_queued
from node.persistence.blobs import BlobStore, LocalBlobStore
from node.persistence.cases import joint_links
from node.persistence.db import make_engine, make_session_factory
from node.persistence.models import Case, CalendarYear, ItemVersion, NotificationSetting
from node.persistence.uow import SYSTEM, UnitOfWork
from node.ports import (
    AddressedHandler,
    AddressedMessages,
    AlertLog,
    CaseEventFacts,
    CaseEventSink,
    IntegrityScanner,
    MaterialGateway,
    OwnerGateway,
    ResultVerifier,
    SignedHistory,
    Signer,
    StandardCatalogCodec,
)
from node.services.throttle import Throttle

CST = timezone(timedelta(hours=8), "CST")
"""China Standard Time: working days and deadlines are dates in this zone."""

PUBLIC = Actor("applicant")
T = TypeVar("T")


def system_clock() -> datetime:
    return datetime.now(CST)


def as_cst(dt: datetime) -> datetime:
    """Datetimes come back naive from SQLite; they were stored in CST."""
    return dt.replace(tzinfo=CST) if dt.tzinfo is None else dt.astimezone(CST)


NOTIFICATION_SETTINGS_TTL = 10.0
"""Seconds a process keeps the hall admin's choice of applicant messages (``muted_notifications``)
before reading it again: another process of the node sees a change within this time."""


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
    random_part: Callable[[], str] = servicecode.random_part
    """The random part of new service codes and license numbers."""
    # Ports (``node.ports``), given by a plugin once the node has what they need.
    signer: Signer | None = None
    events: CaseEventSink | None = None
    catalog_codec: StandardCatalogCodec | None = None
    owner_gateway: OwnerGateway | None = None
    material_gateway: MaterialGateway | None = None
    alert_log: AlertLog | None = None
    signed_history: SignedHistory | None = None
    addressed: AddressedMessages | None = None
    addressed_handlers: dict[str, AddressedHandler] = field(default_factory=dict, repr=False)
    """What applies each kind of addressed record at this node (``services.addressed.register``)."""
    result_verifier: ResultVerifier | None = None
    integrity: IntegrityScanner | None = None
    """The periodic integrity rules (``services.integrity.scan_integrity``, beat ``yiwang.scan_integrity``)."""
    id_hash_key: bytes = b""
    _calendar: WorkingCalendar | None = field(default=None, repr=False)
    _throttle: Throttle | None = field(default=None, repr=False)
    item_versions: dict[int, ItemVersion] = field(default_factory=dict, repr=False)
    """Published item versions loaded so far (immutable once published), detached, by id."""
    _muted: tuple[float, frozenset[str]] | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings, **kw: Any) -> "NodeContext":
        """The context with the ports every installed plugin gives it (``node.plugins``)."""
        from node.plugins import install

        engine = make_engine(settings.database_url, settings.pool_size)
        return install(cls(settings, engine, make_session_factory(engine), LocalBlobStore(settings.storage_dir), **kw))

    @property
    def node_id(self) -> str:
        """The federation identity's node id, else the configured one."""
        return self.signer.node_id if self.signer is not None else self.settings.node_id

    def uow(self, actor: Actor | None = None, now: datetime | None = None) -> "Work":
        """A unit of work acting as ``actor`` (None: the public)."""
        return Work(self, actor or PUBLIC, now or self.clock())

    def run(self, actor: Actor | None, use_case: Callable[..., T], *args: Any, **kw: Any) -> T:
        """``use_case(uow, *args, **kw)`` in a unit of work of its own, committed once (what a
        command, a task or a test does)."""
        with self.uow(actor) as uow:
            out = use_case(uow, *args, **kw)
            uow.commit()
            return out

    def link_now(self, seal: bool = True) -> None:
        """Seal the queued case events (unless ``seal`` is false), then link the queued audit
        entries (PostgreSQL)."""
        if seal and self.events is not None:
            self.events.seal_queued(self.factory, self.clock())
        chain_queued(self.factory)

    def _link_after_commit(self, events_queued: bool) -> None:
        """After a commit that queued something: wake the process's linker if it has one (the web
        process), else link at once -- sealing case events only if this commit queued some. A
        worker's task that queued only audit entries (a delivered notification) then leaves the
        sealing of other processes' events to their own linkers, which batch them, instead of taking
        the head of the log from them in small batches after every task."""
        if self.link_queued is not None:
            self.link_queued()
        else:
            self.link_now(seal=events_queued)

    def muted_notifications(self, session: Session) -> frozenset[str]:
        """The message kinds the hall admin turned off (``notifications.set_notification``), read
        through ``session`` and kept ``NOTIFICATION_SETTINGS_TTL`` seconds."""
        now = time.monotonic()
        if self._muted is None or now - self._muted[0] > NOTIFICATION_SETTINGS_TTL:
            off = frozenset(session.scalars(select(NotificationSetting.template)
                                            .where(NotificationSetting.enabled.is_(False))))
            self._muted = (now, off)
        return self._muted[1]

    def forget_muted_notifications(self) -> None:
        self._muted = None

    def calendar(self, session: Session | None = None) -> WorkingCalendar:
        """Shipped schedules overridden by any year the admin has loaded into the database (read
        through ``session`` when given: inside a unit of work, SQLite's one writer is that unit)."""
        if self._calendar is None:
            years = {s.year: s for s in shipped_schedules()}
            if session is not None:
                rows = list(session.scalars(select(CalendarYear)))
            else:
                with self.factory() as s:
                    rows = list(s.scalars(select(CalendarYear)))
            for row in rows:
                years[row.year] = parse_schedule(row.year, row.data)
            self._calendar = WorkingCalendar(years.values())
        return self._calendar

    @property
    def throttle(self) -> Throttle:
        """The rate limits of the public lookup and of sign-in (``node.services.throttle``)."""
        if self._throttle is None:
            self._throttle = Throttle.from_settings(self.settings)
        return self._throttle

    def invalidate_calendar(self) -> None:
        self._calendar = None


class Work(UnitOfWork):
    """The unit of work of a use case at this node: services receive it (its ``ctx`` gives them
    the calendar, settings, storage and ports) and never begin or commit."""

    session: Session

    def __init__(self, ctx: NodeContext, actor: Actor, now: datetime) -> None:
        super().__init__(ctx.factory, now, actor, link=ctx._link_after_commit)
        self.ctx = ctx
        self._joint_links: dict[int, tuple[str, int]] = {}  # a part's (joint code, part no): it never changes

    def __enter__(self) -> "Work":
        super().__enter__()
        return self

    def calendar(self) -> WorkingCalendar:
        return self.ctx.calendar(self.session)

    @property
    def logs_events(self) -> bool:
        return self.ctx.events is not None

    def note_joint_link(self, part: Case, joint_code: str, part_no: int) -> None:
        """A part just spawned here: the joint code and number its signed events carry (no query)."""
        self._joint_links[part.id] = (joint_code, part_no)

    def case_event(self, case: Case, event: str, **facts: Any) -> None:
        """Hand the case event to the federation's sink (when the node has one), in this transaction."""
        if self.ctx.events is not None:
            link = self._joint_links.get(case.id) if case.id is not None else None
            if link is None:
                link = joint_links(self.session, case)
                if case.id is not None and case.joint_case_id is not None:
                    self._joint_links[case.id] = link
            facts["joint_code"], facts["part_no"] = link
            self.ctx.events.record(self, case, CaseEventFacts(event, facts.pop("occurred_at", self.now),
                                                              facts.pop("actor", self.actor.label), **facts))


__all__ = ["CST", "NodeContext", "PUBLIC", "SYSTEM", "Work", "as_cst", "system_clock"]
