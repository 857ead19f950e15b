"""The node directory: which nodes exist, who their parents are, and which Ed25519 keys they held
when — signed by the province, cached by every node.

Body (canonical JSON bytes, see ``federation.codec``)::

    {"format": "yiwang-directory/1", "root": "330000", "version": 7, "issued_at": "...Z",
     "nodes": [{"node_id", "name", "parent_id", "level", "revoked_at",
                "keys": [{"key_id", "public_key_b64", "valid_from", "valid_until", "revoked_at"}],
                "enc_keys": [{"key_id", "public_key_b64", "valid_from"}]}]}

``enc_keys`` (optional; absent in entries of nodes that have none) are the node's X25519 keys that
addressed records' private parts are sealed to (``federation.sealing``); the newest is current.

Keys are never removed, only closed: rotation sets the old key's ``valid_until``, revocation sets
``revoked_at``. A record signed at time *t* is checked against the key its author held at *t*
(``Directory.key_for``), so rotating keys never makes old records unverifiable, while a key
revoked at *r* verifies nothing dated at or after *r*.

``version`` only grows: a node refuses a directory older than the one it caches (an attacker
replaying last year's directory must not resurrect a revoked key) and a different body under the
same version (the province would be equivocating).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from federation.codec import b64d, b64e, canonical_json, iso, parse_iso, parse_json, require_aware
from node.domain.divisions import check_node_id, check_parent, level_of
from federation.signing import DIRECTORY, key_id as compute_key_id, open_envelope, seal

if TYPE_CHECKING:
    from federation.identity import Identity

FORMAT = "yiwang-directory/1"


class DirectoryError(ValueError):
    """A directory (or directory entry) that must not be used; the message says why."""


def _public_key(d: Any, where: str, kind: str) -> tuple[str, bytes]:
    """(key id, raw 32-byte public key) of a published key entry, its id checked against its bytes
    (signing keys and encryption keys alike)."""
    if not isinstance(d, Mapping):
        raise DirectoryError(f"{where}: a key is a JSON object")
    raw = b64d(str(d.get("public_key_b64", "")), f"{where}.public_key_b64")
    if len(raw) != 32:
        raise DirectoryError(f"{where}.public_key_b64: {kind} public key is 32 bytes")
    kid = compute_key_id(raw)
    if d.get("key_id") != kid:
        raise DirectoryError(f"{where}.key_id: {d.get('key_id')!r} is not the id of its public key ({kid})")
    return kid, raw


@dataclass(frozen=True)
class KeyEntry:
    key_id: str
    public_key: bytes
    valid_from: datetime
    valid_until: datetime | None = None
    revoked_at: datetime | None = None
    last_seq: int | None = None

    def valid_at(self, at: datetime) -> bool:
        """``valid_from <= at < valid_until`` and ``at < revoked_at``."""
        if at < self.valid_from:
            return False
        if self.valid_until is not None and at >= self.valid_until:
            return False
        return self.revoked_at is None or at < self.revoked_at

    def valid_for(self, at: datetime, seq: int | None, node_revoked_at: datetime | None = None) -> bool:
        """May this key have signed record ``seq`` (or a checkpoint of that size) dated ``at``?
        Not before ``valid_from`` nor from ``valid_until`` (rotation); once revoked (the key or its
        node), only up to ``last_seq`` — or, without a sequence number, before the revocation."""
        if at < self.valid_from or (self.valid_until is not None and at >= self.valid_until):
            return False
        revs = [r for r in (self.revoked_at, node_revoked_at) if r is not None]
        if not revs:
            return True
        if seq is None:
            return at < min(revs)
        return self.last_seq is not None and seq <= self.last_seq

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"key_id": self.key_id, "public_key_b64": b64e(self.public_key), "valid_from": iso(self.valid_from),
             "valid_until": iso(self.valid_until) if self.valid_until else None,
             "revoked_at": iso(self.revoked_at) if self.revoked_at else None}
        if self.last_seq is not None:
            d["last_seq"] = self.last_seq
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "key") -> "KeyEntry":
        kid, raw = _public_key(d, where, "an Ed25519")

        def t(name: str, required: bool = False) -> datetime | None:
            v = d.get(name)
            if v is None and not required:
                return None
            return parse_iso(str(v), f"{where}.{name}")

        valid_from = t("valid_from", True)
        assert valid_from is not None
        until = t("valid_until")
        if until is not None and until < valid_from:
            raise DirectoryError(f"{where}.valid_until: before valid_from")
        last = d.get("last_seq")
        if last is not None and (not isinstance(last, int) or isinstance(last, bool) or last < 0):
            raise DirectoryError(f"{where}.last_seq: a sequence number (an integer >= 0)")
        return cls(kid, raw, valid_from, until, t("revoked_at"), last)


@dataclass(frozen=True)
class EncKey:
    """An X25519 public key of a node (HPKE recipient key), published next to its signing keys."""

    key_id: str
    public_key: bytes
    valid_from: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "public_key_b64": b64e(self.public_key), "valid_from": iso(self.valid_from)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "enc_key") -> "EncKey":
        kid, raw = _public_key(d, where, "an X25519")
        return cls(kid, raw, parse_iso(str(d.get("valid_from")), f"{where}.valid_from"))


def merge_enc_keys(old: Iterable[EncKey], new: Iterable[EncKey]) -> tuple[EncKey, ...]:
    """Union by key id (a key id never changes its bytes); oldest first."""
    out: dict[str, EncKey] = {k.key_id: k for k in old}
    for k in new:
        prev = out.get(k.key_id)
        if prev is not None and prev.public_key != k.public_key:
            raise DirectoryError(f"enc key {k.key_id}: public key differs from the one on record")
        out.setdefault(k.key_id, k)
    return tuple(sorted(out.values(), key=lambda k: (k.valid_from, k.key_id)))


@dataclass(frozen=True)
class NodeEntry:
    node_id: str
    name: str
    parent_id: str | None
    level: str
    keys: tuple[KeyEntry, ...]
    revoked_at: datetime | None = None
    enc_keys: tuple[EncKey, ...] = ()

    @property
    def enc_key(self) -> EncKey | None:
        """The current X25519 key (the newest), None if the node has published none."""
        return self.enc_keys[-1] if self.enc_keys else None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"node_id": self.node_id, "name": self.name, "parent_id": self.parent_id, "level": self.level,
             "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
             "keys": [k.to_dict() for k in sorted(self.keys, key=lambda k: (k.valid_from, k.key_id))]}
        if self.enc_keys:  # absent otherwise: an entry without one keeps the bytes it had
            d["enc_keys"] = [k.to_dict() for k in sorted(self.enc_keys, key=lambda k: (k.valid_from, k.key_id))]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "NodeEntry":
        if not isinstance(d, Mapping):
            raise DirectoryError("a directory entry is a JSON object")
        node_id = check_node_id(d.get("node_id"), "node_id")
        parent = d.get("parent_id")
        try:
            check_parent(node_id, parent)
        except ValueError as e:
            raise DirectoryError(f"entry {node_id}: {e}") from None
        name = d.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DirectoryError(f"entry {node_id}: name is required")
        if d.get("level", level_of(node_id)) != level_of(node_id):
            raise DirectoryError(f"entry {node_id}: level {d.get('level')!r} does not match its code")
        keys = [KeyEntry.from_dict(k, f"entry {node_id} key") for k in d.get("keys") or []]
        if len({k.key_id for k in keys}) != len(keys):
            raise DirectoryError(f"entry {node_id}: a key is listed twice")
        rev = d.get("revoked_at")
        enc = [EncKey.from_dict(k, f"entry {node_id} enc_key") for k in d.get("enc_keys") or []]
        return cls(node_id, name, parent, level_of(node_id), tuple(keys),
                   parse_iso(rev, f"entry {node_id}.revoked_at") if rev else None, merge_enc_keys((), enc))


def merge_keys(old: Iterable[KeyEntry], new: Iterable[KeyEntry]) -> tuple[KeyEntry, ...]:
    """Union by key id. A key never changes its public bytes or ``valid_from``; ``valid_until``
    once set stays; the earliest revocation and the lowest ``last_seq`` win. So a report can add
    and close keys, never reopen or rewrite history."""
    out: dict[str, KeyEntry] = {k.key_id: k for k in old}
    for k in new:
        prev = out.get(k.key_id)
        if prev is None:
            out[k.key_id] = k
            continue
        if prev.public_key != k.public_key:
            raise DirectoryError(f"key {k.key_id}: public key differs from the one on record")
        revs = [r for r in (prev.revoked_at, k.revoked_at) if r is not None]
        lasts = [n for n in (prev.last_seq, k.last_seq) if n is not None]
        out[k.key_id] = KeyEntry(prev.key_id, prev.public_key, prev.valid_from,
                                 prev.valid_until if prev.valid_until is not None else k.valid_until,
                                 min(revs) if revs else None, min(lasts) if lasts else None)
    return tuple(sorted(out.values(), key=lambda k: (k.valid_from, k.key_id)))


def merge_entry(old: NodeEntry | None, new: NodeEntry) -> NodeEntry:
    if old is None:
        return new
    if old.parent_id != new.parent_id:
        raise DirectoryError(f"entry {new.node_id}: parent changed from {old.parent_id} to {new.parent_id}")
    revs = [r for r in (old.revoked_at, new.revoked_at) if r is not None]
    return NodeEntry(new.node_id, new.name, new.parent_id, new.level, merge_keys(old.keys, new.keys),
                     min(revs) if revs else None, merge_enc_keys(old.enc_keys, new.enc_keys))


def apply_revocation(entries: Iterable[Mapping[str, Any]], node_id: str, key_id: str | None,
                     at: datetime, last_seqs: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """Entries with ``node_id`` (or only its key ``key_id``) revoked from ``at``; ``last_seqs``
    (key id -> the highest sequence number accepted under it) fixes what stays valid. An earlier
    revocation (or a lower ``last_seq``) already on record is kept."""
    require_aware(at, "at")
    last_seqs = last_seqs or {}
    out, found = [], False
    for raw in entries:
        e = NodeEntry.from_dict(raw)
        if e.node_id == node_id:
            found = True
            if key_id is not None and key_id not in {k.key_id for k in e.keys}:
                raise DirectoryError(f"key_id: node {node_id} has no key {key_id}")
            closed = [KeyEntry(k.key_id, k.public_key, k.valid_from, k.valid_until, at, last_seqs.get(k.key_id))
                      for k in e.keys if key_id is None or k.key_id == key_id]
            when = e.revoked_at
            if key_id is None:
                when = min(at, e.revoked_at) if e.revoked_at else at
            e = NodeEntry(e.node_id, e.name, e.parent_id, e.level, merge_keys(e.keys, closed), when, e.enc_keys)
        out.append(e.to_dict())
    if not found:
        raise DirectoryError(f"node_id: {node_id} is not in the directory")
    return out


@dataclass(frozen=True)
class Directory:
    root_id: str
    version: int
    issued_at: datetime
    nodes: Mapping[str, NodeEntry]
    body: bytes = field(repr=False)
    signed: Mapping[str, Any] = field(repr=False)

    def node(self, node_id: str) -> NodeEntry | None:
        return self.nodes.get(node_id)

    def key_for(self, node_id: str, key_id: str, at: datetime, seq: int | None = None) -> bytes | None:
        """The raw public key if ``key_id`` of ``node_id`` may have signed record ``seq`` dated
        ``at`` (``KeyEntry.valid_for``: a revoked key up to its ``last_seq`` only, whatever the
        date; without ``seq``, before the revocation); otherwise ``None``."""
        require_aware(at, "at")
        n = self.nodes.get(node_id)
        if n is None:
            return None
        for k in n.keys:
            if k.key_id == key_id:
                return k.public_key if k.valid_for(at, seq, n.revoked_at) else None
        return None

    def is_revoked(self, node_id: str, at: datetime) -> bool:
        n = self.nodes.get(node_id)
        return n is not None and n.revoked_at is not None and at >= n.revoked_at

    def is_ancestor(self, ancestor_id: str, node_id: str) -> bool:
        """Strictly above: a node is not its own ancestor."""
        seen: set[str] = set()
        n = self.nodes.get(node_id)
        while n is not None and n.parent_id is not None and n.node_id not in seen:
            seen.add(n.node_id)
            if n.parent_id == ancestor_id:
                return True
            n = self.nodes.get(n.parent_id)
        return False

    def subtree(self, node_id: str) -> set[str]:
        """``node_id`` and everything below it (empty if the node is unknown)."""
        if node_id not in self.nodes:
            return set()
        return {n for n in self.nodes if n == node_id or self.is_ancestor(node_id, n)}

    def root_keys(self) -> dict[str, bytes]:
        """The root's keys not revoked: what verifies the next directory."""
        root = self.nodes[self.root_id]
        return {k.key_id: k.public_key for k in root.keys if k.revoked_at is None}

    def entries(self) -> list[dict[str, Any]]:
        return [self.nodes[n].to_dict() for n in sorted(self.nodes)]

    def revoke(self, node_id: str, key_id: str | None = None, *, at: datetime) -> list[dict[str, Any]]:
        """Province side: this directory's entries with the node (or one of its keys) revoked from
        ``at``, ready for ``build_directory(..., version=self.version + 1, ...)``."""
        return apply_revocation(self.entries(), node_id, key_id, at)


