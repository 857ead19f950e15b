"""The per-origin signed log (the node's outbox for what other levels must see).

Case events are turned into ``CaseEvent`` payloads while the service's transaction is open and
written when the unit of work commits, inside the same transaction: a change and its event exist
together or not at all. Sealing -- sequence number, previous hash, Ed25519 signature -- takes a row
lock on this node's head (``fed_heads``), so sequence numbers are gapless. SQLite seals in that
transaction; PostgreSQL commits the events to ``fed_queue`` and seals them right after the commit
(``seal_queued``, many events per seal under load), so no request holds the head.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Table, TextClause, any_, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from federation.envelope import GENESIS, Parsed, Signer, seal
from federation.library import apply_records, insert_rows
from federation.merkle import append_leaves, leaf_hash, pack, tree_rows, tree_table, unpack
from federation.pb.v1 import federation_pb2 as pb
from federation.wakeup import notify
from node.domain.masking import keyed_hash, mask_id_number, mask_name
from node.persistence.models import Case, Department, FedHead, FedQueued, FedRecord
from node.persistence.session import links_after_commit
from node.persistence.uow import UnitOfWork
from node.ports import CaseEventFacts


def _ms(dt: datetime | None) -> int:
    return int(dt.timestamp() * 1000) if dt else 0


def _d(d: date | None) -> str:
    return d.isoformat() if d else ""


class SignedLog:
    """This node's signed log as the node's ``CaseEventSink`` port (``node.ports``)."""

    def __init__(self, signer: Signer, id_key: bytes) -> None:
        self.signer = signer
        self.id_key = id_key
        self._departments: dict[int, tuple[str, str]] = {}

    def record(self, uow: UnitOfWork, case: Case, facts: CaseEventFacts) -> None:
        """Build the record of ``case`` as it stands now; sealed or queued when ``uow`` commits."""
        dept = self._department(uow, case.department_id)
        point = self._department(uow, case.service_point_id)[0] if case.service_point_id is not None else ""
        uow.hook(self, lambda: _Pending(self)).events.append(case_event(uow, case, facts, self.id_key, dept, point))

    def _department(self, uow: UnitOfWork, dept_id: int) -> tuple[str, str]:
        """(code, name) of a department, read once per process: departments are created, never
        renamed or renumbered (``services.org``), so a record names them as they are."""
        known = self._departments.get(dept_id)
        if known is None:
            d = uow.session.get(Department, dept_id)
            known = (d.code, d.name) if d is not None else ("", "")
            if d is not None:
                self._departments[dept_id] = known
        return known

    def seal_queued(self, factory: sessionmaker[Session], now: datetime) -> int:
        return seal_queued(factory, now, self.signer)

    def publish_alert(self, uow: UnitOfWork, alert: Any) -> None:
        """``node.ports.AlertLog``: seal the alert's record now, in ``uow``'s transaction, on either
        backend (alerts are rare: holding the head for one record costs nothing)."""
        from federation.alerts_sync import alert_event

        _seal(uow, self.signer, [(_ms(uow.now), alert_event(alert))], _lock_head(uow.session, self.signer.node_id))
        uow.session.flush()


class _Pending:
    """The events of one unit of work (its ``CommitHook``)."""

    def __init__(self, log: SignedLog) -> None:
        self.log = log
        self.events: list[pb.CaseEvent] = []

    def mark(self) -> int:
        return len(self.events)

    def rewind(self, mark: int) -> None:
        del self.events[mark:]

    def before_commit(self, uow: UnitOfWork) -> None:
        events, self.events = self.events, []
        append_pending(uow, self.log.signer, events)

    def after_commit(self, uow: UnitOfWork) -> None:
        pass


def case_event(uow: UnitOfWork, case: Case, f: CaseEventFacts, key: bytes, dept: tuple[str, str],
               service_point: str = "") -> pb.CaseEvent:
    """The ``CaseEvent`` of ``case`` as it stands now (personal identifiers as keyed hashes and
    masked forms, materials as digests); ``dept`` is the case's department (code, name),
    ``service_point`` the code of the village service point it was submitted through (or empty)."""
    v = case.item_version
    stages = v.stages
    idx = case.stage_index if case.stage_index is not None else -1
    ev = pb.CaseEvent(
        service_code=case.code, item_code=case.item_code, item_version=v.version, item_name=v.name,
        department_code=dept[0], department_name=dept[1],
        event=f.event, status=case.status, stage_index=idx,
        stage_kind=stages[idx]["kind"] if idx >= 0 else "", stage_name=(stages[idx].get("name") or "") if idx >= 0 else "",
        occurred_at_ms=_ms(f.occurred_at), recorded_at_ms=_ms(uow.now), backfilled=f.backfilled,
        legal_deadline=_d(case.legal_deadline), promised_deadline=_d(case.promised_deadline),
        stage_deadline=_d(case.stage_deadline), actor=f.actor, actor_role=f.actor_role or "", channel=case.channel,
        result=case.result or "", applicant_id_hash=keyed_hash(key, case.applicant_id_number),
        applicant_name_masked=mask_name(case.applicant_name),
        applicant_id_masked=mask_id_number(case.applicant_id_number),
        material_digests=sorted({m.digest for m in case.materials}),
        evaluation_score=f.evaluation_score, extension_days=f.extension_days, reason=(f.reason or "")[:500],
        joint_code=f.joint_code, part_no=f.part_no, service_point=service_point,
    )
    lic = case.license
    if lic is not None and f.event in ("conclude", "record_paper_result", "license"):
        fields = [lic.number, lic.name, keyed_hash(key, lic.holder_id_number), _d(lic.valid_from),
                  _d(lic.valid_until), dept[1], lic.status]
        ev.license.CopyFrom(pb.License(
            number=lic.number, name=lic.name, holder_hash=fields[2], holder_masked=mask_name(lic.holder_name),
            valid_from=fields[3], valid_until=fields[4], issuing_department=fields[5], status=lic.status,
            digest=hashlib.sha256("\x1f".join(fields).encode()).hexdigest()))
    return ev


_QUEUE_PG: dict[int, TextClause] = {}


def _queue_insert(n: int) -> TextClause:
    """An insert of ``n`` events, one bytea parameter each (``id`` is taken in the VALUES order,
    which becomes the sealing order). Not one ``bytea[]``: psycopg escapes an array's elements
    in Python (~150 us for one serialized event), a plain bytes parameter in libpq."""
    stmt = _QUEUE_PG.get(n)
    if stmt is None:
        stmt = _QUEUE_PG[n] = text("INSERT INTO fed_queue (created_at_ms, event) VALUES "
                                   + ", ".join(f"(:ms, :e{i})" for i in range(n)))
    return stmt


def append_pending(uow: UnitOfWork, signer: Signer, events: list[pb.CaseEvent]) -> list[Parsed]:
    """Seal and insert ``events`` (called by the unit of work just before its commit).

    PostgreSQL: the events are committed to ``fed_queue`` with the change instead (no lock) and
    sealed right after the commit by ``seal_queued`` -- the head of this node's log is then never
    held by a request's transaction across its round trips and its WAL flush, which made the
    submissions of an enrolled node wait on one another. ``uow.link_needed`` tells the unit of
    work to have them sealed. SQLite (one writer anyway) seals them in the transaction."""
    if not events:
        return []
    now_ms = _ms(uow.now)
    if uow.links_after_commit:  # sent with the rows, the audit queue insert and the COMMIT: no round trip
        params: dict[str, Any] = {f"e{i}": ev.SerializeToString(deterministic=True) for i, ev in enumerate(events)}
        uow.audit.with_commit.append((_queue_insert(len(events)), {"ms": now_ms, **params}))
        uow.link_needed = uow.events_queued = True
        return []
    return _seal(uow, signer, [(now_ms, ev) for ev in events], _lock_head(uow.session, signer.node_id))


# Built once, executed as Core on the session's connection: a seal is a handful of statements per
# batch, and under load batches are small (the linker runs every few tens of milliseconds), so
# building ORM statements (and the ORM's DML bookkeeping) cost more than the rows themselves.
_HEADS = cast(Table, FedHead.__table__)
_QUEUE = cast(Table, FedQueued.__table__)
_LOCK = (select(_HEADS.c.seq, _HEADS.c.hash, _HEADS.c.frontier).where(_HEADS.c.origin == bindparam("origin"))
         .with_for_update())
_SET_HEAD = (update(_HEADS).where(_HEADS.c.origin == bindparam("head_origin"))
             .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"), frontier=bindparam("new_frontier"),
                     updated_at=bindparam("new_updated_at", type_=_HEADS.c.updated_at.type)))
_READ_QUEUE = (select(_QUEUE.c.id, _QUEUE.c.created_at_ms, _QUEUE.c.event).order_by(_QUEUE.c.id)
               .limit(bindparam("batch")))
_DELETE_QUEUED = delete(_QUEUE).where(_QUEUE.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger()))))


def _lock_head(session: Session, origin: str) -> Any:
    """This node's head (seq, hash, frontier), row-locked for the rest of the transaction (None
    before its first record)."""
    return session.connection().execute(_LOCK, {"origin": origin}).one_or_none()


def _seal(uow: UnitOfWork, signer: Signer, events: list[tuple[int, pb.CaseEvent | pb.AlertEvent | pb.Addressed]],
          head: Any) -> list[Parsed]:
    """Number, sign and insert ``events`` (created at ms, event) after ``head`` (locked by
    ``_lock_head``); apply them to the library."""
    session, now = uow.session, uow.now
    if head is None:
        seq, prev, frontier = 0, GENESIS, []
    else:
        seq, prev, frontier = head.seq, bytes.fromhex(head.hash), unpack(head.frontier)
    size = seq
    out: list[Parsed] = []
    rows = []
    leaves = []
    for created_ms, ev in events:
        seq += 1
        rec = seal(signer, seq, prev, created_ms, ev)
        leaf = leaf_hash(rec.body)
        leaves.append(leaf)
        out.append(rec)
        rows.append(dict(origin=rec.origin, seq=rec.seq, body=rec.body, signature=rec.signature, hash=rec.hash.hex(),
                         leaf=leaf.hex(), key_id=signer.key_id, received_from=None, stored_at=now))
        prev = rec.hash
    insert_rows(session, FedRecord.__table__, rows)  # type: ignore[arg-type]
    insert_rows(session, tree_table(), tree_rows(signer.node_id, append_leaves(size, frontier, leaves)))
    if head is None:
        session.add(FedHead(origin=signer.node_id, seq=seq, hash=prev.hex(), frontier=pack(frontier), pushed_seq=0,
                            updated_at=now))
    else:
        session.connection().execute(_SET_HEAD, {"head_origin": signer.node_id, "new_seq": seq, "new_hash": prev.hex(),
                                                 "new_frontier": pack(frontier), "new_updated_at": now})
    apply_records(session, out)
    notify(session)  # the uplink pushes them as soon as this commits
    return out


def seal_queued(factory: sessionmaker[Session], now: datetime, signer: Signer, batch: int = 1000) -> int:
    """Seal the queued case events into this node's signed log, oldest first; returns how many.

    One unit of work per batch: the head locked, the committed queue read in ``id`` order, the
    events sealed, inserted and applied, and deleted from the queue -- all or nothing, so a crash
    leaves each event queued or sealed, never lost. Events of transactions still in flight are
    sealed by a later call. Nothing is ever queued on SQLite."""
    if not links_after_commit(factory.kw["bind"]):
        return 0
    total = 0
    while True:
        with UnitOfWork(factory, now) as u:  # no linker: the caller links the audit entries next
            s = u.session
            head = _lock_head(s, signer.node_id)  # first: the queue is then read with what the previous sealer left
            queued = s.connection().execute(_READ_QUEUE, {"batch": batch}).all()
            if not queued:
                return total
            _seal(u, signer, [(ms, pb.CaseEvent.FromString(bytes(ev))) for _, ms, ev in queued], head)
            s.connection().execute(_DELETE_QUEUED, {"ids": [i for i, _, _ in queued]})
            u.commit()
        total += len(queued)
        if len(queued) < batch:
            return total


def read_records(session: Session, origin: str, after_seq: int, limit: int) -> list[FedRecord]:
    return list(session.scalars(select(FedRecord).where(FedRecord.origin == origin, FedRecord.seq > after_seq)
                                .order_by(FedRecord.seq).limit(limit)))


def read_signed(session: Session, origin: str, after_seq: int, limit: int) -> list[tuple[int, bytes, bytes]]:
    """``(seq, body, signature)`` of the records after ``after_seq``: what an uplink sends (no ORM objects)."""
    rows = session.execute(select(FedRecord.seq, FedRecord.body, FedRecord.signature)
                           .where(FedRecord.origin == origin, FedRecord.seq > after_seq)
                           .order_by(FedRecord.seq).limit(limit))
    return [(seq, bytes(body), bytes(sig)) for seq, body, sig in rows]
