"""The standard item catalog flowing down: the province signs each change, every node below stores
and relays the exact bytes.

A change is a serialized ``CatalogChangeBody`` signed by the province over
``b"yiwang-catalog-v1\\n" + body``. The body is serialized once, when it is published, and from
then on only those bytes travel: a city pulls them from the province, keeps them, and serves them
verbatim to its counties, which verify the province's signature end to end. Changes are gapless
per publisher, so a node that holds change #n holds every change before it, and a batch is
verified in full before anything is written (a rejected batch leaves the receiver as it was).
"""
from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from google.protobuf.message import DecodeError
from sqlalchemy import insert
from sqlalchemy.orm import Session

from node.domain.divisions import LEVELS, level_of
from federation.envelope import RecordRejected, Signer
from federation.inbox import record_alert, verify_signature
from federation.pb.v1 import federation_pb2 as pb
from node.domain.items import CATALOG_CHANGES as CHANGES, POWER_CODE
from node.persistence.models import CatalogChange
from node.services.context import SYSTEM, NodeContext
from node.services.standard_catalog import head

log = logging.getLogger("yiwang.catalog")
CST = timezone(timedelta(hours=8), "CST")
PURPOSE = b"yiwang-catalog-v1\n"
MAX_BODY = 16 * 1024
ALERT_KINDS = {"fork", "bad_signature", "unknown_key", "wrong_origin"}
KeyLookup = Callable[[str, str, datetime], "bytes | None"]
"""(node id, key id, at) -> raw Ed25519 public key valid for that node at that time, or None."""


class CatalogChangeRejected(RecordRejected):
    """A catalog change that must not be stored; ``code`` names why (malformed, oversized,
    bad_signature, unknown_key, wrong_origin, gap, fork). Forks carry ``proof``."""

    def __init__(self, code: str, message: str, publisher: str = "", seq: int = 0,
                 proof: dict[str, Any] | None = None) -> None:
        super().__init__(code, message, publisher, seq)
        self.proof = proof or {}


@dataclass(frozen=True)
class VerifiedChange:
    body: bytes
    signature: bytes
    msg: pb.CatalogChangeBody


def published_at(msg: pb.CatalogChangeBody) -> datetime:
    return datetime.fromtimestamp(msg.published_at_ms / 1000, CST)


def sign_change(signer: Signer, seq: int, change: str, item_code: str, name: str, legal_limit_days: int,
                kind: str, level: str, note: str, now: datetime) -> tuple[bytes, bytes]:
    """Serialize the change once and sign those bytes; returns ``(body, signature)``."""
    msg = pb.CatalogChangeBody(publisher=signer.node_id, seq=seq, change=change, item_code=item_code, name=name,
                               legal_limit_days=legal_limit_days, kind=kind, level=level,
                               published_at_ms=int(now.timestamp() * 1000), key_id=signer.key_id, note=note)
    body = msg.SerializeToString(deterministic=True)
    return body, signer.sign(PURPOSE + body)


def parse_change(body: bytes) -> pb.CatalogChangeBody:
    """Parse stored or received bytes (no signature check: for bytes this node already verified)."""
    msg = pb.CatalogChangeBody()
    msg.ParseFromString(body)
    return msg


def verify_change(body: bytes, signature: bytes, key_for: KeyLookup, root_id: str | None = None) -> pb.CatalogChangeBody:
    """The parsed change if ``signature`` is the publisher's over exactly ``body``; raises
    ``CatalogChangeRejected`` naming the problem. With ``root_id``, the publisher must be that
    province (the root of this node's federation); without it, any province code."""
    if len(body) > MAX_BODY:
        raise CatalogChangeRejected("oversized", f"catalog change of {len(body)} bytes exceeds {MAX_BODY}")
    msg = pb.CatalogChangeBody()
    try:
        msg.ParseFromString(body)
    except DecodeError as e:
        raise CatalogChangeRejected("malformed", f"catalog change does not parse: {e}") from None
    pub, seq = msg.publisher, msg.seq
    if seq < 1 or not msg.change or not msg.key_id or not POWER_CODE.match(msg.item_code or ""):
        raise CatalogChangeRejected("malformed", "catalog change lacks a sequence number, change type, key id "
                                    "or valid item code (权力编码)", pub, seq)
    try:
        province = level_of(pub) == "province"
    except ValueError:
        raise CatalogChangeRejected("malformed", f"publisher {pub!r} is not a division code", pub, seq) from None
    if not province:
        raise CatalogChangeRejected("wrong_origin", f"catalog change #{seq} claims publisher {pub}, which is not a "
                                    "province: only the province publishes the standard catalog", pub, seq)
    if root_id is not None and pub != root_id:
        raise CatalogChangeRejected("wrong_origin", f"catalog change #{seq} is from {pub}, not from this "
                                    f"federation's province {root_id}", pub, seq)
    at = published_at(msg)
    key = key_for(pub, msg.key_id, at)
    if key is None:
        raise CatalogChangeRejected("unknown_key", f"key {msg.key_id!r} is not a valid key of {pub} at "
                                    f"{at.isoformat()} (unknown, expired or revoked)", pub, seq)
    if len(signature) != 64 or not verify_signature(key, signature, PURPOSE + body):
        raise CatalogChangeRejected("bad_signature", f"the signature on catalog change {pub}#{seq} does not match "
                                    "its bytes", pub, seq)
    return msg