def _check_tree(root_id: str, nodes: Mapping[str, NodeEntry]) -> None:
    if root_id not in nodes:
        raise DirectoryError(f"the directory does not list its root {root_id}")
    for n in nodes.values():
        if n.parent_id is None and n.node_id != root_id:
            raise DirectoryError(f"entry {n.node_id}: a second root")
        if n.parent_id is not None and n.parent_id not in nodes:
            raise DirectoryError(f"entry {n.node_id}: its parent {n.parent_id} is not in the directory")


def build_directory(province_identity: "Identity", entries: Iterable[Mapping[str, Any]], version: int,
                    now: datetime) -> dict[str, Any]:
    """Sign a directory of ``entries`` as the province.

    The province's own entry is merged with the keys in its identity, so the key that signs is
    always listed. It is signed with the current key and co-signed with the retired, unrevoked
    ones, so a node that has not yet seen a rotation still accepts it.
    """
    require_aware(now, "now")
    if province_identity.parent_id is not None:
        raise DirectoryError(f"only the province signs the directory; {province_identity.node_id} is a "
                             f"{province_identity.level}")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DirectoryError("version: a positive integer")
    nodes: dict[str, NodeEntry] = {}
    for raw in entries:
        e = NodeEntry.from_dict(raw)
        nodes[e.node_id] = merge_entry(nodes.get(e.node_id), e)
    own = NodeEntry.from_dict(province_identity.directory_entry())
    nodes[own.node_id] = merge_entry(nodes.get(own.node_id), own)
    _check_tree(province_identity.node_id, nodes)
    root_rev = {k.key_id for k in nodes[own.node_id].keys if k.revoked_at is not None}
    body = canonical_json({"format": FORMAT, "root": province_identity.node_id, "version": version,
                           "issued_at": iso(now), "nodes": [nodes[n].to_dict() for n in sorted(nodes)]})
    keys = [(kid, k) for kid, k in province_identity.signing_keys() if kid not in root_rev]
    if not keys or keys[0][0] != province_identity.key_id:
        raise DirectoryError("the province's current signing key is revoked; rotate it first")
    return seal(DIRECTORY, body, province_identity.node_id, keys)


