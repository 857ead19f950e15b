"""Record envelopes: build, sign and check the exact bytes that travel.

A record's identity is ``sha256(body)``; ``body`` is the serialized ``RecordBody`` as the origin
produced it. Receivers parse the body to read its fields but verify the signature and chain over
the bytes they received, and store those bytes — nothing is re-serialized to be checked.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

from google.protobuf.message import DecodeError

from federation.pb.v1 import federation_pb2 as pb

GENESIS = b"\x00" * 32
MAX_BODY = 64 * 1024


class RecordRejected(Exception):
    """A record that must not be applied; ``code`` names why (for the gRPC status and the log)."""

    def __init__(self, code: str, message: str, origin: str = "", seq: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.origin = origin
        self.seq = seq


@dataclass(frozen=True)
class Signer:
    node_id: str
    key_id: str
    sign: Callable[[bytes], bytes]


@dataclass(frozen=True)
class Parsed:
    body: bytes
    signature: bytes
    msg: pb.RecordBody
    hash: bytes

    @property
    def origin(self) -> str:
        return self.msg.origin

    @property
    def seq(self) -> int:
        return self.msg.seq


def accumulate(acc: bytes, record_hash: bytes) -> bytes:
    """The v1 (linear) log accumulator ``acc_n = sha256(acc_{n-1} || hash_n)``: only for checking the
    checkpoints of a child one version behind (``checkpoint.receive_checkpoint``); v2 checkpoints
    sign a Merkle root (``federation.merkle``)."""
    return hashlib.sha256(acc + record_hash).digest()


def seal(signer: Signer, seq: int, prev_hash: bytes, created_at_ms: int,
         event: pb.CaseEvent | pb.AlertEvent | pb.Addressed) -> Parsed:
    """A record of ``event``: a case event, an alert or an addressed record (``RecordBody.entry``)."""
    entry = ({"alert": event} if isinstance(event, pb.AlertEvent) else
             {"addressed": event} if isinstance(event, pb.Addressed) else {"case_event": event})
    msg = pb.RecordBody(origin=signer.node_id, seq=seq, prev_hash=prev_hash, key_id=signer.key_id,
                        created_at_ms=created_at_ms, **entry)
    body = msg.SerializeToString(deterministic=True)
    return Parsed(body, signer.sign(body), msg, hashlib.sha256(body).digest())


def parse(body: bytes, signature: bytes) -> Parsed:
    if len(body) > MAX_BODY:
        raise RecordRejected("oversized", f"record body of {len(body)} bytes exceeds {MAX_BODY}")
    if len(signature) != 64:
        raise RecordRejected("bad_signature", "an Ed25519 signature is 64 bytes")
    msg = pb.RecordBody()
    try:
        msg.ParseFromString(body)
    except DecodeError as e:
        raise RecordRejected("malformed", f"record body does not parse: {e}") from None
    if not msg.origin or len(msg.origin) != 6 or not msg.origin.isdigit() or msg.seq < 1 or len(msg.prev_hash) != 32:
        raise RecordRejected("malformed", "record lacks origin, sequence number or previous hash",
                             msg.origin, msg.seq)
    return Parsed(body, signature, msg, hashlib.sha256(body).digest())
