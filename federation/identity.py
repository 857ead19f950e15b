"""A node's federation identity on disk, and enrollment of children by their parent.

Layout under ``<data_dir>/federation/``::

    node.json         node_id, name, parent_id (null for the province), level, current key id,
                      and every signing key this node has held (valid_from / valid_until)
    signing/<key_id>.pem   Ed25519 private keys, current and retired (mode 0600)
    enc/<key_id>.pem       X25519 private keys that addressed records are sealed to (mode 0600); the
                      public halves are in node.json (``enc_keys``) and travel in enrollment requests
                      into the directory
    tls.key           ECDSA P-256 TLS key (mode 0600)
    tls.crt           this node's certificate, issued by its parent (the province's is the root)
    ca.crt            the province's root certificate: the trust anchor for every TLS handshake
    chain.crt         tls.crt followed by the intermediates up to, excluding, the root
    directory.json    the cached signed node directory
    children.json     (parents) the children this node enrolled, with their keys and certificates

Retired signing keys stay on disk: they co-sign the province's directory during a rotation and
prove, in a re-enrollment request, that the new key belongs to the same node.

Enrollment: the child sends ``make_enrollment_request`` (its signing keys, each proving
possession by signing the request, and a TLS CSR) to its parent's admin; ``enroll_child`` checks
the division hierarchy, records the child and issues its certificate; the child installs the
returned bundle with ``install_enrollment``. Re-enrolling after a key rotation is the same flow,
and must be signed by a key the parent already has on record.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation import pki, signing
from federation.codec import (b64d, b64e, canonical_json, iso, parse_json, read_json, require_aware,
                              truncate_ms, utcnow, write_atomic, write_json)
from federation.directory import (Directory, DirectoryError, EncKey, KeyEntry, NodeEntry, bootstrap_directory,
                                  build_directory, merge_enc_keys, merge_keys, verify_directory)
from node.domain.divisions import Level, check_node_id, check_parent, expected_parent, level_of

REQUEST_FORMAT = "yiwang-enrollment-request/1"
BUNDLE_FORMAT = "yiwang-enrollment-bundle/1"


def federation_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / "federation"


@dataclass(frozen=True)
class Identity:
    """This node as the federation knows it. ``keys`` lists every signing key it has held."""

    node_id: str
    name: str
    parent_id: str | None
    level: Level
    home: Path
    key_id: str
    signing_key: Ed25519PrivateKey = field(compare=False, repr=False)
    keys: tuple[KeyEntry, ...] = ()
    enc_keys: tuple[EncKey, ...] = ()

    def enc_private(self, key_id: str) -> Any:
        """This node's X25519 private key ``key_id`` (``LookupError`` if it does not hold it)."""
        from federation.sealing import load_private

        path = self.home / "enc" / f"{key_id}.pem"
        if key_id not in {k.key_id for k in self.enc_keys} or not path.exists():
            raise LookupError(f"{self.node_id} holds no X25519 key {key_id!r}")
        return load_private(path)

    @property
    def public_key(self) -> bytes:
        return signing.public_raw(self.signing_key)

    @property
    def public_keys(self) -> dict[str, bytes]:
        return {k.key_id: k.public_key for k in self.keys}

    @property
    def is_province(self) -> bool:
        return self.parent_id is None

    @property
    def tls_key_path(self) -> Path:
        return self.home / "tls.key"

    @property
    def tls_cert_path(self) -> Path:
        return self.home / "tls.crt"

    @property
    def ca_cert_path(self) -> Path:
        return self.home / "ca.crt"

    @property
    def chain_path(self) -> Path:
        return self.home / "chain.crt"

    @property
    def directory_path(self) -> Path:
        return self.home / "directory.json"

    @property
    def children_path(self) -> Path:
        return self.home / "children.json"

    @property
    def enrolled(self) -> bool:
        """Whether this node holds a certificate (the province from ``init``, others after ``install``)."""
        return self.tls_cert_path.exists() and self.ca_cert_path.exists()

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature with the current key (what a log ``Signer`` needs)."""
        return signing.sign(self.signing_key, data)

    def signing_keys(self) -> list[tuple[str, Ed25519PrivateKey]]:
        """The current key first, then every retired key still on disk."""
        out = [(self.key_id, self.signing_key)]
        for k in sorted(self.keys, key=lambda k: k.valid_from, reverse=True):
            path = self.home / "signing" / f"{k.key_id}.pem"
            if k.key_id != self.key_id and path.exists():
                out.append((k.key_id, signing.load_private_key(path)))
        return out

    def directory_entry(self) -> dict[str, Any]:
        return NodeEntry(self.node_id, self.name, self.parent_id, self.level, self.keys,
                         enc_keys=self.enc_keys).to_dict()


def _node_doc(identity_home: Path) -> dict[str, Any] | None:
    doc = read_json(identity_home / "node.json")
    return doc if isinstance(doc, dict) else None


def load_identity(data_dir: Path | str) -> Identity | None:
    """The identity under ``data_dir``, or ``None`` if ``federation init`` has not been run."""
    home = federation_dir(data_dir)
    doc = _node_doc(home)
    if doc is None:
        return None
    keys = tuple(KeyEntry.from_dict(k, "node.json key") for k in doc["keys"])
    current = doc["current"]
    priv = signing.load_private_key(home / "signing" / f"{current}.pem")
    if signing.key_id(priv) != current:
        raise ValueError(f"signing/{current}.pem does not hold key {current}")
    enc = tuple(EncKey.from_dict(k, "node.json enc_key") for k in doc.get("enc_keys") or [])
    return Identity(doc["node_id"], doc["name"], doc.get("parent_id"), level_of(doc["node_id"]), home,
                    current, priv, keys, enc)


def ensure_enc_key(data_dir: Path | str, *, now: datetime | None = None) -> Identity:
    """The identity with an X25519 key for addressed records: an identity made before they existed
    gets one (on ``federation serve``'s start); it reaches the directory with the node's next
    enrollment request, as a rotated signing key does."""
    from federation import sealing

    ident = require_identity(data_dir)
    if ident.enc_keys:
        return ident
    now = truncate_ms(require_aware(now, "now") if now else utcnow())
    priv = sealing.generate()
    entry = sealing.enc_key_entry(priv, now)
    sealing.save_private(priv, ident.home / "enc" / f"{entry.key_id}.pem")
    _save_node(ident.home, ident.node_id, ident.name, ident.parent_id, ident.key_id, ident.keys, (entry,))
    return require_identity(data_dir)


def require_identity(data_dir: Path | str) -> Identity:
    ident = load_identity(data_dir)
    if ident is None:
        raise ValueError(f"no federation identity under {federation_dir(data_dir)}: run 'yiwang federation init'")
    return ident


def _save_node(home: Path, node_id: str, name: str, parent_id: str | None, current: str,
               keys: tuple[KeyEntry, ...], enc_keys: tuple[EncKey, ...] = ()) -> None:
    doc: dict[str, Any] = {"format": "yiwang-node/1", "node_id": node_id, "name": name, "parent_id": parent_id,
                           "level": level_of(node_id), "current": current, "keys": [k.to_dict() for k in keys]}
    if enc_keys:
        doc["enc_keys"] = [k.to_dict() for k in enc_keys]
    write_json(home / "node.json", doc)


def init_identity(data_dir: Path | str, node_id: str, name: str, parent_id: str | None, *,
                  now: datetime | None = None) -> Identity:
    """Create the identity: signing key and TLS key; for the province (no parent) also the
    self-signed root certificate and directory version 1. Refuses to overwrite an identity, since
    losing the old keys would make this node's past records unverifiable."""
    now = truncate_ms(require_aware(now, "now") if now else utcnow())
    check_parent(node_id, parent_id, child_field="node_id", parent_field="parent_id")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: the node's name is required (e.g. 拱墅区)")
    home = federation_dir(data_dir)
    if (home / "node.json").exists():
        raise ValueError(f"node_id: {home} already holds the identity of a node; refusing to replace it")
    priv = signing.generate()
    kid = signing.key_id(priv)
    signing.save_private_key(priv, home / "signing" / f"{kid}.pem")
    tls_key = pki.generate_tls_key()
    pki.save_tls_key(tls_key, home / "tls.key")
    keys = (KeyEntry(kid, signing.public_raw(priv), now),)
    from federation import sealing

    enc_priv = sealing.generate()
    enc = (sealing.enc_key_entry(enc_priv, now),)
    sealing.save_private(enc_priv, home / "enc" / f"{enc[0].key_id}.pem")
    _save_node(home, node_id, name.strip(), parent_id, kid, keys, enc)
    ident = Identity(node_id, name.strip(), parent_id, level_of(node_id), home, kid, priv, keys, enc)
    if parent_id is None:
        root = pki.pem(pki.self_signed_root(tls_key, node_id, now))
        for path in (ident.tls_cert_path, ident.ca_cert_path, ident.chain_path):
            write_atomic(path, root)
        write_json(ident.directory_path, build_directory(ident, [], 1, now))
    return ident


def make_enrollment_request(identity: Identity) -> dict[str, Any]:
    """``{"body": <base64 canonical JSON>, "proofs": [{"key_id", "signature"}]}``.

    The body holds node_id, name, parent_id, level, the signing keys (key_id, public key,
    valid_from, valid_until), the current key id and a TLS CSR. Every private key this node still
    holds signs the body: possession of the new key, and continuity with the keys on record.
    """
    tls_key = pki.load_tls_key(identity.tls_key_path.read_bytes())
    body = canonical_json({
        "format": REQUEST_FORMAT, "node_id": identity.node_id, "name": identity.name,
        "parent_id": identity.parent_id, "level": identity.level, "current_key_id": identity.key_id,
        "signing_keys": [k.to_dict() for k in identity.keys],
        **({"enc_keys": [k.to_dict() for k in identity.enc_keys]} if identity.enc_keys else {}),
        "csr_pem": pki.make_csr(tls_key, identity.node_id).decode("ascii"),
    })
    return {"body": b64e(body),
            "proofs": [{"key_id": kid, "signature": signing.proof(signing.ENROLLMENT, body, priv)}
                       for kid, priv in identity.signing_keys()]}


def read_enrollment_request(request: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The request's exact body bytes and their parsed content (not yet verified)."""
    if not isinstance(request, Mapping) or not isinstance(request.get("body"), str):
        raise ValueError("request: not an enrollment request (no 'body')")
    body = b64d(request["body"], "request body")
    doc = parse_json(body)
    if not isinstance(doc, dict) or doc.get("format") != REQUEST_FORMAT:
        raise ValueError(f"request: not a {REQUEST_FORMAT} document")
    return body, doc


def read_children(identity: Identity) -> dict[str, dict[str, Any]]:
    data = read_json(identity.children_path, {})
    return data if isinstance(data, dict) else {}


def enroll_child(parent_identity: Identity, request: Mapping[str, Any], now: datetime, *,
                 replace: bool = False) -> dict[str, Any]:
    """Check a child's request, record the child in ``children.json`` and issue its certificate.

    Refused (``ValueError`` naming the field) when the child is not directly below this node in
    the division hierarchy, a key lacks its proof of possession, or — for a child already on
    record — no key on record signed the request (``replace=True`` is the admin's override after
    a child lost its keys; the old keys stay listed either way, so old records still verify).
    Returns the bundle for ``install_enrollment``: the child's cert, chain, the root cert and this
    node's cached directory.
    """
    now = truncate_ms(require_aware(now, "now"))
    parent = parent_identity
    if parent.level == "county":
        raise ValueError(f"node_id: {parent.node_id} is a county; counties enroll nobody")
    if not parent.enrolled:
        raise ValueError(f"{parent.node_id} has no certificate yet; install its own enrollment first")
    body, doc = read_enrollment_request(request)
    child_id = check_node_id(doc.get("node_id"), "node_id")
    check_parent(child_id, parent.node_id)
    if doc.get("parent_id") != parent.node_id:
        raise ValueError(f"parent_id: the request names {doc.get('parent_id')} as parent, this node is {parent.node_id}")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: the child's name is required")
    try:
        keys = [KeyEntry.from_dict(k, "signing_keys") for k in doc.get("signing_keys") or []]
    except DirectoryError as e:
        raise ValueError(str(e)) from None
    by_id = {k.key_id: k for k in keys}
    current = doc.get("current_key_id")
    if current not in by_id:
        raise ValueError("signing_keys: the current key is not listed")
    proven: set[str] = set()
    for p in request.get("proofs") or []:
        kid = p.get("key_id") if isinstance(p, Mapping) else None
        if kid in by_id and signing.check_proof(signing.ENROLLMENT, body, by_id[kid].public_key,
                                                 str(p.get("signature"))):
            proven.add(kid)
    children = read_children(parent)
    old = children.get(child_id)
    old_keys = NodeEntry.from_dict(old).keys if old else ()
    on_record = {k.key_id for k in old_keys}
    for k in keys:
        if k.key_id not in on_record and k.key_id not in proven:
            raise ValueError(f"signing_keys: key {k.key_id} is not proven (the request must be signed with it)")
        if k.valid_from > now + pki.CLOCK_SKEW:
            raise ValueError(f"signing_keys: key {k.key_id} becomes valid in the future ({iso(k.valid_from)})")
    if current not in proven:
        raise ValueError(f"signing_keys: the current key {current} did not sign the request")
    if old_keys:
        if not replace and not proven & {k.key_id for k in old_keys if k.revoked_at is None}:
            raise ValueError(f"node_id: {child_id} is already enrolled and no key on record signed this request "
                             "(an admin can re-enroll it with --replace)")
        latest = max(k.valid_from for k in old_keys)
        for k in keys:
            if k.key_id not in on_record and k.valid_from < latest:
                raise ValueError(f"signing_keys: new key {k.key_id} claims validity before a key on record")
    try:
        merged = merge_keys(old_keys, keys)
        enc_keys = merge_enc_keys(NodeEntry.from_dict(old).enc_keys if old else (),
                                  [EncKey.from_dict(k, "enc_keys") for k in doc.get("enc_keys") or []])
    except DirectoryError as e:
        raise ValueError(str(e)) from None
    csr = pki.load_csr(str(doc.get("csr_pem", "")), child_id)
    issuer_cert = pki.load_pem_chain(parent.tls_cert_path.read_bytes())[0]
    issuer_key = pki.load_tls_key(parent.tls_key_path.read_bytes())
    cert = pki.issue_node_cert(issuer_cert, issuer_key, csr, child_id, level_of(child_id), now)
    root = pki.load_pem_chain(parent.ca_cert_path.read_bytes(), "ca.crt")[0]
    chain = [cert] + [c for c in pki.load_pem_chain(parent.chain_path.read_bytes(), "chain.crt") if c != root]
    entry = NodeEntry(child_id, name.strip(), parent.node_id, level_of(child_id), merged,
                      NodeEntry.from_dict(old).revoked_at if old else None, enc_keys).to_dict()
    entry.update({"cert_sha256": pki.cert_sha256(cert), "cert_not_after": iso(cert.not_valid_after_utc),
                  "enrolled_at": (old or {}).get("enrolled_at", iso(now)), "updated_at": iso(now)})
    children[child_id] = entry
    write_json(parent.children_path, children)
    directory = read_json(parent.directory_path)
    return {"format": BUNDLE_FORMAT, "node_id": child_id, "parent_id": parent.node_id,
            "cert_pem": pki.pem(cert).decode("ascii"),
            "chain_pem": b"".join(pki.pem(c) for c in chain).decode("ascii"),
            "root_pem": pki.pem(root).decode("ascii"), "directory": directory}


def install_enrollment(child_data_dir: Path | str, bundle: Mapping[str, Any], *,
                       now: datetime | None = None) -> Identity:
    """Check and install the bundle from ``enroll_child``: the cert must be for this node and its
    TLS key, issued by its parent, chained to the root; the root must be the one already trusted
    (if any). The bundled directory is accepted unless older than the cached one."""
    now = require_aware(now, "now") if now else utcnow()
    ident = require_identity(child_data_dir)
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"bundle: not a {BUNDLE_FORMAT} document")
    if bundle.get("node_id") != ident.node_id:
        raise ValueError(f"node_id: the bundle is for {bundle.get('node_id')}, this node is {ident.node_id}")
    if ident.parent_id is None:
        raise ValueError("node_id: the province is the root; it installs no enrollment")
    chain = pki.load_pem_chain(str(bundle.get("chain_pem", "")), "chain_pem")
    cert = pki.load_pem_chain(str(bundle.get("cert_pem", "")), "cert_pem")[0]
    root = pki.load_pem_chain(str(bundle.get("root_pem", "")), "root_pem")[0]
    if chain[0] != cert:
        raise ValueError("chain_pem: does not start with the node's certificate")
    if pki.node_id_of(cert) != ident.node_id:
        raise ValueError(f"cert_pem: issued to {pki.node_id_of(cert)}, not {ident.node_id}")
    if not pki.same_public_key(cert, pki.load_tls_key(ident.tls_key_path.read_bytes())):
        raise ValueError("cert_pem: not issued for this node's TLS key (was the request made by another install?)")
    if pki.common_name(cert.issuer) != ident.parent_id:
        raise ValueError(f"cert_pem: issued by {pki.common_name(cert.issuer)}, not the parent {ident.parent_id}")
    pki.check_chain(chain, root, now)
    if ident.ca_cert_path.exists() and pki.load_pem_chain(ident.ca_cert_path.read_bytes())[0] != root:
        raise ValueError("root_pem: differs from the root this node already trusts")
    signed = bundle.get("directory")
    if signed is not None:
        _install_bundled_directory(ident, signed, str(pki.node_id_of(root)))
    write_atomic(ident.ca_cert_path, pki.pem(root))
    write_atomic(ident.chain_path, b"".join(pki.pem(c) for c in chain))
    write_atomic(ident.tls_cert_path, pki.pem(cert))
    return ident


def _install_bundled_directory(ident: Identity, signed: Mapping[str, Any], root_id: str) -> None:
    cached = read_json(ident.directory_path)
    if cached is None:
        d = bootstrap_directory(signed, root_id)
    else:
        old = bootstrap_directory(cached, root_id)
        if bootstrap_directory(signed, root_id).version <= old.version:
            return
        d = verify_directory(signed, old.root_keys(), cached=old)
    write_json(ident.directory_path, dict(d.signed))


def rotate_signing_key(data_dir: Path | str, *, now: datetime | None = None) -> str:
    """A new current signing key from ``now``; the old one gets ``valid_until = now`` and stays on
    disk and in the key list, so records it signed before ``now`` keep verifying. The province
    republishes its directory afterwards (``registry.publish_directory``); other nodes carry the
    new key upward by re-enrolling (``make_enrollment_request``)."""
    now = truncate_ms(require_aware(now, "now") if now else utcnow())
    ident = require_identity(data_dir)
    cur = next(k for k in ident.keys if k.key_id == ident.key_id)
    if now <= cur.valid_from:
        raise ValueError("now: a key cannot be rotated before it became valid")
    priv = signing.generate()
    kid = signing.key_id(priv)
    signing.save_private_key(priv, ident.home / "signing" / f"{kid}.pem")
    keys = tuple(KeyEntry(k.key_id, k.public_key, k.valid_from, now if k.key_id == ident.key_id else k.valid_until,
                          k.revoked_at) for k in ident.keys) + (KeyEntry(kid, signing.public_raw(priv), now),)
    _save_node(ident.home, ident.node_id, ident.name, ident.parent_id, kid, keys, ident.enc_keys)
    return kid


def cached_directory(identity: Identity) -> Directory | None:
    """The cached directory, re-checked for integrity against the root it names (it was verified
    against the trusted keys when it was installed)."""
    signed = read_json(identity.directory_path)
    if signed is None:
        return None
    root_id = identity.node_id if identity.is_province else expected_root(identity.node_id)
    return bootstrap_directory(signed, root_id)


def expected_root(node_id: str) -> str:
    parent = expected_parent(node_id)
    return node_id if parent is None else expected_root(parent)