def _fork(msg: pb.CatalogChangeBody, stored: tuple[bytes, bytes], presented: tuple[bytes, bytes]) -> CatalogChangeRejected:
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    proof = {"publisher": msg.publisher, "seq": msg.seq,
             "stored": {"body": b64(stored[0]), "signature": b64(stored[1])},
             "presented": {"body": b64(presented[0]), "signature": b64(presented[1])}}
    return CatalogChangeRejected("fork", f"{msg.publisher} signed two different catalog changes #{msg.seq}",
                                 msg.publisher, msg.seq, proof)


def store_changes(session: Session, changes: Iterable[tuple[bytes, bytes]], key_for: KeyLookup, root_id: str,
                  now: datetime) -> int:
    """Verify every change, then store the new ones with their exact bytes; returns how many were new.

    Idempotent: a change already held with identical bytes is skipped. A validly signed change
    that differs from the one held under the same number is a fork (raised with both as proof);
    a change that skips a number is a gap. Nothing is written unless the whole batch passes;
    the caller commits (or rolls back on ``CatalogChangeRejected``)."""
    parsed = [VerifiedChange(bytes(b), bytes(s), verify_change(bytes(b), bytes(s), key_for, root_id))
              for b, s in changes]
    top = head(session, root_id)
    fresh: dict[int, VerifiedChange] = {}
    for ch in parsed:
        seq = ch.msg.seq
        if seq <= top:
            row = session.get(CatalogChange, (root_id, seq))
            if row is not None and hmac.compare_digest(bytes(row.body), ch.body):
                continue
            if row is None:  # a hole below the head cannot happen with gapless storage; refuse it anyway
                raise CatalogChangeRejected("gap", f"{root_id}#{seq} is missing below #{top}", root_id, seq)
            raise _fork(ch.msg, (bytes(row.body), bytes(row.signature)), (ch.body, ch.signature))
        if seq in fresh:
            if fresh[seq].body != ch.body:
                raise _fork(ch.msg, (fresh[seq].body, fresh[seq].signature), (ch.body, ch.signature))
            continue
        if seq != top + len(fresh) + 1:
            raise CatalogChangeRejected("gap", f"catalog changes of {root_id}: expected #{top + len(fresh) + 1}, "
                                        f"got #{seq}", root_id, seq)
        fresh[seq] = ch
    if fresh:
        session.execute(insert(CatalogChange), [
            dict(publisher=root_id, seq=c.msg.seq, body=c.body, signature=c.signature, item_code=c.msg.item_code,
                 change=c.msg.change[:10], received_at=now, adopted=False) for c in fresh.values()])
    return len(fresh)


def receive_changes(ctx: NodeContext, changes: list[tuple[bytes, bytes]], key_for: KeyLookup, root_id: str,
                    peer: str | None = None) -> int:
    """``store_changes`` in its own transaction; a rejection that is evidence of misbehaviour (a
    fork, a bad signature, an unknown key, a wrong publisher) is kept as an alert with its proof."""
    now = ctx.clock()
    try:
        with ctx.uow(SYSTEM, now) as uow:
            n = store_changes(uow.session, changes, key_for, root_id, now)
            uow.commit()
            return n
    except CatalogChangeRejected as e:
        if e.code in ALERT_KINDS:
            with ctx.uow(SYSTEM, now) as uow:
                record_alert(uow.session, e.origin or root_id, e.code, str(e), e.proof, peer, now,
                             raised_by=ctx.node_id, subject=f"catalog#{e.seq}" if e.seq else "catalog")
                uow.commit()
        raise


async def pull_catalog(ctx: NodeContext, stub: Any, key_for: KeyLookup, root_id: str,
                       peer: str | None = None, timeout: float = 30) -> int:
    """Fetch from the parent every change after the highest one held, verify and store them;
    returns how many were new. The parent answers with the province-signed bytes it holds (at
    most a page per call, so this asks again until nothing new arrives)."""
    def held() -> int:
        with ctx.factory() as s:
            return head(s, root_id)

    total = 0
    while True:
        start = await asyncio.to_thread(held)
        got = [(m.body, m.signature)
               async for m in stub.PullCatalog(pb.CatalogRequest(after_seq=start), timeout=timeout)]
        n = await asyncio.to_thread(receive_changes, ctx, got, key_for, root_id, peer) if got else 0
        if n == 0:
            return total
        log.info("stored %d catalog change(s) of %s after #%d", n, root_id, start)
        total += n


__all__ = ["CHANGES", "LEVELS", "PURPOSE", "CatalogChangeRejected", "head", "parse_change", "pull_catalog",
           "published_at", "receive_changes", "sign_change", "store_changes", "verify_change"]
