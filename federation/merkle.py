"""The per-origin Merkle tree of a signed log (RFC 9162 §2.1), kept incrementally.

Leaf ``i`` (0-based; record ``seq = i + 1``) is ``SHA-256(0x00 || body)``, an interior node
``SHA-256(0x01 || left || right)``; ``MTH(D[n])`` is the root over the first ``n`` leaves. Proofs are
exactly RFC 9162's (§2.1.3 inclusion, §2.1.4 consistency), so any implementation of the RFC checks
them.

Nothing walks the log: every *perfect* subtree is stored once, when its last leaf is appended —
level 0 in ``fed_records.leaf``, levels 1 and up in ``fed_tree`` keyed by (origin, level, index) —
and the head keeps the *frontier* (the perfect subtrees that make up the current size, largest
first). Appending is O(1) amortized, a root at any size, a consistency or an inclusion proof are
O(log n) lookups (``TreeReader``).

The stored leaf is what the author sealed (and what a receiver checked against the signature);
``verify_own_range`` re-hashes stored bodies against it, so an edit of a body in the database is
noticed by the node itself. ``TreeReader(..., damaged=...)`` answers as the bodies now stand, so
what the author signs and answers its parent reflects the damage (and the parent names the record).
"""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Mapping, Sequence, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from node.persistence.models import FedRecord, FedTreeNode

EMPTY_ROOT = hashlib.sha256(b"").digest()
Subtree = Callable[[int, int], bytes]
"""(level, index) -> hash of the perfect subtree over leaves [index·2^level, (index+1)·2^level)."""


def leaf_hash(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def range_hash(start: int, end: int, sub: Subtree) -> bytes:
    """``MTH(D[start:end])`` for the ranges RFC 9162's recursion visits (``start`` a multiple of
    the power of two at or above ``end - start``), from perfect subtrees."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return sub(level, start >> level)
    k = _split(n)
    return node_hash(range_hash(start, start + k, sub), range_hash(start + k, end, sub))


def decomposition(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) that make up the first ``size`` leaves, largest first."""
    out, offset = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, offset >> level))
            offset += 1 << level
    return out


def root_of(frontier: Sequence[bytes]) -> bytes:
    """The root from the frontier's hashes (largest subtree first)."""
    if not frontier:
        return EMPTY_ROOT
    h = frontier[-1]
    for left in reversed(frontier[:-1]):
        h = node_hash(left, h)
    return h


