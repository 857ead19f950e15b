"""Receipts: one record, proven part of its origin's signed log, checkable offline.

A receipt is one JSON file: the record (its exact body and signature), an RFC 9162 inclusion
proof of it in a tree of ``tree_size`` records, the origin's signed checkpoint of that size (its
root), and the signed node directory the keys come from. Whoever holds it checks, with no
network and no database (``verify_receipt``): the directory's signature (against a directory they
trust, or — failing that — its own root key, which is then named as the anchor to compare), the
record's signature under the origin's key (valid for that sequence number), the checkpoint's
signature, and that the record's leaf hashes up to the checkpoint's root.

Any node that holds the record issues one (``make_receipt``): its author with a fresh checkpoint,
any other node with the latest checkpoint of the origin it accepted that covers the record — the
proof comes from its own copy of the tree, which it checked against that checkpoint.
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from federation.checkpoint import make_checkpoint, open_tree_checkpoint
from federation.directory import Directory, DirectoryError, bootstrap_directory, verify_directory
from federation.envelope import RecordRejected, Signer, parse
from federation.inbox import verify_signature
from federation.merkle import TreeReader, inclusion_proof, leaf_hash, verify_inclusion
from federation.pb.v1 import federation_pb2 as pb
from node.persistence.models import FedCheckpoint, FedHead, FedRecord, LibCase

FORMAT = "yiwang-receipt/1"
CST = timezone(timedelta(hours=8), "CST")


class ReceiptError(ValueError):
    """A receipt that does not prove what it claims; the message says which check failed."""


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(v: Any, where: str) -> bytes:
    try:
        return base64.b64decode(str(v), validate=True)
    except (ValueError, TypeError):
        raise ReceiptError(f"{where}: not base64") from None


def record_of_case(session: Session, code: str) -> tuple[str, int]:
    """(origin, seq) of the latest record held about case ``code``."""
    row = session.get(LibCase, code)
    if row is None:
        raise LookupError(f"no record of case {code} is held here")
    return row.origin, int(row.record_seq)


def make_receipt(session: Session, origin: str, seq: int, directory: Mapping[str, Any], now: datetime,
                 signer: Signer | None = None) -> dict[str, Any]:
    """The receipt of ``origin#seq`` as held here; LookupError when it cannot be issued here."""
    rec = session.get(FedRecord, (origin, seq))
    if rec is None:
        raise LookupError(f"{origin}#{seq} is not held here")
    tree = TreeReader(session, origin)
    if signer is not None and signer.node_id == origin:
        cp = make_checkpoint(session, signer, now)
        assert cp is not None
        size, root = pb.CheckpointBody.FromString(cp.body).size, pb.CheckpointBody.FromString(cp.body).tree_root
        signed = {"body": _b64(cp.body), "signature": _b64(cp.signature)}
    else:
        head = session.get(FedHead, origin)
        held = head.seq if head is not None else 0
        row = session.scalars(select(FedCheckpoint).where(
            FedCheckpoint.origin == origin, FedCheckpoint.scheme == "merkle", FedCheckpoint.size >= seq,
            FedCheckpoint.size <= held).order_by(FedCheckpoint.size.desc()).limit(1)).first()
        if row is None:
            raise LookupError(f"no checkpoint of {origin} covering #{seq} has been accepted here yet")
        size, root = int(row.size), bytes.fromhex(row.head_hash)
        signed = {"body": _b64(bytes(row.body)), "signature": _b64(bytes(row.signature))}
    proof = inclusion_proof(seq - 1, size, tree)
    if not verify_inclusion(seq - 1, size, leaf_hash(bytes(rec.body)), proof, root):
        raise LookupError(f"{origin}#{seq} as stored here is not the record its checkpoint of size {size} holds "
                          "(run the log check: this copy is damaged)")
    return {"format": FORMAT, "origin": origin, "seq": seq,
            "record": {"body": _b64(bytes(rec.body)), "signature": _b64(bytes(rec.signature))},
            "leaf_index": seq - 1, "tree_size": size, "inclusion": [h.hex() for h in proof],
            "checkpoint": signed, "directory": dict(directory)}


