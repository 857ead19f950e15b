"""Receiving records from a child: verify every signature and link, then apply in order.

A batch is verified in full before anything is written and applied in one transaction with the
per-origin cursors, so a rejected batch leaves the receiver exactly as it was and the sender
simply resumes from the cursors (``GetCursors``). Records are relayed upward verbatim: a city
stores its counties' records with their original bytes and signatures, so the province verifies
the county's signature end to end.
"""
from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from federation.envelope import GENESIS, Parsed, RecordRejected, parse
from federation.alerts_sync import apply_alert_records
from federation.integrity import scan_applied
from federation.library import apply_records, insert_rows
from federation.links import note_head_advanced
from federation.wakeup import notify
from federation.merkle import TreeReader, append_leaves, leaf_hash, pack, tree_rows, tree_table, unpack
from node.domain.servicecode import division_of
from node.persistence.alerts import raise_alert
from node.persistence.session import unit_of_work as session_uow
from node.services.alerts import raise_incident
from node.services.context import Work
from node.persistence.models import FedCheckpoint, FedHead, FedRecord

CST = timezone(timedelta(hours=8), "CST")
KeyLookup = Callable[[str, str, datetime, "int | None"], "bytes | None"]
"""(origin, key_id, at, seq) -> raw Ed25519 public key of that origin valid for a record (or a
checkpoint of that size) ``seq`` signed at ``at``, or None. A revoked key's limit is its ``last_seq``
(what receivers had accepted under it), never the signing time the record claims."""
InSubtree = Callable[[str, str], bool]
"""(peer, origin) -> may ``peer`` deliver records authored by ``origin`` (itself or a descendant)?"""


def verify_signature(public_raw: bytes, signature: bytes, body: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, body)
        return True
    except (InvalidSignature, ValueError):
        return False


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    cursors: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    fresh: list[Parsed] = field(default_factory=list)  # the records newly stored (addressed ones are applied next)


def _public_key(raw: bytes):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        return None


def _check_sig(rec: Parsed, keys: KeyLookup, cache: dict[bytes, Any] | None = None) -> None:
    """``cache`` keeps one batch's public keys (by their raw bytes); the key's validity is asked
    of the directory for every record, since it depends on the record's sequence number."""
    from cryptography.exceptions import InvalidSignature

    at = datetime.fromtimestamp(rec.msg.created_at_ms / 1000, CST)
    raw = keys(rec.origin, rec.msg.key_id, at, rec.seq)
    if raw is None:
        raise RecordRejected("unknown_key", f"key {rec.msg.key_id!r} is not a valid key of {rec.origin} for "
                             f"#{rec.seq} (unknown, expired, or revoked before that record)", rec.origin, rec.seq)
    pub = cache.get(raw) if cache is not None else None
    if pub is None:
        pub = _public_key(raw)
        if pub is not None and cache is not None:
            cache[raw] = pub
    try:
        if pub is None:
            raise InvalidSignature()
        pub.verify(rec.signature, rec.body)
    except (InvalidSignature, ValueError):
        raise RecordRejected("bad_signature", "the signature does not match the record's bytes",
                             rec.origin, rec.seq) from None


@dataclass
class CheckedBatch:
    """A batch parsed and its signatures checked ahead of applying it (``check_batch``)."""

    records: list[Parsed]
    rejected: dict[int, RecordRejected]  # index -> why that record's key or signature failed


def check_owner(rec: Parsed) -> None:
    """A node's records speak only of its own cases: the service code must be a valid code of the
    origin's division (check character included), and a license must be numbered by the origin.
    Otherwise a node -- or whoever holds its key -- could create or change, in every library above
    it, a case or a license of another node."""
    if not rec.msg.HasField("case_event"):
        return
    ev = rec.msg.case_event
    owner = division_of(ev.service_code)
    if owner != rec.origin:
        why = ("is not a valid service code" if owner is None else f"belongs to {owner}")
        raise RecordRejected("foreign_case", f"{rec.origin}#{rec.seq} speaks of case {ev.service_code!r}, which "
                             f"{why}: a node signs records of its own cases only", rec.origin, rec.seq)
    if ev.HasField("license") and ev.license.number and not ev.license.number.startswith(rec.origin + "-"):
        raise RecordRejected("foreign_case", f"{rec.origin}#{rec.seq} carries license {ev.license.number!r}, which "
                             f"{rec.origin} did not number: a node signs its own licenses only", rec.origin, rec.seq)


