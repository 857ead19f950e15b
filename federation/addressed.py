"""Addressed records: records of the origin's own signed log that name one destination node
(``docs/linked-approval.md`` section 1), as the node's ``AddressedMessages`` port.

- **Sending** seals an ``Addressed`` entry into this node's log in the caller's unit of work, as
  it commits (``_Outbox``: the head locked only for the commit's last statements, numbered, signed;
  the caller gets the number through ``Outgoing.then``), with the private part HPKE-sealed to the
  destination's X25519 key from the signed directory (``federation.sealing``). An unknown or
  revoked destination is refused then, naming the field.
- **Routing.** Up, the record rides the origin's log as any record does. A node that stores an
  addressed record whose destination is strictly below it -- and that the child towards the
  destination does not hold already (its origin is outside that child's subtree) -- indexes it in
  ``fed_down``; the child pulls the rows for its subtree (``PullAddressed``) after its down-cursor,
  verbatim, over the link it already opens. So a sibling's record goes up to the common ancestor and
  down from there; nothing above the common ancestor is involved.
- **Sparse storage.** A pulled record's origin lies outside the puller's subtree, so the puller
  holds none of that origin's chain: the record is stored in ``fed_records`` under its origin with
  no head (the uplink and the self-check go by heads, so it is never pushed back up) and checked by
  the origin's signature against the directory (the revoked-key ``last_seq`` rule included). It is
  not checked by an inclusion proof against an origin-signed checkpoint: checkpoints go only from a
  child to its parent, so the node that relays a record down holds none of the origin's
  checkpoints when the origin is outside its own subtree (see the design page's "Built" note).
- **Applying** at the destination happens once by (origin, seq) -- ``fed_addressed`` holds the
  receipt -- in the unit of work that stores the record: the kind's handler runs in a savepoint; a
  domain error refuses the record (its writes rolled back, kept as refused, an alert raised) and the
  link goes on. Either way an ``ack`` addressed back to the origin is sealed in the same unit of
  work, saying applied or refused; the origin marks what it sent acked (or refused) when it arrives.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import func, select, text

from federation import sealing
from federation.codec import canonical_json, parse_json
from federation.directory import Directory
from federation.envelope import Parsed, RecordRejected, Signer, parse
from federation.identity import Identity, cached_directory
from federation.merkle import leaf_hash
from federation.pb.v1 import federation_pb2 as pb
from node.domain.errors import DomainError, InvalidInput
from node.persistence.models import FedAddressed, FedDown, FedDownCursor, FedRecord
from node.persistence.uow import UnitOfWork
from node.ports import AddressedMessage

CST = timezone(timedelta(hours=8), "CST")
NODE = re.compile(r"^\d{6}$")
MAX_HEADER = 16 * 1024
MAX_PRIVATE = 40 * 1024  # a record body is at most 64 KiB
ACK = "ack"


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class DirectorySource:
    """The cached signed directory, re-read when its file changes."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self._dir: Directory | None = None
        self._mtime = 0.0

    def __call__(self) -> Directory:
        p = self.identity.directory_path
        m = p.stat().st_mtime if p.exists() else 0.0
        if self._dir is None or m != self._mtime:
            d = cached_directory(self.identity)
            if d is None:
                raise InvalidInput(f"{self.identity.node_id} has no node directory yet", "to")
            self._dir, self._mtime = d, m
        return self._dir


def in_subtree(d: Directory, top: str, node: str) -> bool:
    return node == top or d.is_ancestor(top, node)


def child_towards(d: Directory, me: str, dest: str) -> str | None:
    """The child of ``me`` whose subtree holds ``dest`` (None if ``dest`` is not strictly below)."""
    n = d.node(dest)
    seen: set[str] = set()
    while n is not None and n.node_id not in seen:
        seen.add(n.node_id)
        if n.parent_id == me:
            return n.node_id
        n = d.node(n.parent_id) if n.parent_id else None
    return None


@dataclass
class DownResult:
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    after: int = 0


