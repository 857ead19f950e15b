"""A child's Merkle checkpoint, audited by its parent (``AuditCheckpoint``, a bidirectional stream).

The child sends its signed checkpoint (size, root) with an RFC 9162 consistency proof from the
last checkpoint of it the parent holds. The parent checks the signature, the proof against that
earlier checkpoint, and the root against its own copy of the child's records — its own tree,
built when it applied them. When they differ it does not stop at "something differs": it asks
the child for the hashes of chosen perfect subtrees and descends into the first that differs,
one level per question, down to one leaf — O(log n) questions of two hashes each — then asks for
that record as the child now holds it with an inclusion proof to the signed root. The alert names
the record (origin#seq) with both hashes, and its evidence is the child's own signatures: the
record it sent, and the checkpoint whose tree holds something else at that place.

The child answers from its stored tree with the damage its own rolling check found folded in
(``OwnTree``), so an edited body shows at the parent even though no stored hash was touched.
"""
from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation.checkpoint import make_checkpoint, open_tree_checkpoint
from federation.envelope import RecordRejected, Signer
from federation.inbox import InSubtree, KeyLookup, record_alert
from federation.merkle import (TreeReader, consistency_proof, decomposition, inclusion_proof, leaf_hash,
                               scan_range, verify_consistency, verify_inclusion)
from federation.pb.v1 import federation_pb2 as pb
from node.persistence.models import FedCheckpoint, FedHead, FedRecord
from node.services.context import SYSTEM, NodeContext

log = logging.getLogger("yiwang.federation.audit")
MAX_QUESTIONS = 200  # a bisection of a 2^64 log needs 65; more means a child playing for time


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _signed(cp: pb.SignedCheckpoint | FedCheckpoint) -> dict[str, str]:
    return {"body": _b64(bytes(cp.body)), "signature": _b64(bytes(cp.signature))}


# --- the parent ----------------------------------------------------------------------------------