def check_batch(raw: Iterable[tuple[bytes, bytes]], keys: KeyLookup) -> CheckedBatch:
    """The half of ``receive_batch`` that needs no database: parse every record (raising as it
    does) and check every signature against the directory. A failed signature is kept, not raised:
    ``receive_batch`` raises it when it reaches that record, so a batch is rejected for the same
    reason either way. A server runs this for the next batch while the previous one is written."""
    records = [parse(b, s) for b, s in raw]
    cache: dict[bytes, Any] = {}
    rejected: dict[int, RecordRejected] = {}
    for i, rec in enumerate(records):
        try:
            _check_sig(rec, keys, cache)
            check_owner(rec)
        except RecordRejected as e:
            rejected[i] = e
    return CheckedBatch(records, rejected)


def receive_batch(session: Session, peer: str, raw: Iterable[tuple[bytes, bytes]] | CheckedBatch, keys: KeyLookup,
                  in_subtree: InSubtree, now: datetime) -> BatchResult:
    """Verify and apply one batch from ``peer`` (raw ``(body, signature)`` pairs, or a batch already
    through ``check_batch``); raises RecordRejected (state unchanged by this call's writes once the
    caller rolls back) or returns what was applied. Forks are recorded as alerts in a separate
    transaction by the caller (see ``record_fork``).

    In the same transaction: the integrity rules for the cases the batch touched
    (``integrity.scan_applied``, findings raised once) and, when the peer's own log advanced,
    its link's ``head_seq``/``head_advanced_at`` (for ``stopped_syncing``)."""
    checked = raw if isinstance(raw, CheckedBatch) else None
    records = checked.records if checked is not None else [parse(b, s) for b, s in raw]  # type: ignore[union-attr]
    heads: dict[str, tuple[int, bytes]] = {}
    frontiers: dict[str, list[bytes]] = {}
    for origin in sorted({r.origin for r in records}):
        if not in_subtree(peer, origin):
            raise RecordRejected("wrong_origin", f"{peer} may not deliver records of {origin}: "
                                 "it is not that node or one of its descendants", origin)
        h = session.execute(select(FedHead).where(FedHead.origin == origin).with_for_update()).scalar_one_or_none()
        heads[origin] = (h.seq, bytes.fromhex(h.hash)) if h else (0, GENESIS)
        frontiers[origin] = unpack(h.frontier) if h else []
    start = dict(heads)
    result = BatchResult()
    fresh: list[Parsed] = []
    rows: list[dict] = []
    key_cache: dict[bytes, Any] = {}
    leaves: dict[str, list[bytes]] = {}
    for i, rec in enumerate(records):
        if checked is None:
            _check_sig(rec, keys, key_cache)
            check_owner(rec)
        elif i in checked.rejected:
            raise checked.rejected[i]
        seq, prev = heads[rec.origin]
        if rec.seq <= seq:
            stored = session.get(FedRecord, (rec.origin, rec.seq))
            if stored is not None and hmac.compare_digest(bytes(stored.body), rec.body):
                result.duplicates += 1
                continue
            if stored is None:  # received in this batch already
                dup = next((f for f in fresh if f.origin == rec.origin and f.seq == rec.seq), None)
                if dup is not None and dup.body == rec.body:
                    result.duplicates += 1
                    continue
                raise RecordRejected("fork", f"two different records claim {rec.origin}#{rec.seq}", rec.origin, rec.seq)
            raise ForkDetected(rec, bytes(stored.body), bytes(stored.signature))
        if rec.seq != seq + 1:
            raise RecordRejected("gap", f"{rec.origin}: expected #{seq + 1}, got #{rec.seq}", rec.origin, rec.seq)
        if rec.msg.prev_hash != prev:
            raise RecordRejected("broken_chain", f"{rec.origin}#{rec.seq} does not link to #{seq}", rec.origin, rec.seq)
        heads[rec.origin] = (rec.seq, rec.hash)
        leaf = leaf_hash(rec.body)
        leaves.setdefault(rec.origin, []).append(leaf)
        fresh.append(rec)
        rows.append(dict(origin=rec.origin, seq=rec.seq, body=rec.body, signature=rec.signature, hash=rec.hash.hex(),
                         leaf=leaf.hex(), key_id=rec.msg.key_id, received_from=peer, stored_at=now))
    if fresh:
        insert_rows(session, FedRecord.__table__, rows)  # type: ignore[arg-type]
        notify(session)  # this node's uplink relays them upward as soon as this commits
        for origin, new_leaves in leaves.items():
            insert_rows(session, tree_table(),
                        tree_rows(origin, append_leaves(start[origin][0], frontiers[origin], new_leaves)))
        _check_pending_checkpoints(session, start, rows)
        for origin, (seq, head_hash) in heads.items():
            if (seq, head_hash) == start[origin]:
                continue
            if start[origin][0] == 0:
                session.add(FedHead(origin=origin, seq=seq, hash=head_hash.hex(), frontier=pack(frontiers[origin]),
                                    pushed_seq=0, updated_at=now))
            else:
                session.execute(update(FedHead).where(FedHead.origin == origin)
                                .values(seq=seq, hash=head_hash.hex(), frontier=pack(frontiers[origin]), updated_at=now))
        apply_records(session, fresh)
        apply_alert_records(session, fresh)
        scan_applied(session, fresh, now)
        if peer in heads and heads[peer] != start[peer]:
            note_head_advanced(session, peer, heads[peer][0], now)
    result.applied = len(fresh)
    result.fresh = fresh
    result.cursors = heads
    return result


