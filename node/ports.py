"""What the node needs from outside it, as protocols: the federation implements them and plugs in.

Nothing in ``node`` imports ``federation``. A plugin is a module named by an entry point of the
group ``yiwang.plugins`` (``federation.plugin`` is the one this project ships); ``install`` gives
a node context its ports, ``commands`` adds commands to the ``yiwang`` command line. A node with no
plugin (or no federation identity) runs as a hall on its own: no signed log, no owner pulls.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

if TYPE_CHECKING:
    import click

    from node.domain.calendar import WorkingCalendar
    from node.domain.prerequisites import Kind, Verification
    from sqlalchemy.orm import Session, sessionmaker

    from node.persistence.models import Alert, Case
    from node.persistence.uow import UnitOfWork
    from node.services.context import NodeContext


class Signer(Protocol):
    """This node's federation signing identity."""

    @property
    def node_id(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class CaseEventFacts:
    """What a case event adds to the case as it stands (the case itself is passed beside it)."""

    event: str
    occurred_at: datetime
    actor: str
    actor_role: str | None = None
    backfilled: bool = False
    reason: str | None = None
    evaluation_score: int = 0
    extension_days: int = 0
    joint_code: str = ""  # a part's joint case (a joint case: its own code)
    part_no: int = 0  # the part's number in its joint case (0: the joint case itself, or none)


class CaseEventSink(Protocol):
    """Where every case event that matters upward goes: written with the change (same unit of
    work), so a change and its event exist together or not at all."""

    def record(self, uow: "UnitOfWork", case: "Case", facts: CaseEventFacts) -> None:
        """Take the event of ``case`` as it stands now, in ``uow``'s transaction."""

    def seal_queued(self, factory: "sessionmaker[Session]", now: datetime) -> int:
        """Seal what committed units of work left queued (PostgreSQL); returns how many."""


class AlertLog(Protocol):
    """Where an incident's opening and each change of its state go so that the levels above see
    it (the federation: a record in this node's signed log, written in ``uow``'s transaction)."""

    def publish_alert(self, uow: "UnitOfWork", alert: "Alert") -> None:
        """Take ``alert`` as it stands now, in ``uow``'s transaction."""


@dataclass(frozen=True)
class CatalogChangeFields:
    """A standard-catalog change as signed by the province (see ``StandardCatalogSigner``)."""

    publisher: str
    seq: int
    change: str
    item_code: str
    name: str
    legal_limit_days: int
    kind: str
    level: str
    note: str
    key_id: str
    published_at: datetime


class StandardCatalogCodec(Protocol):
    """Signs the province's catalog changes and reads the signed bytes held here."""

    def sign_change(self, seq: int, change: str, item_code: str, name: str, legal_limit_days: int, kind: str,
                    level: str, note: str, now: datetime) -> tuple[bytes, bytes]:
        """Serialize once and sign those bytes: ``(body, signature)``."""

    def parse_change(self, body: bytes) -> CatalogChangeFields:
        """Fields of bytes this node stored (verified when they were received)."""


class OwnerGateway(Protocol):
    """Asks the node that owns a case for its full file (over the federation)."""

    def fetch_case_detail(self, owner: str, code: str, requester: str, purpose: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FetchedMaterial:
    """A material's bytes as the serving node sent them (the caller verifies ``digest``)."""

    data: bytes
    digest: str
    """what the serving node says it verified"""
    filename: str
    file_type: str
    material_code: str
    served_by: str


class MaterialGateway(Protocol):
    """Asks the node that holds a joint case for a material of a part dispatched to this node, by
    digest (``FetchMaterial``). Raises ``LookupError`` when the node cannot be reached or refuses
    (the message says which and why)."""

    def fetch_material(self, origin: str, joint_code: str, part: int, digest: str, requester: str,
                       purpose: str) -> FetchedMaterial: ...


@dataclass(frozen=True)
class SignedCaseEvent:
    """One signed record about a case, as this node's library holds it (verified when received)."""

    record: str
    """``origin#seq``"""
    event: str
    status: str
    occurred_at: datetime | None
    """to the millisecond (what the record carries)"""


class SignedHistory(Protocol):
    """The signed records this node holds about one case, oldest first (so an inspector's case file
    can be compared with what its owner signed at the time)."""

    def case_events(self, session: "Session", origin: str, service_code: str) -> list[SignedCaseEvent]: ...


@dataclass(frozen=True)
class AddressedMessage:
    """An addressed record for this node, verified (origin's signature, directory key rules) and
    its private part opened (``docs/linked-approval.md`` section 1)."""

    origin: str
    seq: int
    to: str
    kind: str
    subject: str
    part: int
    header: dict[str, Any]
    private: dict[str, Any] | None
    reply_to_seq: int
    signed_at: datetime


AddressedHandler = Callable[[Any, AddressedMessage], None]
"""Applies one message of its kind, in the unit of work (the services' ``Work``) that stores the
record (exactly once by (origin, seq)); a ``DomainError`` refuses it: its writes are rolled back, the record is kept as
refused, the origin is told in the ack, and the link goes on."""


class AddressedMessages(Protocol):
    """Records for one given node, carried in this node's signed log (up to the common ancestor,
    then pulled down), applied once at the destination and acknowledged back."""

    def send(self, uow: "UnitOfWork", to: str, kind: str, header: dict[str, Any],
             private: dict[str, Any] | None = None, *, subject: str = "", part: int = 0,
             reply_to: int = 0) -> "SentRecord":
        """Write the record into this node's log with ``uow``'s transaction: checked now, numbered
        and sealed as that transaction commits (the returned handle's ``seq``; ``then`` for what must
        store the number in the same transaction). ``private`` is sealed to the destination (relays
        see ``header`` only). Refused (``InvalidInput`` naming the field) for an unknown or revoked
        destination."""


class SentRecord(Protocol):
    """An addressed record sent in a unit of work (``AddressedMessages.send``)."""

    origin: str
    seq: int | None
    """None until the unit of work commits."""

    def then(self, fn: Callable[[int], None]) -> "SentRecord":
        """Call ``fn(seq)`` once the record is numbered (inside the transaction, before its last flush)."""


class VerificationUnavailable(Exception):
    """The levels above could not be asked (unreachable, refused, too old): nothing can be said
    about the reference, neither valid nor invalid."""


class ResultVerifier(Protocol):
    """Asks the levels above whether a license or a case result (of another node) satisfies a
    prerequisite (前置审批结果验证): the parent answers from its shared library and, if it does not
    hold the reference, asks its own parent. Only the holder's keyed hash travels; the answer is
    the ``Verification`` (valid, reason, and item and validity only when the holder matched).
    Raises ``VerificationUnavailable`` when no answer could be had."""

    def verify(self, kind: "Kind", number: str, holder_hash: str, item_code: str, on: date,
               asked_by: str, hops: int = 3) -> "Verification":
        """``asked_by``: who asks (a staff label here, for the audit above); ``hops``: how many
        levels up the question may still travel."""


class IntegrityScanner(Protocol):
    """The whole-log integrity rules (环节完整性监察) over the signed records this node holds: log
    gaps, accepted cases with no record for more than ``idle_working_days`` working days on
    ``calendar``, children whose log stopped arriving for longer than ``stall`` while they still
    call in. Findings are written in ``uow``'s transaction and raised once (a unique key), so a
    rerun, a restart or a second worker adds nothing; returns how many were new."""

    def scan_logs(self, uow: "UnitOfWork", calendar: "WorkingCalendar", idle_working_days: int,
                  stall: timedelta) -> int: ...


class Plugin(Protocol):
    def install(self, ctx: "NodeContext") -> object:
        """Give ``ctx`` its ports (signer, event sink, catalog codec, owner gateway) where this
        node has what they need (e.g. a federation identity)."""

    def commands(self) -> Sequence["click.Command"]:
        """Commands added to ``yiwang``."""

    def weak_secrets(self, ctx: "NodeContext") -> list[tuple[str, str]]:
        """(what, how to fix it) for each of the plugin's secrets that is missing, a shipped
        placeholder or a demo value: outside demo mode the node refuses to start with them."""