@dataclass
class ParentAudit:
    """One ``AuditCheckpoint`` call at the parent: feed it the child's messages, send back what
    it returns, until a verdict. Raises RecordRejected('inconsistent_checkpoint') after the alert
    with its evidence is committed."""

    ctx: NodeContext
    peer: str
    keys: KeyLookup
    in_subtree: InSubtree
    cp: pb.SignedCheckpoint | None = None
    body: pb.CheckpointBody | None = None
    problem: str | None = None
    proof: dict[str, Any] = field(default_factory=dict)
    prefix: int = 0  # leaves compared with the child's: min(our records, its size)
    asked: list[tuple[int, int]] = field(default_factory=list)
    leaf_asked: int | None = None
    questions: int = 0

    def step(self, msg: pb.AuditMessage) -> pb.AuditQuestion:
        self.questions += 1
        if self.questions > MAX_QUESTIONS:
            raise RecordRejected("malformed", "too many rounds in one checkpoint audit")
        kind = msg.WhichOneof("msg")
        if kind == "checkpoint":
            return self._checkpoint(msg.checkpoint)
        if self.body is None:
            raise RecordRejected("malformed", "an audit starts with the checkpoint")
        if kind == "hashes" and self.asked:
            return self._hashes(list(msg.hashes.hashes))
        if kind == "leaf" and self.leaf_asked is not None and msg.leaf.index == self.leaf_asked:
            return self._leaf(msg.leaf)
        raise RecordRejected("malformed", f"unexpected {kind!r} in a checkpoint audit")

    def _checkpoint(self, tc: pb.TreeCheckpoint) -> pb.AuditQuestion:
        body = open_tree_checkpoint(tc.checkpoint, self.keys)
        if not self.in_subtree(self.peer, body.origin):
            raise RecordRejected("wrong_origin", f"{self.peer} may not deliver checkpoints of {body.origin}", body.origin)
        self.cp, self.body = tc.checkpoint, body
        self.proof = {"checkpoint": _signed(tc.checkpoint)}
        with self.ctx.factory() as s:  # read, then act: a write (the verdict, an alert) is a transaction of its own
            prior = s.scalars(select(FedCheckpoint).where(
                FedCheckpoint.origin == body.origin, FedCheckpoint.scheme == "merkle",
                FedCheckpoint.size <= body.size).order_by(FedCheckpoint.size.desc()).limit(1)).first()
            head = s.get(FedHead, body.origin)
            self.prefix = min(head.seq if head is not None else 0, body.size)
            matches = (TreeReader(s, body.origin).root(body.size) == body.tree_root
                       if self.prefix == body.size else None)
            s.expunge_all()
        if prior is not None and prior.size == body.size:
            if prior.head_hash != body.tree_root.hex():
                self.problem = f"{body.origin} signed two checkpoints of size {body.size} with different roots"
                self.proof.update(earlier=_signed(prior))
        elif prior is not None:
            if tc.proof_from != prior.size:
                self.body = None  # the same checkpoint again, with the proof asked for
                return pb.AuditQuestion(need_proof_from=prior.size)
            if not verify_consistency(prior.size, body.size, bytes.fromhex(prior.head_hash), body.tree_root,
                                      list(tc.consistency)):
                self.problem = (f"{body.origin}'s checkpoint of size {body.size} is not an extension of its "
                                f"checkpoint of size {prior.size} (the consistency proof fails)")
                self.proof.update(earlier=_signed(prior), consistency=[h.hex() for h in tc.consistency])
        if self.prefix == 0 or (matches and self.problem is None):
            return self._verdict()
        if matches is False:
            self.problem = self.problem or (f"{body.origin}'s checkpoint of size {body.size} does not match the "
                                            f"records {self.ctx.node_id} received from it")
        self.asked = decomposition(self.prefix)
        return _ask(self.asked)

    def _hashes(self, theirs: list[bytes]) -> pb.AuditQuestion:
        assert self.body is not None
        if len(theirs) != len(self.asked):
            raise RecordRejected("malformed", f"asked {len(self.asked)} subtree hashes, got {len(theirs)}",
                                 self.body.origin)
        with self.ctx.factory() as s:
            ours = TreeReader(s, self.body.origin)
            differs = next(((lv, ix) for (lv, ix), h in zip(self.asked, theirs) if ours(lv, ix) != h), None)
        if differs is None:
            if self.problem is None and self.prefix < self.body.size:  # agrees on what we hold
                return self._verdict()
            self._fail(self.problem or "checkpoint disagrees")  # beyond our records: nothing to name
        level, index = differs  # type: ignore[misc]
        if level == 0:
            self.asked, self.leaf_asked = [], index
            return pb.AuditQuestion(leaf=pb.LeafAsk(index=index, tree_size=self.body.size))
        self.asked = [(level - 1, 2 * index), (level - 1, 2 * index + 1)]
        return _ask(self.asked)

    def _leaf(self, lp: pb.LeafProof) -> pb.AuditQuestion:
        assert self.body is not None
        origin, seq = self.body.origin, lp.index + 1
        with self.ctx.factory() as s:
            ours = s.get(FedRecord, (origin, seq))
        if ours is None:
            raise RecordRejected("malformed", f"{origin}#{seq} is not held here", origin, seq)
        body = bytes(lp.body)
        theirs_hash, ours_hash = hashlib.sha256(body).hexdigest(), str(ours.hash)
        if theirs_hash == ours_hash:  # its answers contradict one another: nothing to name
            self._fail(f"{self.problem or 'checkpoint disagrees'}; {origin}'s answers to the audit are not "
                       f"consistent (its leaf {lp.index} is the record received)")
        proven = verify_inclusion(lp.index, self.body.size, leaf_hash(body), list(lp.inclusion), self.body.tree_root)
        self.proof["received"] = {"seq": seq, "hash": ours_hash, "leaf": ours.leaf, "body": _b64(bytes(ours.body)),
                                  "signature": _b64(bytes(ours.signature))}
        self.proof["presented"] = {"seq": seq, "hash": theirs_hash, "leaf": leaf_hash(body).hex(), "body": _b64(body),
                                   "inclusion": [h.hex() for h in lp.inclusion], "tree_size": self.body.size,
                                   "proven": proven}
        how = ("its signed checkpoint proves it now holds" if proven else
               "it claims (without a valid inclusion proof to its signed checkpoint) to hold")
        self._fail(f"{origin}#{seq} differs: {self.ctx.node_id} received a record hashing to {ours_hash}, "
                   f"{how} one hashing to {theirs_hash}", subject=f"{origin}#{seq}", seq=seq)
        raise AssertionError("unreachable")

    def _fail(self, problem: str, subject: str = "", seq: int = 0, **evidence: Any) -> None:
        assert self.body is not None
        if self.problem and not subject and problem != self.problem:
            problem = f"{self.problem}; {problem}"
        self.proof.update(evidence)
        origin = self.body.origin
        with self.ctx.uow(SYSTEM) as uow:
            record_alert(uow.session, origin, "inconsistent_checkpoint", problem, self.proof, self.peer, uow.now,
                         raised_by=self.ctx.node_id, subject=subject)
            uow.commit()
        raise RecordRejected("inconsistent_checkpoint", problem, origin, seq or self.body.size)

    def _verdict(self) -> pb.AuditQuestion:
        assert self.body is not None and self.cp is not None
        if self.problem is not None:
            self._fail(self.problem)
        body, cp = self.body, self.cp
        with self.ctx.uow(SYSTEM) as uow:
            s = uow.session
            if s.scalar(select(func.count()).select_from(FedCheckpoint).where(
                    FedCheckpoint.origin == body.origin, FedCheckpoint.scheme == "merkle",
                    FedCheckpoint.size == body.size)) == 0:
                s.add(FedCheckpoint(origin=body.origin, size=body.size, head_hash=body.tree_root.hex(), body=cp.body,
                                    signature=cp.signature, created_at=uow.now, scheme="merkle"))
            uow.commit()
        detail = "consistent" if self.prefix == body.size else "pending"
        return pb.AuditQuestion(verdict=pb.CheckpointAck(accepted=True, detail=detail))