def _check_pending_checkpoints(session: Session, start: dict[str, tuple[int, bytes]], rows: list[dict]) -> None:
    """A checkpoint that arrived before the records it covers was kept as 'pending': now that
    those records are here (inserted in this transaction, tree included), the tree's root at that
    size must be the one the origin signed then."""
    by_origin: dict[str, dict[int, dict]] = {}
    for r in rows:
        by_origin.setdefault(r["origin"], {})[r["seq"]] = r
    for origin, fresh in by_origin.items():
        cps = session.scalars(select(FedCheckpoint).where(
            FedCheckpoint.origin == origin, FedCheckpoint.scheme == "merkle", FedCheckpoint.size > start[origin][0],
            FedCheckpoint.size <= max(fresh))).all()
        reader = TreeReader(session, origin)
        for cp in cps:
            root = reader.root(cp.size).hex()
            if root != cp.head_hash:
                raise CheckpointMismatch(origin, cp, fresh[cp.size], root)


class CheckpointMismatch(RecordRejected):
    """Validly signed records that contradict a checkpoint the same origin signed earlier."""

    def __init__(self, origin: str, cp: FedCheckpoint, row: dict, root: str) -> None:
        super().__init__("inconsistent_checkpoint",
                         f"{origin}'s records up to #{cp.size} have the tree root {root[:16]}…, but its checkpoint of "
                         f"that size said {cp.head_hash[:16]}…", origin, cp.size)
        self.proof = {
            "checkpoint": {"body": base64.b64encode(bytes(cp.body)).decode(),
                           "signature": base64.b64encode(bytes(cp.signature)).decode()},
            "received": {"seq": row["seq"], "root": root, "body": base64.b64encode(row["body"]).decode(),
                         "signature": base64.b64encode(row["signature"]).decode()},
        }


class ForkDetected(RecordRejected):
    """A validly signed record that differs from the one stored under the same sequence number."""

    def __init__(self, rec: Parsed, stored_body: bytes, stored_sig: bytes) -> None:
        super().__init__("fork", f"{rec.origin} signed two different records #{rec.seq}", rec.origin, rec.seq)
        self.proof = {
            "origin": rec.origin, "seq": rec.seq,
            "stored": {"body": base64.b64encode(stored_body).decode(), "signature": base64.b64encode(stored_sig).decode()},
            "presented": {"body": base64.b64encode(rec.body).decode(), "signature": base64.b64encode(rec.signature).decode()},
        }


def record_alert(session: Session, origin: str, kind: str, detail: str, proof: dict, peer: str | None,
                 now: datetime, *, raised_by: str, subject: str = "") -> int:
    """Raise the alert once; the same kind about the same node and subject again is a sighting.
    In a node's unit of work (the servers' and the uplink's) it goes through the alerts service,
    which publishes the incident upward when this opened it."""
    uow = session_uow(session)
    if isinstance(uow, Work) and uow.ctx.node_id == raised_by:
        return raise_incident(uow, kind=kind, origin=origin, detail=detail, proof=proof, subject=subject,
                              peer=peer).id
    return raise_alert(session, now, kind=kind, origin=origin, detail=detail, proof=proof, raised_by=raised_by,
                       subject=subject, peer=peer)


def cursors(session: Session) -> list[tuple[str, int, bytes]]:
    return [(h.origin, h.seq, bytes.fromhex(h.hash)) for h in session.scalars(select(FedHead).order_by(FedHead.origin))]