def _parse(body: bytes, signer: str, signed: Mapping[str, Any]) -> Directory:
    try:
        doc = parse_json(body)
    except ValueError as e:
        raise DirectoryError(f"directory body is not canonical JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DirectoryError(f"not a {FORMAT} document")
    if doc.get("root") != signer:
        raise DirectoryError(f"directory for root {doc.get('root')} signed by {signer}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DirectoryError("directory version must be a positive integer")
    nodes: dict[str, NodeEntry] = {}
    for raw in doc.get("nodes") or []:
        entry = NodeEntry.from_dict(raw)
        if entry.node_id in nodes:
            raise DirectoryError(f"entry {entry.node_id} is listed twice")
        nodes[entry.node_id] = entry
    _check_tree(signer, nodes)
    return Directory(signer, version, parse_iso(str(doc.get("issued_at")), "issued_at"), nodes, body, dict(signed))


def verify_directory(signed: Mapping[str, Any], trusted_root_public_keys: Mapping[str, bytes], *,
                     cached: Directory | None = None) -> Directory:
    """Check a signed directory against the root keys this node trusts and the directory it caches.

    The signature is checked over the exact ``body`` bytes received; only then are they parsed.
    Raises ``DirectoryError`` for a bad or unknown signature, a signing key the directory itself
    shows as revoked, a version older than ``cached``, or a different body under ``cached``'s version.
    """
    try:
        body, kid = open_envelope(DIRECTORY, signed, trusted_root_public_keys)
    except ValueError as e:
        raise DirectoryError(f"directory rejected: {e}") from None
    d = _parse(body, str(signed.get("signer")), signed)
    root = d.nodes[d.root_id]
    if not any(k.key_id == kid and (k.revoked_at is None or d.issued_at < k.revoked_at) for k in root.keys):
        raise DirectoryError(f"directory signed with key {kid}, which it does not list as a valid root key")
    if cached is not None:
        if d.root_id != cached.root_id:
            raise DirectoryError(f"directory of root {d.root_id}, but this node belongs to {cached.root_id}")
        if d.version < cached.version:
            raise DirectoryError(f"directory version {d.version} is older than the cached version {cached.version}")
        if d.version == cached.version and d.body != cached.body:
            raise DirectoryError(f"two different directories carry version {d.version}")
    return d


def bootstrap_directory(signed: Mapping[str, Any], root_id: str) -> Directory:
    """First directory of a new node, received with its enrollment bundle from its parent (an
    out-of-band, trusted channel): verified with the root keys it lists itself, and its root must
    be ``root_id`` (the CN of the root certificate in the same bundle). Later directories are
    verified with ``verify_directory`` against the keys of the cached one."""
    try:
        body = b64d(str(signed.get("body")), "body")
    except ValueError as e:
        raise DirectoryError(str(e)) from None
    d = _parse(body, str(signed.get("signer")), signed)
    if d.root_id != root_id:
        raise DirectoryError(f"directory of root {d.root_id} does not match the root certificate {root_id}")
    return verify_directory(signed, {k.key_id: k.public_key for k in d.nodes[root_id].keys})