def _ask(refs: list[tuple[int, int]]) -> pb.AuditQuestion:
    return pb.AuditQuestion(subtrees=pb.SubtreeAsk(subtrees=[pb.SubtreeRef(level=lv, index=ix) for lv, ix in refs]))


# --- the child -----------------------------------------------------------------------------------

class OwnTree:
    """This node's own tree as it answers its parent, with its own rolling check of the bodies.

    Each ``scan`` re-hashes the records appended since the last scan and ``window`` older ones
    (wrapping around), so every stored body is checked again every ``n / window`` checkpoints
    without walking the whole log each time. What it finds stays known (``damaged``) for the
    rest of the process's life and shapes every answer."""

    def __init__(self, ctx: NodeContext, signer: Signer, window: int = 20000,
                 on_damage: Callable[[list[tuple[int, str, str]]], None] | None = None) -> None:
        self.ctx = ctx
        self.signer = signer
        self.window = window
        self.on_damage = on_damage
        self.damaged: dict[int, bytes] = {}  # leaf index -> leaf hash of the body as now stored
        self.checked = 0  # every record up to here was re-hashed at least once
        self.cursor = 0  # where the rolling re-check of older records resumes
        self.accepted_size = 0  # the last size the parent accepted (where the next proof starts)

    def scan(self, session: Session) -> list[tuple[int, str, str]]:
        """Run the rolling check; returns what it newly found (``verify_own_range``'s tuples)."""
        head = session.get(FedHead, self.signer.node_id)
        size = head.seq if head is not None else 0
        found = scan_range(session, self.signer.node_id, self.checked + 1, size)
        self.checked = size
        if self.cursor >= size:
            self.cursor = 0
        upto = min(size, self.cursor + self.window)
        found += scan_range(session, self.signer.node_id, self.cursor + 1, upto)
        self.cursor = upto
        fresh = [(seq, old, new) for seq, old, new, _ in found if seq - 1 not in self.damaged]
        for seq, _, _, leaf in found:
            self.damaged[seq - 1] = leaf
        if fresh:
            log.error("%s's own log is damaged: %s", self.signer.node_id,
                      ", ".join(f"#{seq} stored {old[:16]}… now {new[:16]}…" for seq, old, new in fresh))
            if self.on_damage is not None:
                self.on_damage(fresh)
        return fresh

    def checkpoint(self, session: Session, now: datetime, proof_from: int) -> pb.AuditMessage | None:
        cp = make_checkpoint(session, self.signer, now, self.damaged)
        if cp is None:
            return None
        size = pb.CheckpointBody.FromString(cp.body).size
        proof_from = proof_from if 0 < proof_from <= size else 0
        proof = consistency_proof(proof_from, size, self.reader(session)) if proof_from else []
        return pb.AuditMessage(checkpoint=pb.TreeCheckpoint(checkpoint=cp, proof_from=proof_from, consistency=proof))

    def reader(self, session: Session) -> TreeReader:
        return TreeReader(session, self.signer.node_id, self.damaged)

    def answer(self, session: Session, q: pb.AuditQuestion) -> pb.AuditMessage:
        kind = q.WhichOneof("msg")
        tree = self.reader(session)
        if kind == "subtrees":
            refs = [(r.level, r.index) for r in q.subtrees.subtrees]
            return pb.AuditMessage(hashes=pb.SubtreeHashes(hashes=[tree(lv, ix) for lv, ix in refs]))
        if kind == "leaf":
            rec = session.get(FedRecord, (self.signer.node_id, q.leaf.index + 1))
            if rec is None:
                raise LookupError(f"no record #{q.leaf.index + 1}")
            return pb.AuditMessage(leaf=pb.LeafProof(index=q.leaf.index, body=bytes(rec.body),
                                                     signature=bytes(rec.signature),
                                                     inclusion=inclusion_proof(q.leaf.index, q.leaf.tree_size, tree)))
        raise ValueError(f"unexpected question {kind!r}")