class AddressedLog:
    """``node.ports.AddressedMessages`` over this node's signed log."""

    def __init__(self, signer: Signer, identity: Identity | None,
                 directory: Callable[[], Directory] | None = None) -> None:
        self.signer = signer
        self.identity = identity
        if directory is None:
            if identity is None:
                raise ValueError("an addressed log needs the node directory (or an identity to read it from)")
            directory = DirectorySource(identity)
        self.directory = directory

    @property
    def node_id(self) -> str:
        return self.signer.node_id

    # --- sending ------------------------------------------------------------------------------
    def send(self, uow: UnitOfWork, to: str, kind: str, header: dict[str, Any],
             private: dict[str, Any] | None = None, *, subject: str = "", part: int = 0,
             reply_to: int = 0) -> Outgoing:
        me = self.node_id
        if not isinstance(to, str) or not NODE.match(to):
            raise InvalidInput(f"to: {to!r} is not a node id (six digits)", "to")
        if to == me:
            raise InvalidInput(f"to: {to} is this node; a node does not address itself", "to")
        d = self.directory()
        node = d.node(to)
        if node is None:
            raise InvalidInput(f"to: {to} is not a node of the directory (version {d.version})", "to")
        if node.revoked_at is not None:
            raise InvalidInput(f"to: {to} was revoked at {node.revoked_at.isoformat()}; nothing is sent to it", "to")
        if not isinstance(header, dict):
            raise InvalidInput("header: a JSON object", "header")
        if not isinstance(subject, str) or len(subject) > 64:
            raise InvalidInput("subject: at most 64 characters", "subject")
        if not isinstance(part, int) or not 0 <= part < 2 ** 32 or not isinstance(reply_to, int) or reply_to < 0:
            raise InvalidInput("part / reply_to: non-negative integers", "part")
        header_json = _json(header, "header", MAX_HEADER)
        msg = pb.Addressed(to=to, kind=kind, joint_code=subject, part=part, header_json=header_json,
                           reply_to_seq=reply_to)
        if private is not None:
            if not isinstance(private, dict):
                raise InvalidInput("private: a JSON object", "private")
            key = node.enc_key
            if key is None:
                raise InvalidInput(f"to: {to} has published no encryption key in the directory, so nothing private "
                                   "can be sealed to it (it gets one on its next start and publishes it when it "
                                   "re-enrolls)", "to")
            enc, sealed = sealing.seal(key, _json(private, "private", MAX_PRIVATE), header_json,
                                       sealing.info(me, to, kind))
            msg.enc, msg.sealed, msg.enc_key_id = enc, sealed, key.key_id
        return self._outgoing(uow, msg)

    def _outgoing(self, uow: UnitOfWork, msg: pb.Addressed, state: str = "sent") -> Outgoing:
        """Queue ``msg`` to be sealed when ``uow`` commits (``_Outbox``): the head of this node's
        log is locked only for the commit's last statements, not across the rest of the request or
        of a batch being applied (every other writer of this log waits while it is held)."""
        out = Outgoing(self.node_id, msg, state)
        box = uow.hook((_Outbox, self.node_id), lambda: _Outbox(self))
        if box.closed:  # sent by a collaborator's own last writes, after the outbox was sealed
            self._seal_all(uow, [out])
        else:
            box.items.append(out)
        return out

    def _seal_all(self, uow: UnitOfWork, items: list[Outgoing]) -> None:
        from federation.log import _lock_head, _seal

        s = uow.session
        recs = _seal(uow, self.signer, [(_ms(uow.now), o.msg) for o in items], _lock_head(s, self.node_id))
        d = self.directory()
        for o, rec in zip(items, recs, strict=True):
            msg = o.msg
            s.add(FedAddressed(origin=rec.origin, seq=rec.seq, direction="out", dest=msg.to, kind=msg.kind,
                               subject=msg.joint_code, reply_to_seq=msg.reply_to_seq, state=o.state,
                               created_at=uow.now, settled_at=uow.now if o.state != "sent" else None))
            if child_towards(d, self.node_id, msg.to) is not None:
                lock_down_index(uow, self.node_id)
                s.add(FedDown(dest=msg.to, origin=rec.origin, seq=rec.seq, stored_at=uow.now))
        s.flush()
        for o, rec in zip(items, recs, strict=True):
            o.seq = rec.seq
            for fn in o.on_seq:
                fn(rec.seq)

    # --- receiving ----------------------------------------------------------------------------
    def on_stored(self, uow: UnitOfWork, records: Iterable[Parsed], peer: str | None = None) -> int:
        """Records just stored here (a child's batch, or pulled from the parent): index those for
        below, apply those for this node. Returns how many were for this node."""
        me, n, d = self.node_id, 0, None
        for rec in records:
            if rec.msg.WhichOneof("entry") != "addressed":
                continue
            d = d or self.directory()
            to = rec.msg.addressed.to
            if to == me:
                self._apply(uow, rec, peer)
                n += 1
                continue
            child = child_towards(d, me, to)
            if child is not None and not in_subtree(d, child, rec.origin):
                exists = uow.session.scalar(select(FedDown.id).where(FedDown.origin == rec.origin,
                                                                     FedDown.seq == rec.seq))
                if exists is None:
                    lock_down_index(uow, me)
                    uow.session.add(FedDown(dest=to, origin=rec.origin, seq=rec.seq, stored_at=uow.now))
        uow.session.flush()
        return n

    def _apply(self, uow: UnitOfWork, rec: Parsed, peer: str | None) -> None:
        from node.services.addressed import deliver, refusal_code

        s = uow.session
        if s.get(FedAddressed, (rec.origin, rec.seq)) is not None:
            return  # applied (or refused) already: exactly once by (origin, seq)
        a = rec.msg.addressed
        state, code, detail = "applied", None, None
        try:
            header = parse_json(a.header_json) if a.header_json else {}
            if not isinstance(header, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            header, state, code, detail = {}, "refused", "malformed", f"header: {e}"
        if a.kind == ACK:
            self._take_ack(uow, rec, header, peer)
            return
        private = None
        if state == "applied" and (a.sealed or a.enc):
            try:
                if self.identity is None:
                    raise sealing.SealError("this node holds no X25519 key")
                raw = sealing.open_sealed(self.identity.enc_private(a.enc_key_id), a.enc, a.sealed, a.header_json,
                                          sealing.info(rec.origin, a.to, a.kind))
                private = parse_json(raw)
            except (sealing.SealError, LookupError, ValueError) as e:
                state, code, detail = "refused", "unreadable", str(e)
        if state == "applied":
            message = AddressedMessage(rec.origin, rec.seq, a.to, a.kind, a.joint_code, a.part, header, private,
                                       a.reply_to_seq, datetime.fromtimestamp(rec.msg.created_at_ms / 1000, CST))
            try:
                with uow.savepoint():
                    deliver(uow, message)  # type: ignore[arg-type]
            except DomainError as e:
                state, code, detail = "refused", refusal_code(e), e.message
        receipt = FedAddressed(origin=rec.origin, seq=rec.seq, direction="in", dest=a.to, kind=a.kind,
                               subject=a.joint_code, reply_to_seq=a.reply_to_seq, state=state, code=code,
                               detail=detail, created_at=uow.now, settled_at=uow.now)
        s.add(receipt)
        if state == "refused":
            self._alert(uow, code or "refused", rec, detail or "", peer)
        body: dict[str, Any] = {"result": state}
        if code:
            body.update(code=code, detail=(detail or "")[:500])
        ack = self._outgoing(uow, pb.Addressed(to=rec.origin, kind=ACK, joint_code=a.joint_code, part=a.part,
                                               header_json=canonical_json(body), reply_to_seq=rec.seq), state="done")
        ack.then(lambda seq: setattr(receipt, "ack_seq", seq))

    def _take_ack(self, uow: UnitOfWork, rec: Parsed, header: dict[str, Any], peer: str | None) -> None:
        s, a = uow.session, rec.msg.addressed
        sent = s.get(FedAddressed, (self.node_id, a.reply_to_seq))
        ok = sent is not None and sent.direction == "out" and sent.dest == rec.origin and sent.kind != ACK
        if ok and sent is not None and sent.state == "sent":
            refused = header.get("result") == "refused"
            sent.state = "refused" if refused else "acked"
            sent.code = str(header.get("code"))[:40] if refused else None
            sent.detail = str(header.get("detail"))[:500] if refused else None
            sent.ack_seq, sent.settled_at = rec.seq, uow.now
        s.add(FedAddressed(origin=rec.origin, seq=rec.seq, direction="in", dest=a.to, kind=ACK, subject=a.joint_code,
                           reply_to_seq=a.reply_to_seq, state="applied" if ok else "refused",
                           code=None if ok else "unknown_reply", created_at=uow.now, settled_at=uow.now))
        if not ok:
            self._alert(uow, "unknown_reply", rec, f"{rec.origin}#{rec.seq} acknowledges #{a.reply_to_seq}, which "
                        f"{self.node_id} did not send to {rec.origin}", peer)

    def _alert(self, uow: UnitOfWork, code: str, rec: Parsed, detail: str, peer: str | None) -> None:
        from federation.inbox import record_alert

        record_alert(uow.session, rec.origin, code[:30], f"addressed record {rec.origin}#{rec.seq} refused: {detail}",
                     {"origin": rec.origin, "seq": rec.seq, "kind": rec.msg.addressed.kind}, peer, uow.now,
                     raised_by=self.node_id, subject=f"{rec.origin}#{rec.seq}")

    # --- the pull from the parent -------------------------------------------------------------
    def key_for(self, origin: str, key_id: str, at: datetime, seq: int | None = None) -> bytes | None:
        return self.directory().key_for(origin, key_id, at, seq)

    def down_cursor(self, uow: UnitOfWork, parent: str) -> int:
        row = uow.session.get(FedDownCursor, parent)
        return row.after_id if row is not None else 0

    def down_state(self, uow: UnitOfWork, parent: str) -> tuple[int, str]:
        row = uow.session.get(FedDownCursor, parent)
        return (row.after_id, row.state) if row is not None else (0, "ok")

    def note_parent(self, uow: UnitOfWork, parent: str, state: str) -> None:
        row = uow.session.get(FedDownCursor, parent)
        if row is None:
            uow.session.add(FedDownCursor(peer=parent, after_id=0, state=state, updated_at=uow.now))
        elif row.state != state:
            row.state, row.updated_at = state, uow.now

    def apply_down(self, uow: UnitOfWork, parent: str, rows: list[tuple[int, bytes, bytes]]) -> DownResult:
        """Records pulled from ``parent`` (arrival id, body, signature): verified, stored (sparse),
        indexed or applied, and the down-cursor advanced -- all in ``uow``. A record that fails is
        refused alone (an alert), the rest go on."""
        from federation.inbox import _check_sig

        s, me, d = uow.session, self.node_id, self.directory()
        out = DownResult(after=self.down_cursor(uow, parent))
        fresh: list[Parsed] = []
        cache: dict[bytes, Any] = {}
        for arrival, body, sig in rows:
            out.after = max(out.after, arrival)
            rec: Parsed | None = None
            try:
                rec = parse(body, sig)
                _check_sig(rec, self.key_for, cache)
                if rec.msg.WhichOneof("entry") != "addressed":
                    raise RecordRejected("malformed", f"{rec.origin}#{rec.seq} is not an addressed record", rec.origin,
                                         rec.seq)
                to = rec.msg.addressed.to
                if not in_subtree(d, me, to):
                    raise RecordRejected("wrong_origin", f"{rec.origin}#{rec.seq} is addressed to {to}, outside "
                                         f"{me}'s subtree", rec.origin, rec.seq)
                stored = s.get(FedRecord, (rec.origin, rec.seq))
                if stored is not None:
                    if bytes(stored.body) != rec.body:
                        raise RecordRejected("fork", f"{rec.origin} signed two different records #{rec.seq}",
                                             rec.origin, rec.seq)
                    out.duplicates += 1
                    continue
                if in_subtree(d, me, rec.origin):  # our own subtree's records come up our own chain
                    out.duplicates += 1
                    continue
                s.add(FedRecord(origin=rec.origin, seq=rec.seq, body=rec.body, signature=rec.signature,
                                hash=rec.hash.hex(), leaf=leaf_hash(rec.body).hex(), key_id=rec.msg.key_id,
                                received_from=parent, stored_at=uow.now))
                s.flush()
                fresh.append(rec)
                out.stored += 1
            except RecordRejected as e:
                out.refused += 1
                from federation.inbox import record_alert

                origin = e.origin or (rec.origin if rec is not None else parent)
                record_alert(s, origin, e.code, f"addressed record from {parent} refused: {e}",
                             {"arrival": arrival}, parent, uow.now, raised_by=me,
                             subject=f"{e.origin}#{e.seq}" if e.seq else f"down#{arrival}")
        self.on_stored(uow, fresh, parent)
        row = s.get(FedDownCursor, parent)
        if row is None:
            s.add(FedDownCursor(peer=parent, after_id=out.after, state="ok", updated_at=uow.now))
        else:
            row.after_id, row.state, row.updated_at = out.after, "ok", uow.now
        s.flush()
        return out


def _json(obj: Any, field: str, limit: int) -> bytes:
    try:
        raw = canonical_json(obj)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{field}: not plain JSON (no floats, no other types): {e}", field) from None
    if len(raw) > limit:
        raise InvalidInput(f"{field}: {len(raw)} bytes, at most {limit}", field)
    return raw


class Outgoing:
    """An addressed record sent in a unit of work: numbered and signed when that unit of work
    commits (``seq`` is None until then); ``then`` registers what needs the number (it runs inside
    the transaction, before its last flush)."""

    __slots__ = ("origin", "msg", "state", "seq", "on_seq")

    def __init__(self, origin: str, msg: pb.Addressed, state: str) -> None:
        self.origin, self.msg, self.state = origin, msg, state
        self.seq: int | None = None
        self.on_seq: list[Callable[[int], None]] = []

    def then(self, fn: Callable[[int], None]) -> "Outgoing":
        if self.seq is not None:  # sealed already (sent after the outbox was sealed)
            fn(self.seq)
        else:
            self.on_seq.append(fn)
        return self


class _Outbox:
    """The addressed records a unit of work sends, sealed together just before its commit (its
    ``CommitHook``; a failed savepoint drops what was queued in it)."""

    def __init__(self, log: AddressedLog) -> None:
        self.log = log
        self.items: list[Outgoing] = []
        self.closed = False

    def mark(self) -> int:
        return len(self.items)

    def rewind(self, mark: int) -> None:
        del self.items[mark:]

    def before_commit(self, uow: UnitOfWork) -> None:
        items, self.items, self.closed = self.items, [], True
        if items:
            self.log._seal_all(uow, items)

    def after_commit(self, uow: UnitOfWork) -> None:
        pass


DOWN_INDEX_LOCK = 0x59574E44  # "YWND": the advisory lock fed_down's writers hold to their commit


class _DownIndexLocked:
    """Marks a unit of work that holds the ``fed_down`` writers' lock (its ``CommitHook``; dropped
    with a savepoint that fails, as the lock taken in it is)."""

    def before_commit(self, uow: UnitOfWork) -> None:
        pass

    def after_commit(self, uow: UnitOfWork) -> None:
        pass


def lock_down_index(uow: UnitOfWork, node_id: str) -> None:
    """Serialize the writers of ``fed_down`` to their commit, so its ids commit in id order: a child
    pulls the rows after its cursor, and a row committed after a higher id (two children's batches
    stored at once) would be passed over for good. On PostgreSQL the writer takes this node's log head
    (as every seal does, first) and then a transaction-scoped advisory lock — always in that order, so
    a seal and a relay cannot deadlock; SQLite has one writer. Once per unit of work."""
    made: list[_DownIndexLocked] = []

    def first() -> _DownIndexLocked:
        made.append(_DownIndexLocked())
        return made[0]

    uow.hook(_DownIndexLocked, first)
    if not made:
        return
    conn = uow.session.connection()
    if conn.dialect.name == "postgresql":
        from federation.log import _lock_head

        _lock_head(uow.session, node_id)
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": DOWN_INDEX_LOCK})


def read_down(session: Any, dests: set[str], after: int, limit: int) -> list[tuple[int, bytes, bytes]]:
    """What a child whose subtree is ``dests`` pulls: the arrivals after ``after``, in order."""
    q = (select(FedDown.id, FedRecord.body, FedRecord.signature)
         .join(FedRecord, (FedRecord.origin == FedDown.origin) & (FedRecord.seq == FedDown.seq))
         .where(FedDown.id > after, FedDown.dest.in_(sorted(dests))).order_by(FedDown.id).limit(limit))
    return [(i, bytes(b), bytes(g)) for i, b, g in session.execute(q)]


def addressed_status(session: Any, node_id: str) -> dict[str, Any]:
    """For ``yiwang federation status``: the pull from the parent, what waits for an ack, what is
    held here for the children."""
    cursors = [{"parent": c.peer, "after": c.after_id, "state": c.state,
                "updated_at": c.updated_at.isoformat(timespec="seconds")}
               for c in session.scalars(select(FedDownCursor))]
    waiting = session.execute(select(FedAddressed.dest, func.count(), func.min(FedAddressed.created_at))
                              .where(FedAddressed.direction == "out", FedAddressed.state == "sent")
                              .group_by(FedAddressed.dest).order_by(FedAddressed.dest)).all()
    states = dict(session.execute(select(FedAddressed.state, func.count()).where(FedAddressed.direction == "out",
                                                                                   FedAddressed.kind != ACK)
                                  .group_by(FedAddressed.state)).all())
    held = session.scalar(select(func.count()).select_from(FedDown)) or 0
    return {"down": cursors, "sent": {k: int(v) for k, v in states.items()},
            "waiting": [{"to": t, "count": int(n), "oldest": m.isoformat(timespec="seconds") if m else None}
                        for t, n, m in waiting],
            "held_for_children": int(held)}


__all__ = ["AddressedLog", "DirectorySource", "DownResult", "addressed_status", "read_down"]
