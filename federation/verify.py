"""Prerequisites verified by result across nodes (前置审批结果验证, 跨部门结果互认).

``ParentVerifier`` is ``node.ports.ResultVerifier``: a node that holds nothing about a license
number or service code asks its parent (RPC ``VerifyResult`` over mutual TLS, the uplink's
address). The parent (``answer``) checks that the caller is one of its children, throttles it,
answers from its shared library (the records its subtree signed) and, if it holds nothing either,
asks its own parent while ``hops`` last. Every question is audited at the node that answers it.

What a curious neighbour learns: only the holder's keyed hash goes up, so the parent cannot learn
who the applicant is beyond what the library already holds; the answer is valid/invalid, a reason,
the answering node, and the item and validity only when the holder's hash matched -- asking about
someone else's license says "other_holder" and nothing more (no holder, no item, no dates), and
the questions are rate limited per child, so license numbers (with their random part) cannot be
swept.
"""
from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import TYPE_CHECKING

import grpc

from federation import tls
from federation.pb.v1 import federation_pb2 as pb
from node.domain.items import POWER_CODE
from node.domain.prerequisites import REFERENCE, Kind, Reason, Verification
from node.persistence.models import FedLink
from node.ports import VerificationUnavailable
from node.services.context import SYSTEM
from node.services.prerequisites import MAX_HOPS, answer_here, ask_above, audit_answer

if TYPE_CHECKING:
    from federation.identity import Identity
    from node.services.context import NodeContext

HEX64 = re.compile(r"^[0-9a-f]{64}$")
VERIFY_RATE = "120/minute"
"""Questions a child may ask per minute (each counted at the node that answers)."""
TIMEOUT = 10.0


def to_reply(v: Verification) -> pb.VerifyResultReply:
    return pb.VerifyResultReply(valid=v.valid, reason=v.reason.value if v.reason else "", answered_by=v.answered_by,
                                item_code=v.item_code or "", name=v.name or "",
                                valid_from=v.valid_from.isoformat() if v.valid_from else "",
                                valid_until=v.valid_until.isoformat() if v.valid_until else "")


def from_reply(r: pb.VerifyResultReply) -> Verification:
    try:
        reason = Reason(r.reason) if r.reason else None
    except ValueError:  # a reason of a newer parent: still not valid
        reason = Reason.NOT_FOUND
    if not r.valid and reason is None:
        reason = Reason.NOT_FOUND
    return Verification(r.valid, reason, r.answered_by, r.item_code or None, r.name or None,
                        date.fromisoformat(r.valid_from) if r.valid_from else None,
                        date.fromisoformat(r.valid_until) if r.valid_until else None)


def check_request(r: pb.VerifyResultRequest) -> str | None:
    """What is wrong with a question (None: nothing)."""
    if r.kind not in (Kind.LICENSE.value, Kind.CASE.value):
        return "kind: license or case"
    if not REFERENCE.match(r.number):
        return "number: 4-40 letters, digits or '-'"
    if not HEX64.match(r.holder_hash):
        return "holder_hash: 64 hex digits (the keyed hash of the holder's ID number)"
    if not POWER_CODE.match(r.item_code):
        return "item_code: a power code"
    try:
        date.fromisoformat(r.on)
    except ValueError:
        return "on: an ISO date"
    if not 1 <= r.hops <= MAX_HOPS:
        return f"hops: 1 to {MAX_HOPS}"
    if len(r.asked_by) > 60:
        return "asked_by: at most 60 characters"
    return None


def answer(ctx: "NodeContext", peer: str, r: pb.VerifyResultRequest, rate: str = VERIFY_RATE) -> pb.VerifyResultReply:
    """The parent's side (in a thread of the server): throttled per child, answered and audited in
    one unit of work. Raises ``TooManyAttempts`` and ``VerificationUnavailable`` (the level above
    could not be asked)."""
    ctx.throttle.hit(rate, "verify_result", peer, what="verification", field_name="number")
    kind, on, asked_by = Kind(r.kind), date.fromisoformat(r.on), f"{peer}:{r.asked_by}"[:60]
    with ctx.uow(SYSTEM) as uow:  # read only (rolled back): no lock held while the level above is asked
        v = answer_here(uow, kind, r.number, r.holder_hash, r.item_code, on)
    if v is None:
        v = ask_above(ctx, kind, r.number, r.holder_hash, r.item_code, on, asked_by, r.hops)
    with ctx.uow(SYSTEM) as uow:
        audit_answer(uow, kind, r.number, r.item_code, on, asked_by, v)
        uow.commit()
    return to_reply(v)


class ParentVerifier:
    """``node.ports.ResultVerifier`` over the link to the parent (its address: ``target``, else the
    one the uplink last used, from ``fed_links``)."""

    def __init__(self, ctx: "NodeContext", identity: "Identity", target: str | None = None) -> None:
        self.ctx = ctx
        self.identity = identity
        self.target = target

    def _address(self) -> str:
        """Read outside any transaction: the caller is inside a unit of work, which on SQLite holds
        the write lock (a second session's BEGIN IMMEDIATE would wait for it: for ever)."""
        if self.target:
            return self.target
        parent = self.identity.parent_id or ""
        mark = "?" if self.ctx.engine.dialect.paramstyle == "qmark" else "%s"
        raw = self.ctx.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(f"SELECT address FROM {FedLink.__tablename__} WHERE peer = {mark}", (parent,))
            row = cur.fetchone()
            cur.close()
            raw.rollback()
        finally:
            raw.close()
        addr = row[0] if row else None
        if not addr:
            raise VerificationUnavailable(f"the address of the parent {parent} is not known yet "
                                          "(the federation link has not run)")
        return addr

    def verify(self, kind: Kind, number: str, holder_hash: str, item_code: str, on: date,
               asked_by: str, hops: int = MAX_HOPS) -> Verification:
        parent = self.identity.parent_id
        if parent is None:
            return Verification(False, Reason.NOT_FOUND, self.identity.node_id)
        req = pb.VerifyResultRequest(kind=kind.value, number=number, holder_hash=holder_hash, item_code=item_code,
                                     on=on.isoformat(), asked_by=asked_by[:60], hops=max(1, min(hops, MAX_HOPS)))
        target = self._address()

        async def call() -> pb.VerifyResultReply:
            from federation.pb.v1 import federation_pb2_grpc as pb_grpc

            async with grpc.aio.secure_channel(target, tls.channel_credentials(self.identity),
                                               options=tls.channel_options(parent)) as ch:
                reply: pb.VerifyResultReply = await pb_grpc.FederationStub(ch).VerifyResult(req, timeout=TIMEOUT)
                return reply

        try:
            return from_reply(asyncio.run(call()))
        except grpc.aio.AioRpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                why = f"the parent {parent} is too old to verify results"
            elif code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                why = f"the parent {parent} cannot be reached ({code.name.lower()})"
            else:
                why = f"the parent {parent} refused: {code.name.lower()}: {e.details()}"
            raise VerificationUnavailable(why) from None

