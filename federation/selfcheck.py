"""A node checks the records it is about to send: a damaged log is found at home.

A record edited in this node's database would be refused by the parent (its hash no longer links,
its signature no longer matches), and every later record of its origin with it, for good. So the
uplink checks each stored record before it sends it: the body must hash to the stored hash, parse
as the record it is stored as, and link to its predecessor (``prev_hash``); the record after it
must name it as its predecessor. A hash and a parse per record: cheap beside sending it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Sequence

from google.protobuf.message import DecodeError
from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.envelope import GENESIS
from federation.pb.v1 import federation_pb2 as pb
from node.persistence.models import FedRecord


@dataclass(frozen=True)
class Damage:
    """Record ``origin#seq`` as stored here is not the record its origin signed."""

    origin: str
    seq: int
    why: str
    stored_hash: str  # the hash stored beside the body
    body_hash: str  # sha256 of the body as stored now
    linked_hash: str | None = None  # what the next record names as its predecessor

    @property
    def subject(self) -> str:
        return f"{self.origin}#{self.seq}"

    def describe(self) -> str:
        return f"stored record {self.subject} is damaged: {self.why}"

    def proof(self) -> dict[str, Any]:
        return {"origin": self.origin, "seq": self.seq, "stored_hash": self.stored_hash, "body_hash": self.body_hash,
                **({"next_record_links_to": self.linked_hash} if self.linked_hash else {})}


Row = tuple[int, bytes, str]  # seq, body, stored hash (hex)


def check_rows(origin: str, rows: Sequence[Row], prev_hash: bytes, pred: Row | None = None) -> Damage | None:
    """The first damaged record among ``rows`` (consecutive), which follow ``pred`` (stored with
    hash ``prev_hash``; None before #1). A record whose successor names another predecessor while
    its own body and stored hash agree had both changed: it is the damaged one."""
    for i, (seq, body, stored) in enumerate(rows):
        digest = hashlib.sha256(body).digest()
        if digest.hex() != stored:
            return Damage(origin, seq, "its body does not hash to the hash stored with it", stored, digest.hex())
        msg = pb.RecordBody()
        try:
            msg.ParseFromString(body)
        except DecodeError:
            return Damage(origin, seq, "its body does not parse", stored, digest.hex())
        if msg.origin != origin or msg.seq != seq:
            return Damage(origin, seq, f"its body says {msg.origin}#{msg.seq}", stored, digest.hex())
        if msg.prev_hash != prev_hash:
            culprit = rows[i - 1] if i > 0 else pred
            if culprit is not None and hashlib.sha256(culprit[1]).hexdigest() == culprit[2]:
                return Damage(origin, culprit[0], f"#{seq} names another record as its predecessor", culprit[2],
                              hashlib.sha256(culprit[1]).hexdigest(), msg.prev_hash.hex())
            return Damage(origin, seq, f"it does not link to #{seq - 1}", stored, digest.hex())
        prev_hash = digest
    return None


def read_checked(session: Session, origin: str, after_seq: int,
                 limit: int) -> tuple[list[tuple[int, bytes, bytes]], Damage | None]:
    """``(seq, body, signature)`` of up to ``limit`` records after ``after_seq`` that are intact,
    and the first damaged one if a record of the range is damaged (the records before it are
    returned: they may still be sent)."""
    prev, pred = GENESIS, None
    if after_seq > 0:
        p = session.execute(select(FedRecord.body, FedRecord.hash).where(
            FedRecord.origin == origin, FedRecord.seq == after_seq)).one_or_none()
        if p is not None:
            prev, pred = bytes.fromhex(p.hash), (after_seq, bytes(p.body), p.hash)
    rows = [(seq, bytes(body), bytes(sig), h) for seq, body, sig, h in session.execute(
        select(FedRecord.seq, FedRecord.body, FedRecord.signature, FedRecord.hash)
        .where(FedRecord.origin == origin, FedRecord.seq > after_seq).order_by(FedRecord.seq).limit(limit + 1))]
    damage = check_rows(origin, [(s, b, h) for s, b, _, h in rows], prev, pred)
    good = [(s, b, g) for s, b, g, _ in rows[:limit] if damage is None or s < damage.seq]
    return good, damage


def scan_log(session: Session, origin: str, batch: int = 5000) -> list[Damage]:
    """Every damaged record of ``origin`` held here (``yiwang federation repair``): the whole log,
    a batch at a time, restarting the chain after each damaged record."""
    found: list[Damage] = []
    after = 0
    while True:
        good, damage = read_checked(session, origin, after, batch)
        if damage is not None:
            if damage.seq <= after:  # the link after a record already named: it was that record
                after += 1
                continue
            found.append(damage)
            after = damage.seq
            continue
        if not good:
            return found
        after = good[-1][0]
