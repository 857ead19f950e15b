"""``yiwang federation repair``: restore damaged records of this node's store from the parent's copies.

The parent holds, exactly as signed, every record this node pushed (its own and its descendants').
For each damaged record (``federation.selfcheck.scan_log``) the parent's copy is fetched
(``FetchRecords``) and checked here before it overwrites the row: it parses as that record, its
signature verifies under the origin's key in the directory (this node's own key for its own
records), and it links to the stored predecessor and from the stored successor. A record the parent
does not hold was never pushed: nothing above can vouch for it, so it is named with the way out —
restore this node's database from a backup — and the command fails. What was restored resolves its
``damaged_log`` alert, and the uplink sends again.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import select, update

from federation.envelope import GENESIS, Parsed, RecordRejected, parse
from federation.inbox import verify_signature
from federation.merkle import leaf_hash
from federation.pb.v1 import federation_pb2 as pb
from federation.selfcheck import Damage, scan_log
from node.persistence.models import Alert, FedHead, FedRecord
from node.services import alerts
from node.services.context import SYSTEM, NodeContext

CST = timezone(timedelta(hours=8), "CST")
KeyFor = Callable[[str, str, datetime, "int | None"], "bytes | None"]
Fetch = Callable[[str, int], "tuple[list[pb.SignedRecord], int]"]
"""(origin, seq) -> the parent's stored copies of that record (none or one) and its head for origin."""


@dataclass
class RepairReport:
    found: list[Damage] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unrecoverable: list[str] = field(default_factory=list)  # "origin#seq: why, and the way out"

    @property
    def ok(self) -> bool:
        return not self.unrecoverable


def find_damage(ctx: NodeContext) -> list[Damage]:
    """Every damaged record of every origin held here."""
    with ctx.factory() as s:
        origins = list(s.scalars(select(FedHead.origin).order_by(FedHead.origin)))
        return [d for o in origins for d in scan_log(s, o)]


def _check_copy(rec: Parsed, d: Damage, key_for: KeyFor, prev: bytes, next_prev: bytes | None) -> str | None:
    """Why the parent's copy cannot replace the damaged row, or None."""
    if (rec.origin, rec.seq) != (d.origin, d.seq):
        return f"the parent sent {rec.origin}#{rec.seq} instead"
    at = datetime.fromtimestamp(rec.msg.created_at_ms / 1000, CST)
    pub = key_for(rec.origin, rec.msg.key_id, at, rec.seq)  # a revoked key: up to its last_seq only
    if pub is None or not verify_signature(pub, rec.signature, rec.body):
        return f"its signature does not verify under {rec.origin}'s key {rec.msg.key_id!r}"
    if rec.msg.prev_hash != prev:
        return f"it does not link to the #{d.seq - 1} stored here"
    if next_prev is not None and next_prev != rec.hash:
        return f"the #{d.seq + 1} stored here does not link to it"
    return None


def _neighbours(ctx: NodeContext, d: Damage) -> tuple[bytes, bytes | None]:
    """(hash of the stored predecessor, prev_hash named by the stored successor)."""
    with ctx.factory() as s:
        before = s.execute(select(FedRecord.hash).where(
            FedRecord.origin == d.origin, FedRecord.seq == d.seq - 1)).one_or_none()
        after = s.scalar(select(FedRecord.body).where(FedRecord.origin == d.origin, FedRecord.seq == d.seq + 1))
    prev = bytes.fromhex(before.hash) if before is not None else GENESIS
    next_prev = None
    if after is not None:
        msg = pb.RecordBody()
        try:
            msg.ParseFromString(bytes(after))
            next_prev = msg.prev_hash
        except Exception:  # noqa: BLE001 - a damaged successor is named by the scan on its own
            next_prev = None
    return prev, next_prev


def repair(ctx: NodeContext, fetch: Fetch, key_for: KeyFor, parent: str) -> RepairReport:
    """Find the damaged records, restore those the parent holds, name the others."""
    report = RepairReport(found=find_damage(ctx))
    for d in report.found:
        copies, held = fetch(d.origin, d.seq)
        if not copies:
            report.unrecoverable.append(
                f"{d.subject}: {d.why}; it was never pushed ({parent} holds {d.origin} up to #{held}), so no other "
                f"node has a signed copy. Way out: restore this node's database from a backup taken after #{d.seq} "
                "was written (then run 'yiwang federation repair' again)")
            continue
        try:
            rec = parse(copies[0].body, copies[0].signature)
        except RecordRejected as e:
            report.unrecoverable.append(f"{d.subject}: {parent}'s copy is unusable ({e}); restore from a backup")
            continue
        prev, next_prev = _neighbours(ctx, d)
        why = _check_copy(rec, d, key_for, prev, next_prev)
        if why is not None:
            report.unrecoverable.append(f"{d.subject}: {parent}'s copy was refused: {why}; restore from a backup")
            continue
        with ctx.uow(SYSTEM) as uow:
            # The Merkle leaf too: the tree above it was built from the original record's leaf.
            values: dict[str, object] = dict(body=rec.body, signature=rec.signature, hash=rec.hash.hex(),
                                             key_id=rec.msg.key_id, leaf=leaf_hash(rec.body).hex())
            uow.session.execute(update(FedRecord).where(FedRecord.origin == d.origin, FedRecord.seq == d.seq)
                                .values(**values))
            for a in uow.session.scalars(select(Alert).where(Alert.kind == "damaged_log", Alert.origin == d.origin,
                                                             Alert.subject == d.subject, Alert.state != "resolved")):
                alerts.resolve(uow, a.id, f"restored from {parent}'s signed copy (sha256 {hashlib.sha256(rec.body).hexdigest()[:16]}…)")
            uow.commit()
        report.repaired.append(d.subject)
    resolve_stale(ctx, {d.subject for d in report.found})
    return report


def resolve_stale(ctx: NodeContext, damaged: set[str]) -> None:
    """A ``damaged_log`` alert whose record is intact now (restored by hand, say) is resolved."""
    with ctx.uow(SYSTEM) as uow:
        for a in uow.session.scalars(select(Alert).where(Alert.kind == "damaged_log", Alert.raised_by == ctx.node_id,
                                                         Alert.state != "resolved")):
            if a.subject not in damaged:
                alerts.resolve(uow, a.id, "the record is intact again (checked by 'yiwang federation repair')")
        uow.commit()
