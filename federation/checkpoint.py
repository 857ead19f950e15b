"""Signed checkpoints: (log size, accumulated hash) of a node's own log.

The author computes the accumulator by walking the bodies it actually stores — not from a cached
head — so a record edited in its database changes the checkpoint. The receiver compares it with
the accumulator it computed when it applied the same records: a mismatch, or two checkpoints of
the same size with different hashes, is an alert carrying both signed statements as proof.
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.envelope import GENESIS, RecordRejected, Signer, accumulate
from federation.inbox import InSubtree, KeyLookup, record_alert, verify_signature
from federation.pb.v1 import federation_pb2 as pb
from node.persistence.models import FedCheckpoint, FedRecord
from node.services.context import SYSTEM, NodeContext

import hashlib

CST = timezone(timedelta(hours=8), "CST")
PURPOSE = b"yiwang-checkpoint-v1\n"


def make_checkpoint(session: Session, signer: Signer, now: datetime, batch: int = 5000) -> pb.SignedCheckpoint | None:
    acc, size, last = GENESIS, 0, 0
    while True:
        bodies = session.execute(select(FedRecord.seq, FedRecord.body).where(
            FedRecord.origin == signer.node_id, FedRecord.seq > last).order_by(FedRecord.seq).limit(batch)).all()
        if not bodies:
            break
        for seq, body in bodies:
            if seq != size + 1:
                break  # a hole in our own log: checkpoint what is contiguous
            acc = accumulate(acc, hashlib.sha256(bytes(body)).digest())
            size = seq
        last = bodies[-1][0]
    if size == 0:
        return None
    body = pb.CheckpointBody(origin=signer.node_id, size=size, head_hash=acc,
                             created_at_ms=int(now.timestamp() * 1000), key_id=signer.key_id).SerializeToString()
    return pb.SignedCheckpoint(body=body, signature=signer.sign(PURPOSE + body))


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
    """Verify and store; returns 'consistent' or 'pending' (records not here yet); raises
    RecordRejected('inconsistent_checkpoint') after recording an alert with the proof."""
    body = pb.CheckpointBody()
    try:
        body.ParseFromString(cp.body)
    except Exception:  # noqa: BLE001
        raise RecordRejected("malformed", "checkpoint does not parse") from None
    if not in_subtree(peer, body.origin):
        raise RecordRejected("wrong_origin", f"{peer} may not deliver checkpoints of {body.origin}", body.origin)
    at = datetime.fromtimestamp(body.created_at_ms / 1000, CST)
    pub = keys(body.origin, body.key_id, at)
    if pub is None or not verify_signature(pub, cp.signature, PURPOSE + cp.body):
        raise RecordRejected("bad_signature", "checkpoint signature does not verify", body.origin, body.size)
    proof: dict[str, dict[str, object]] = {"checkpoint": {"body": base64.b64encode(cp.body).decode(),
                                                          "signature": base64.b64encode(cp.signature).decode()}}
    problem = None
    earlier = session.scalars(select(FedCheckpoint).where(FedCheckpoint.origin == body.origin,
                                                          FedCheckpoint.size == body.size)).first()
    if earlier is not None and earlier.head_hash != body.head_hash.hex():
        problem = f"two checkpoints for size {body.size} disagree"
        proof["earlier"] = {"body": base64.b64encode(bytes(earlier.body)).decode(),
                            "signature": base64.b64encode(bytes(earlier.signature)).decode()}
    rec = session.get(FedRecord, (body.origin, body.size))
    if problem is None and rec is not None and rec.acc != body.head_hash.hex():
        problem = (f"{body.origin}'s log no longer matches what it sent: at size {body.size} it now hashes to "
                   f"{body.head_hash.hex()[:16]}…, the records received hash to {rec.acc[:16]}…")
        proof["received"] = {"seq": rec.seq, "acc": rec.acc}
    if problem is not None:
        record_alert(session, body.origin, "inconsistent_checkpoint", problem, proof, peer, now, raised_by=raised_by)
        raise RecordRejected("inconsistent_checkpoint", problem, body.origin, body.size)
    if earlier is None:
        session.add(FedCheckpoint(origin=body.origin, size=body.size, head_hash=body.head_hash.hex(), body=cp.body,
                                  signature=cp.signature, created_at=now))
    return "consistent" if rec is not None else "pending"
