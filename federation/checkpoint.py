"""Signed checkpoints of a node's own log.

v2 (``make_checkpoint``): the size and the RFC 9162 Merkle root of the log (``federation.merkle``),
read from the stored tree in O(log n) — no walk. The author's own check of its stored bodies is
``merkle.verify_own_range`` (a rolling pass, ``federation.audit.OwnTree``): damage it finds is
folded into the root it signs, so the parent sees the log as it now stands and names the record
(``federation.audit``: consistency proof, then bisection over subtree hashes).

v1 (``receive_checkpoint``, the old ``PushCheckpoint``): the linear accumulator a child one
version behind still sends; checked by walking the records received (costly, kept only so an old
child is still checked), stored as scheme 'linear'. A mismatch, or two checkpoints of the same
size with different hashes, is an alert carrying both signed statements as proof.
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.envelope import GENESIS, RecordRejected, Signer, accumulate
from federation.inbox import InSubtree, KeyLookup, record_alert, verify_signature
from federation.merkle import TreeReader, root_of, unpack
from federation.pb.v1 import federation_pb2 as pb
from node.persistence.models import FedCheckpoint, FedHead, FedRecord
from node.services.context import SYSTEM, NodeContext

import hashlib

CST = timezone(timedelta(hours=8), "CST")
PURPOSE = b"yiwang-checkpoint-v1\n"
PURPOSE_V2 = b"yiwang-checkpoint-v2\n"


def make_checkpoint(session: Session, signer: Signer, now: datetime,
                    damaged: Mapping[int, bytes] | None = None) -> pb.SignedCheckpoint | None:
    """A v2 checkpoint of this node's log: its size and Merkle root, signed. ``damaged`` (leaf
    index -> leaf hash of the body as now stored, from ``verify_own_range``) makes the root that
    of the log as it stands, so damage is not hidden behind the hashes stored at sealing time."""
    head = session.get(FedHead, signer.node_id)
    if head is None or head.seq == 0:
        return None
    size = head.seq
    root = TreeReader(session, signer.node_id, damaged).root(size) if damaged else root_of(unpack(head.frontier))
    return sign_tree_checkpoint(signer, size, root, now)


def sign_tree_checkpoint(signer: Signer, size: int, root: bytes, now: datetime) -> pb.SignedCheckpoint:
    body = pb.CheckpointBody(origin=signer.node_id, size=size, tree_root=root,
                             created_at_ms=int(now.timestamp() * 1000), key_id=signer.key_id).SerializeToString()
    return pb.SignedCheckpoint(body=body, signature=signer.sign(PURPOSE_V2 + body))


def open_tree_checkpoint(cp: pb.SignedCheckpoint, keys: KeyLookup) -> pb.CheckpointBody:
    """Parse a v2 checkpoint and check its signature (the key must be valid for its size: a key
    revoked after ``last_seq`` signs no checkpoint beyond it); RecordRejected otherwise."""
    body = pb.CheckpointBody()
    try:
        body.ParseFromString(cp.body)
    except Exception:  # noqa: BLE001
        raise RecordRejected("malformed", "checkpoint does not parse") from None
    if len(body.tree_root) != 32 or body.size < 1:
        raise RecordRejected("malformed", "a v2 checkpoint carries a size and a 32-byte tree root", body.origin)
    at = datetime.fromtimestamp(body.created_at_ms / 1000, CST)
    pub = keys(body.origin, body.key_id, at, body.size)
    if pub is None or not verify_signature(pub, cp.signature, PURPOSE_V2 + cp.body):
        raise RecordRejected("bad_signature", "checkpoint signature does not verify", body.origin, body.size)
    return body


def legacy_accumulator(session: Session, origin: str, size: int, batch: int = 5000) -> str | None:
    """The v1 accumulator over the first ``size`` records received (None if not all are here)."""
    acc, last = GENESIS, 0
    while last < size:
        rows = session.execute(select(FedRecord.seq, FedRecord.body).where(
            FedRecord.origin == origin, FedRecord.seq > last, FedRecord.seq <= size)
            .order_by(FedRecord.seq).limit(batch)).all()
        if not rows or rows[0][0] != last + 1:
            return None
        for _, body in rows:
            acc = accumulate(acc, hashlib.sha256(bytes(body)).digest())
        last = rows[-1][0]
    return acc.hex()


def accept_checkpoint(ctx: NodeContext, peer: str, cp: pb.SignedCheckpoint, keys: KeyLookup,
                      in_subtree: InSubtree) -> str:
    """``receive_checkpoint`` in a unit of work of its own: a consistent or pending checkpoint is
    stored; an inconsistent one is not, but the alert with its evidence is (then it raises)."""
    with ctx.uow(SYSTEM) as uow:
        try:
            out = receive_checkpoint(uow.session, peer, cp, keys, in_subtree, uow.now, raised_by=ctx.node_id)
        except RecordRejected as e:
            if e.code == "inconsistent_checkpoint":
                uow.commit()
            raise
        uow.commit()
        return out


def receive_checkpoint(session: Session, peer: str, cp: pb.SignedCheckpoint, keys: KeyLookup,
                       in_subtree: InSubtree, now: datetime, *, raised_by: str) -> str:
    """v1 (a child one version behind): verify and store; returns 'consistent' or 'unchecked'
    (records not here yet: a linear accumulator is not checked later); raises
    RecordRejected('inconsistent_checkpoint') after recording an alert with the proof."""
    body = pb.CheckpointBody()
    try:
        body.ParseFromString(cp.body)
    except Exception:  # noqa: BLE001
        raise RecordRejected("malformed", "checkpoint does not parse") from None
    if not in_subtree(peer, body.origin):
        raise RecordRejected("wrong_origin", f"{peer} may not deliver checkpoints of {body.origin}", body.origin)
    at = datetime.fromtimestamp(body.created_at_ms / 1000, CST)
    pub = keys(body.origin, body.key_id, at, body.size)
    if pub is None or not verify_signature(pub, cp.signature, PURPOSE + cp.body):
        raise RecordRejected("bad_signature", "checkpoint signature does not verify", body.origin, body.size)
    proof: dict[str, dict[str, object]] = {"checkpoint": {"body": base64.b64encode(cp.body).decode(),
                                                          "signature": base64.b64encode(cp.signature).decode()}}
    problem = None
    earlier = session.scalars(select(FedCheckpoint).where(FedCheckpoint.origin == body.origin,
                                                          FedCheckpoint.scheme == "linear",
                                                          FedCheckpoint.size == body.size)).first()
    if earlier is not None and earlier.head_hash != body.head_hash.hex():
        problem = f"two checkpoints for size {body.size} disagree"
        proof["earlier"] = {"body": base64.b64encode(bytes(earlier.body)).decode(),
                            "signature": base64.b64encode(bytes(earlier.signature)).decode()}
    acc = legacy_accumulator(session, body.origin, body.size)
    if problem is None and acc is not None and acc != body.head_hash.hex():
        problem = (f"{body.origin}'s log no longer matches what it sent: at size {body.size} it now hashes to "
                   f"{body.head_hash.hex()[:16]}…, the records received hash to {acc[:16]}…")
        proof["received"] = {"seq": body.size, "acc": acc}
    if problem is not None:
        record_alert(session, body.origin, "inconsistent_checkpoint", problem, proof, peer, now, raised_by=raised_by)
        raise RecordRejected("inconsistent_checkpoint", problem, body.origin, body.size)
    if earlier is None:
        session.add(FedCheckpoint(origin=body.origin, size=body.size, head_hash=body.head_hash.hex(), body=cp.body,
                                  signature=cp.signature, created_at=now, scheme="linear"))
    return "consistent" if acc is not None else "unchecked (records not here yet)"