async def push_tree_checkpoint(stub: Any, own: OwnTree, to_thread: Callable[..., Any]) -> str:
    """Run one ``AuditCheckpoint`` with the parent: scan, sign, answer its questions. Returns its
    verdict's detail; 'parent too old' when the parent does not know the call (one version
    behind: records keep flowing, checkpoints wait for its upgrade)."""
    import grpc

    ctx = own.ctx

    def first(proof_from: int) -> pb.AuditMessage | None:
        with ctx.factory() as s:
            own.scan(s)
            return own.checkpoint(s, ctx.clock(), proof_from)

    def reply(q: pb.AuditQuestion) -> pb.AuditMessage:
        with ctx.factory() as s:
            return own.answer(s, q)

    msg = await to_thread(first, own.accepted_size)
    if msg is None:
        return "empty log"
    size = pb.CheckpointBody.FromString(msg.checkpoint.checkpoint.body).size
    call = stub.AuditCheckpoint(timeout=60)
    try:
        await call.write(msg)
        while True:
            q = await call.read()
            if q is grpc.aio.EOF:
                raise ConnectionError("the parent ended the checkpoint audit without a verdict")
            kind = q.WhichOneof("msg")
            if kind == "verdict":
                await call.done_writing()
                own.accepted_size = size
                return str(q.verdict.detail)
            if kind == "need_proof_from":
                def again(frm: int = q.need_proof_from) -> pb.AuditMessage | None:
                    with ctx.factory() as s:
                        return own.checkpoint(s, ctx.clock(), frm)

                nxt = await to_thread(again)
                if nxt is None:
                    raise ConnectionError("the log is empty")
                size = pb.CheckpointBody.FromString(nxt.checkpoint.checkpoint.body).size
                await call.write(nxt)
                continue
            await call.write(await to_thread(reply, q))
    except grpc.aio.AioRpcError as e:
        if e.code() == grpc.StatusCode.UNIMPLEMENTED:
            return "parent too old for Merkle checkpoints"
        raise