def _directory(receipt: Mapping[str, Any], trusted: Directory | None) -> tuple[Directory, str]:
    carried = receipt.get("directory")
    if trusted is not None:
        if isinstance(carried, Mapping):
            try:  # a newer directory (later revocations) is used if the trusted one vouches for it
                return verify_directory(carried, trusted.root_keys(), cached=trusted), "trusted directory"
            except DirectoryError:
                pass
        return trusted, "trusted directory"
    if not isinstance(carried, Mapping):
        raise ReceiptError("directory: the receipt carries no signed directory and none is trusted here")
    try:
        d = bootstrap_directory(carried, str(carried.get("signer")))
    except DirectoryError as e:
        raise ReceiptError(f"directory: {e}") from None
    anchor = ", ".join(sorted(d.root_keys()))
    return d, f"the receipt's own directory, signed by root {d.root_id} key {anchor} (compare it with yours)"


def verify_receipt(receipt: Mapping[str, Any], trusted: Directory | None = None) -> dict[str, Any]:
    """Check a receipt offline; returns what it proves, raises ReceiptError naming what fails."""
    if not isinstance(receipt, Mapping) or receipt.get("format") != FORMAT:
        raise ReceiptError(f"not a {FORMAT} file")
    d, anchor = _directory(receipt, trusted)
    record = receipt.get("record") or {}
    body, sig = _unb64(record.get("body"), "record.body"), _unb64(record.get("signature"), "record.signature")
    try:
        rec = parse(body, sig)
    except RecordRejected as e:
        raise ReceiptError(f"record: {e}") from None
    if rec.origin != receipt.get("origin") or rec.seq != receipt.get("seq"):
        raise ReceiptError(f"record: it is {rec.origin}#{rec.seq}, the receipt says {receipt.get('origin')}#"
                           f"{receipt.get('seq')}")
    at = datetime.fromtimestamp(rec.msg.created_at_ms / 1000, CST)
    pub = d.key_for(rec.origin, rec.msg.key_id, at, rec.seq)
    if pub is None:
        raise ReceiptError(f"record: key {rec.msg.key_id} is not a valid key of {rec.origin} for #{rec.seq} "
                           "(unknown or revoked)")
    if not verify_signature(pub, sig, body):
        raise ReceiptError("record: the signature does not match the record's bytes")
    cp = receipt.get("checkpoint") or {}
    signed = pb.SignedCheckpoint(body=_unb64(cp.get("body"), "checkpoint.body"),
                                 signature=_unb64(cp.get("signature"), "checkpoint.signature"))
    try:
        cpb = open_tree_checkpoint(signed, d.key_for)
    except RecordRejected as e:
        raise ReceiptError(f"checkpoint: {e}") from None
    if cpb.origin != rec.origin or cpb.size != receipt.get("tree_size") or cpb.size < rec.seq:
        raise ReceiptError(f"checkpoint: it is {cpb.origin}'s of size {cpb.size}, which does not cover "
                           f"{rec.origin}#{rec.seq}")
    try:
        proof = [bytes.fromhex(h) for h in receipt.get("inclusion") or []]
    except (ValueError, TypeError):
        raise ReceiptError("inclusion: hex hashes") from None
    if not verify_inclusion(rec.seq - 1, cpb.size, leaf_hash(body), proof, cpb.tree_root):
        raise ReceiptError(f"inclusion: the record is not in {rec.origin}'s signed tree of size {cpb.size}")
    ev = rec.msg.case_event
    return {"origin": rec.origin, "seq": rec.seq, "hash": rec.hash.hex(), "key_id": rec.msg.key_id,
            "signed_at": at.isoformat(), "service_code": ev.service_code, "event": ev.event, "status": ev.status,
            "tree_size": cpb.size, "root": cpb.tree_root.hex(),
            "checkpoint_at": datetime.fromtimestamp(cpb.created_at_ms / 1000, CST).isoformat(),
            "directory_version": d.version, "anchor": anchor}