def append_leaves(size: int, frontier: list[bytes], leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
    """Append ``leaves`` after the first ``size``; ``frontier`` is updated in place. Returns the
    perfect subtrees of level >= 1 completed on the way: (level, index, hash), to be stored."""
    done: list[tuple[int, int, bytes]] = []
    for leaf in leaves:
        h, level, index = leaf, 0, size
        while size >> level & 1:
            h = node_hash(frontier.pop(), h)
            level += 1
            index >>= 1
            done.append((level, index, h))
        frontier.append(h)
        size += 1
    return done


def pack(frontier: Sequence[bytes]) -> str:
    return b"".join(frontier).hex()


def unpack(packed: str | None) -> list[bytes]:
    raw = bytes.fromhex(packed or "")
    return [raw[i:i + 32] for i in range(0, len(raw), 32)]


# --- proofs (RFC 9162 §2.1.3.1, §2.1.4.1) ------------------------------------------------------

def inclusion_proof(index: int, size: int, sub: Subtree) -> list[bytes]:
    """PATH(index, D[size])."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    out: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            out.append(range_hash(start + k, end, sub))
            end = start + k
        else:
            out.append(range_hash(start, start + k, sub))
            start += k
    out.reverse()
    return out


def consistency_proof(old: int, new: int, sub: Subtree) -> list[bytes]:
    """PROOF(old, D[new]); empty for ``old`` 0 or ``old == new``."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old == 0 or old == new:
        return []
    out: list[bytes] = []

    def subproof(m: int, start: int, end: int, whole: bool) -> None:
        n = end - start
        if m == n:
            if not whole:
                out.append(range_hash(start, end, sub))
            return
        k = _split(n)
        if m <= k:
            subproof(m, start, start + k, whole)
            out.append(range_hash(start + k, end, sub))
        else:
            subproof(m - k, start + k, end, False)
            out.append(range_hash(start, start + k, sub))

    subproof(old, 0, new, True)
    return out


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ------------------------------------------------

def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    if old > new or old < 0:
        return False
    if old == new:
        return not proof and old_root == new_root
    if old == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# --- the stored tree -----------------------------------------------------------------------------

def tree_rows(origin: str, done: Iterable[tuple[int, int, bytes]]) -> list[dict[str, object]]:
    return [dict(origin=origin, level=level, idx=index, hash=h.hex()) for level, index, h in done]


class TreeReader:
    """Perfect subtrees of ``origin``'s tree as stored here (lookups cached for one use).

    ``damaged`` maps leaf indices to the leaf hash their stored body has now (found by
    ``verify_own_range``): every subtree above such a leaf is recomputed from its children, so the
    answers are those of the log as it now stands, not as it was sealed."""

    def __init__(self, session: Session, origin: str, damaged: Mapping[int, bytes] | None = None) -> None:
        self.session = session
        self.origin = origin
        self.damaged = dict(damaged or {})
        self._cache: dict[tuple[int, int], bytes] = {}

    def stored(self, level: int, index: int) -> bytes:
        """The hash stored for (level, index), ignoring damage; LookupError if none."""
        key = (level, index)
        h = self._cache.get(key)
        if h is None:
            if level == 0:
                v = self.session.scalar(select(FedRecord.leaf).where(FedRecord.origin == self.origin,
                                                                     FedRecord.seq == index + 1))
            else:
                v = self.session.scalar(select(FedTreeNode.hash).where(
                    FedTreeNode.origin == self.origin, FedTreeNode.level == level, FedTreeNode.idx == index))
            if v is None:
                raise LookupError(f"{self.origin}: no subtree ({level}, {index}) stored")
            h = self._cache[key] = bytes.fromhex(v)
        return h

    def __call__(self, level: int, index: int) -> bytes:
        if self.damaged:
            lo, hi = index << level, (index + 1) << level
            if any(lo <= i < hi for i in self.damaged):
                if level == 0:
                    return self.damaged[index]
                return node_hash(self(level - 1, 2 * index), self(level - 1, 2 * index + 1))
        return self.stored(level, index)

    def root(self, size: int) -> bytes:
        return root_of([self(lv, ix) for lv, ix in decomposition(size)])


def tree_table() -> Table:
    return cast(Table, FedTreeNode.__table__)


def verify_own_range(session: Session, origin: str, from_seq: int, to_seq: int,
                     batch: int = 2000) -> list[tuple[int, str, str]]:
    """Re-hash the stored bodies of ``origin``'s records ``from_seq..to_seq`` (inclusive) and
    return ``(seq, stored_hash, recomputed_hash)`` for each record whose body no longer hashes to
    what was stored when it was sealed or received: ``stored_hash`` is ``fed_records.hash`` (the
    record's identity, sha256 of the body as signed), ``recomputed_hash`` the sha256 of the body as
    it is now. A record whose stored Merkle leaf no longer matches its body is listed too (then the
    two hashes may be equal). Empty: the range is intact. Reads in batches; O(range), no writes.

    For the node's own check of its log (before sending, before signing a checkpoint): an edit in
    the database shows here even though the tree's stored hashes were never touched. A record
    whose stored hashes were edited along with its body is caught by the parent instead (its copy
    of the tree differs: ``federation.audit``)."""
    return [(seq, stored, now) for seq, stored, now, _ in scan_range(session, origin, from_seq, to_seq, batch)]


def scan_range(session: Session, origin: str, from_seq: int, to_seq: int,
               batch: int = 2000) -> list[tuple[int, str, str, bytes]]:
    """``verify_own_range`` with, for each damaged record, the leaf hash of its body as now stored."""
    out: list[tuple[int, str, str, bytes]] = []
    last = from_seq - 1
    while last < to_seq:
        rows = session.execute(select(FedRecord.seq, FedRecord.body, FedRecord.hash, FedRecord.leaf).where(
            FedRecord.origin == origin, FedRecord.seq > last, FedRecord.seq <= to_seq)
            .order_by(FedRecord.seq).limit(batch)).all()
        if not rows:
            break
        for seq, body, stored_hash, stored_leaf in rows:
            raw = bytes(body)
            now_hash, now_leaf = hashlib.sha256(raw).hexdigest(), leaf_hash(raw)
            if now_hash != stored_hash or now_leaf.hex() != stored_leaf:
                out.append((seq, stored_hash, now_hash, now_leaf))
        last = rows[-1][0]
    return out
