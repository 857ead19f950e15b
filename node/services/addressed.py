"""Addressed records as the node's services see them: send one to another node (in the caller's
unit of work, through the ``AddressedMessages`` port), register what applies each kind here, and
read where what was sent stands. The transport -- signing, routing, sealing, exactly-once and the
ack -- is the federation's (``federation.addressed``)."""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from node.domain.errors import DomainError, InvalidInput
from node.persistence.models import FedAddressed
from node.ports import AddressedHandler, AddressedMessage, SentRecord
from node.services.context import NodeContext, Work

KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED = {"ack"}


class NotAddressedHere(DomainError):
    """A record this node has nothing to apply it with (not for it, or a kind it does not know)."""

    def __init__(self, message: str, code: str = "not_addressed_here") -> None:
        super().__init__(message, "kind")
        self.code = code


def register(ctx: NodeContext, kind: str, handler: AddressedHandler) -> None:
    """``handler`` applies the records of ``kind`` addressed to this node (one per kind)."""
    if not KIND.match(kind) or kind in RESERVED:
        raise ValueError(f"kind: {kind!r} is not a kind a handler may take (lowercase, at most 40; not 'ack')")
    if ctx.addressed_handlers.get(kind) not in (None, handler):
        raise ValueError(f"kind: {kind!r} already has a handler")
    ctx.addressed_handlers[kind] = handler


def send_message(uow: Work, to: str, kind: str, header: dict[str, Any], private: dict[str, Any] | None = None, *,
                 subject: str = "", part: int = 0, reply_to: int = 0) -> SentRecord:
    """Send one addressed record (written with the caller's change or not at all; numbered as the
    unit of work commits)."""
    port = uow.ctx.addressed
    if port is None:
        raise InvalidInput("this node has no federation identity: it cannot address another node", "to")
    if not KIND.match(kind or "") or kind in RESERVED:
        raise InvalidInput(f"kind: {kind!r} is not a kind of addressed record (lowercase letters, digits, _; "
                           "at most 40; 'ack' is the transport's)", "kind")
    return port.send(uow, to, kind, header, private, subject=subject, part=part, reply_to=reply_to)


def deliver(uow: Work, message: AddressedMessage) -> None:
    """Apply ``message`` with its kind's handler (the transport calls this once per record)."""
    if message.to != uow.ctx.node_id:
        raise NotAddressedHere(f"{message.origin}#{message.seq} is addressed to {message.to}, not to "
                               f"{uow.ctx.node_id}")
    handler = uow.ctx.addressed_handlers.get(message.kind)
    if handler is None:
        raise NotAddressedHere(f"{uow.ctx.node_id} applies no records of kind {message.kind!r}", "unknown_kind")
    handler(uow, message)


def refusal_code(e: DomainError) -> str:
    """The code a refusal is recorded (and acknowledged) with."""
    code = getattr(e, "code", None) or e.extra.get("code")
    return str(code) if code else re.sub(r"(?<!^)(?=[A-Z])", "_", type(e).__name__).lower()


def message_state(uow: Work, origin: str, seq: int) -> dict[str, Any] | None:
    """Where one addressed record sent or received here stands."""
    row = uow.session.get(FedAddressed, (origin, seq))
    return None if row is None else _view(row)


def sent_messages(uow: Work, *, pending_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    q = select(FedAddressed).where(FedAddressed.direction == "out")
    if pending_only:
        q = q.where(FedAddressed.state == "sent")
    return [_view(r) for r in uow.session.scalars(q.order_by(FedAddressed.seq.desc()).limit(limit))]


def _view(r: FedAddressed) -> dict[str, Any]:
    return {"origin": r.origin, "seq": r.seq, "direction": r.direction, "to": r.dest, "kind": r.kind,
            "subject": r.subject, "reply_to_seq": r.reply_to_seq, "state": r.state, "code": r.code,
            "detail": r.detail, "ack_seq": r.ack_seq, "created_at": r.created_at.isoformat(),
            "settled_at": r.settled_at.isoformat() if r.settled_at else None}


NOTICE = "notice"
MAX_NOTICE = 500


def send_notice(uow: Work, to: str, text: str, private_text: str | None = None) -> SentRecord:
    """An administrator's notice to another node (``yiwang federation notice``): the text is what
    relays may read; ``private_text`` is sealed to the destination."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTICE:
        raise InvalidInput(f"text: 1 to {MAX_NOTICE} characters", "text")
    private = {"text": private_text} if private_text else None
    return send_message(uow, to, NOTICE, {"text": text.strip()}, private, subject="notice")


def receive_notice(uow: Work, message: AddressedMessage) -> None:
    """A notice from another node becomes an incident here (kind ``notice``), for its admins."""
    from node.services.alerts import raise_incident

    text = message.header.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTICE:
        raise InvalidInput(f"text: a notice carries 1 to {MAX_NOTICE} characters", "text", code="bad_notice")
    raise_incident(uow, kind=NOTICE, origin=message.origin, detail=text,
                   proof={"record": f"{message.origin}#{message.seq}", "private": message.private or {}},
                   subject=f"{message.origin}#{message.seq}")


def install_builtin(ctx: NodeContext) -> None:
    """The kinds every node applies (more come with the services that use them)."""
    register(ctx, NOTICE, receive_notice)
