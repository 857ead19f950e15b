"""Ed25519 signing keys and signed JSON documents.

Every node signs what it authors (log records, checkpoints, subtree exports; the province also the
node directory) with an Ed25519 key. A key is named by its ``key_id``: the first 16 hex digits of
the SHA-256 of its raw 32-byte public key, so any node can recompute it from the directory and a
record cannot claim a key id that does not belong to the key.

Signatures are over bytes, never over objects. Signed JSON documents travel as an envelope
``{"body": <base64 of the exact bytes>, "signer": <node id>, "key_id": ..., "signature": ...}``;
the signature covers a purpose label followed by the body (``b"yiwang-directory-v1\\n" + body``) so
that a signature made for one kind of document can never be replayed as another kind. An envelope
may carry ``cosignatures`` (``[{"key_id", "signature"}]``) made with the signer's other keys: the
province co-signs with its retired keys so that nodes which only know the old key can follow a
rotation.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from federation.codec import b64d, b64e, canonical_json, write_atomic

DIRECTORY = b"yiwang-directory-v1"
SUBTREE = b"yiwang-subtree-v1"
ENROLLMENT = b"yiwang-enrollment-v1"


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw public-key bytes (what the directory lists and what ``verify`` takes)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    """First 16 hex digits of sha256(raw public key)."""
    raw = public_key if isinstance(public_key, bytes) else public_raw(public_key)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return hashlib.sha256(raw).hexdigest()[:16]


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """PKCS#8 PEM, unencrypted, file mode 0600 from its creation (the disk is the node's vault)."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_atomic(path, pem, 0o600)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def save_public_key(key: Ed25519PublicKey | Ed25519PrivateKey, path: Path) -> None:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    write_atomic(path, pub.public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo))


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def sign(priv: Ed25519PrivateKey, data: bytes) -> bytes:
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("sign bytes, not objects")
    return priv.sign(bytes(data))


def verify(pub_raw: bytes, sig: bytes, data: bytes) -> bool:
    """True only for a valid signature; any malformed input is simply ``False``, never an error,
    so a hostile peer cannot turn a bad signature into a crash."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes(pub_raw)).verify(bytes(sig), bytes(data))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def _labelled(purpose: bytes, body: bytes) -> bytes:
    return purpose + b"\n" + body


def seal(purpose: bytes, body: bytes, signer: str, keys: list[tuple[str, Ed25519PrivateKey]]) -> dict[str, Any]:
    """An envelope over ``body`` signed by ``keys[0]`` and co-signed by the rest."""
    if not keys:
        raise ValueError("at least one signing key is needed")
    (kid, priv), others = keys[0], keys[1:]
    env: dict[str, Any] = {"body": b64e(body), "signer": signer, "key_id": kid,
                           "signature": b64e(sign(priv, _labelled(purpose, body)))}
    if others:
        env["cosignatures"] = [{"key_id": k, "signature": b64e(sign(p, _labelled(purpose, body)))}
                               for k, p in others]
    return env


def seal_json(purpose: bytes, obj: Any, signer: str, keys: list[tuple[str, Ed25519PrivateKey]]) -> dict[str, Any]:
    return seal(purpose, canonical_json(obj), signer, keys)


def open_envelope(purpose: bytes, env: Mapping[str, Any], trusted: Mapping[str, bytes]) -> tuple[bytes, str]:
    """The body bytes and the id of the trusted key that signed them.

    ``trusted`` maps key id to raw public key. The main signature and every co-signature are tried;
    one valid signature by a trusted key suffices. Raises ``ValueError`` otherwise.
    """
    if not isinstance(env, Mapping):
        raise ValueError("a signed document is a JSON object")
    for field in ("body", "signer", "key_id", "signature"):
        if not isinstance(env.get(field), str):
            raise ValueError(f"signed document lacks '{field}'")
    body = b64d(env["body"], "body")
    sigs = [(env["key_id"], env["signature"])]
    for c in env.get("cosignatures") or []:
        if isinstance(c, Mapping) and isinstance(c.get("key_id"), str) and isinstance(c.get("signature"), str):
            sigs.append((c["key_id"], c["signature"]))
    known = [(k, s) for k, s in sigs if k in trusted]
    if not known:
        raise ValueError(f"signed by key {env['key_id']} of {env['signer']}, which this node does not trust")
    for kid, sig in known:
        try:
            raw_sig = b64d(sig, "signature")
        except ValueError:
            continue
        if verify(trusted[kid], raw_sig, _labelled(purpose, body)):
            return body, kid
    raise ValueError(f"bad signature on document signed by {env['signer']} (key {env['key_id']})")


def proof(purpose: bytes, body: bytes, priv: Ed25519PrivateKey) -> str:
    """A detached base64 signature over ``body`` for ``purpose`` (proof of possession)."""
    return b64e(sign(priv, _labelled(purpose, body)))


def check_proof(purpose: bytes, body: bytes, pub_raw: bytes, signature_b64: str) -> bool:
    try:
        sig = b64d(signature_b64, "signature")
    except ValueError:
        return False
    return verify(pub_raw, sig, _labelled(purpose, body))
