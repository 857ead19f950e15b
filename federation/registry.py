"""Getting every node into the province's directory, and the directory to every node.

The province enrolls only cities, so it learns about counties from their cities: a city exports
the entries of the children it enrolled, signed with its own key (``export_subtree_entries``);
the province checks that signature against the city's key on record and that every entry lies
in that city's subtree before importing it (``import_subtree_entries``) — a city can vouch for its
own counties and nobody else. The province then publishes the next directory version from its
cached directory, its children, the imported subtrees and its revocations
(``publish_directory``). Entries are merged, never replaced: a key once listed stays listed, so a
city that forgets a key cannot make old county records unverifiable.

Local files kept by the province next to the identity: ``subtrees.json`` (last import per city)
and ``revocations.json``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from federation import signing
from federation.codec import iso, parse_iso, parse_json, read_json, require_aware, write_json
from federation.directory import (Directory, DirectoryError, NodeEntry, apply_revocation, build_directory,
                                  merge_entry, verify_directory)
from node.domain.divisions import check_node_id, check_parent
from federation.identity import Identity, cached_directory, read_children

SUBTREE_FORMAT = "yiwang-subtree/1"


def _require_province(identity: Identity, what: str) -> None:
    if not identity.is_province:
        raise ValueError(f"only the province {what}; {identity.node_id} is a {identity.level}")


def trusted_root_keys(identity: Identity) -> dict[str, bytes]:
    """Root keys this node accepts a new directory from: the province's own keys at the province,
    the unrevoked root keys of the cached directory elsewhere."""
    if identity.is_province:
        return identity.public_keys
    d = cached_directory(identity)
    if d is None:
        raise ValueError(f"{identity.node_id} has no cached directory yet; install its enrollment bundle first")
    return d.root_keys()


def install_directory(identity: Identity, signed: Mapping[str, Any]) -> Directory:
    """Verify a newly published directory against the cached one and cache it."""
    cached = cached_directory(identity)
    d = verify_directory(signed, cached.root_keys() if cached else trusted_root_keys(identity), cached=cached)
    write_json(identity.directory_path, dict(d.signed))
    return d


def _children_entries(identity: Identity) -> list[NodeEntry]:
    return [NodeEntry.from_dict(e) for _, e in sorted(read_children(identity).items())]


def collect_entries(province_identity: Identity) -> list[dict[str, Any]]:
    """Everything the next directory lists: the cached directory (nothing ever drops out), the
    province's children, the imported subtrees, with recorded revocations applied."""
    _require_province(province_identity, "collects directory entries")
    nodes: dict[str, NodeEntry] = {}

    def add(e: NodeEntry) -> None:
        nodes[e.node_id] = merge_entry(nodes.get(e.node_id), e)

    cached = cached_directory(province_identity)
    for e in cached.nodes.values() if cached else ():
        add(e)
    for e in _children_entries(province_identity):
        add(e)
    subtrees = read_json(province_identity.home / "subtrees.json", {})
    for city in sorted(subtrees):
        for raw in subtrees[city]["entries"]:
            add(NodeEntry.from_dict(raw))
    add(NodeEntry.from_dict(province_identity.directory_entry()))
    entries = [nodes[n].to_dict() for n in sorted(nodes)]
    for r in read_json(province_identity.home / "revocations.json", []):
        entries = apply_revocation(entries, r["node_id"], r.get("key_id"), parse_iso(r["at"]), r.get("last_seq"))
    return entries


def publish_directory(province_identity: Identity, now: datetime) -> dict[str, Any]:
    """Sign the next directory version, cache it and return it (what nodes install)."""
    _require_province(province_identity, "publishes the directory")
    cached = cached_directory(province_identity)
    signed = build_directory(province_identity, collect_entries(province_identity),
                             (cached.version if cached else 0) + 1, now)
    install_directory(province_identity, signed)
    return signed


def revoke(province_identity: Identity, node_id: str, key_id: str | None, at: datetime,
           last_seqs: Mapping[str, int] | None = None) -> None:
    """Record a revocation (of a node, or one of its keys) from ``at``; it takes effect in the
    next published directory and is re-applied to every later one. ``last_seqs`` (key id -> the
    highest sequence number accepted under it, see ``federation.revocation``) is what receivers
    go by: later records under the key are refused however they are dated."""
    _require_province(province_identity, "revokes")
    require_aware(at, "at")
    check_node_id(node_id)
    if node_id == province_identity.node_id and key_id in (None, province_identity.key_id):
        raise ValueError("key_id: the province cannot revoke itself or its current key; rotate the key first")
    entries = collect_entries(province_identity)
    apply_revocation(entries, node_id, key_id, at, last_seqs)
    path = province_identity.home / "revocations.json"
    entry: dict[str, Any] = {"node_id": node_id, "key_id": key_id, "at": iso(at)}
    if last_seqs is not None:
        entry["last_seq"] = dict(last_seqs)
    write_json(path, read_json(path, []) + [entry])


def export_subtree_entries(identity: Identity, now: datetime) -> dict[str, Any]:
    """A city's signed report of the children it enrolled (for ``import_subtree_entries``)."""
    if identity.level != "city":
        raise ValueError(f"only a city exports its subtree to the province; {identity.node_id} is a {identity.level}")
    body = {"format": SUBTREE_FORMAT, "city": identity.node_id, "exported_at": iso(require_aware(now, "now")),
            "entries": [e.to_dict() for e in _children_entries(identity)]}
    return signing.seal_json(signing.SUBTREE, body, identity.node_id, [(identity.key_id, identity.signing_key)])


def import_subtree_entries(province_identity: Identity, signed_entries: Mapping[str, Any]) -> list[str]:
    """Check a city's export and keep it for the next directory; returns the imported node ids.

    The signer must be a city this province enrolled, the signing key one the province has on
    record for it (valid at ``exported_at``), every entry a node whose parent is that city, and the
    export newer than the last one imported from it (an old export replayed changes nothing).
    """
    _require_province(province_identity, "imports subtree entries")
    city_id = str(signed_entries.get("signer")) if isinstance(signed_entries, Mapping) else ""
    record = read_children(province_identity).get(city_id)
    if record is None:
        raise ValueError(f"signer: {city_id or '(none)'} is not a city enrolled by {province_identity.node_id}")
    city = NodeEntry.from_dict(record)
    body, kid = signing.open_envelope(signing.SUBTREE, signed_entries, {k.key_id: k.public_key for k in city.keys})
    doc = parse_json(body)
    if not isinstance(doc, dict) or doc.get("format") != SUBTREE_FORMAT or doc.get("city") != city_id:
        raise ValueError(f"not a {SUBTREE_FORMAT} export of {city_id}")
    exported_at = parse_iso(str(doc.get("exported_at")), "exported_at")
    key = next(k for k in city.keys if k.key_id == kid)
    if not key.valid_at(exported_at) or (city.revoked_at is not None and exported_at >= city.revoked_at):
        raise ValueError(f"key_id: key {kid} of {city_id} was not valid at {iso(exported_at)}")
    path = province_identity.home / "subtrees.json"
    subtrees: dict[str, Any] = read_json(path, {})
    prev = subtrees.get(city_id)
    if prev is not None and exported_at <= parse_iso(prev["exported_at"]):
        if exported_at == parse_iso(prev["exported_at"]):
            return sorted(e["node_id"] for e in prev["entries"])
        raise ValueError(f"exported_at: older than the export already imported from {city_id}")
    merged: dict[str, NodeEntry] = {}
    for raw in prev["entries"] if prev else []:
        e = NodeEntry.from_dict(raw)
        merged[e.node_id] = e
    for raw in doc.get("entries") or []:
        try:
            e = NodeEntry.from_dict(raw)
        except (DirectoryError, ValueError) as err:
            raise ValueError(f"entries: {err}") from None
        if e.parent_id != city_id:
            raise ValueError(f"entries: {e.node_id} is not in the subtree of {city_id} (its parent is {e.parent_id})")
        check_parent(e.node_id, city_id, child_field="entries.node_id", parent_field="signer")
        merged[e.node_id] = merge_entry(merged.get(e.node_id), e)
    subtrees[city_id] = {"exported_at": iso(exported_at), "key_id": kid,
                         "entries": [merged[n].to_dict() for n in sorted(merged)]}
    write_json(path, subtrees)
    return sorted(merged)

