"""The private part of an addressed record, sealed to its destination: HPKE (RFC 9180) base mode,
DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305 (``pyhpke``, built on ``cryptography``).

The recipient key is the destination's X25519 key published in the signed directory
(``enc_keys``, next to its Ed25519 signing keys); the AAD is the record's header, so a relay reads
the header and can open nothing, and a header changed on the way makes the private part unopenable
(on top of the origin's signature failing). ``info`` binds the seal to the origin, the
destination and the kind, so a sealed part cannot be lifted into another record.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pyhpke import AEADId, CipherSuite, KDFId, KEMId
from pyhpke.exceptions import OpenError

from federation.codec import write_atomic
from federation.directory import EncKey
from federation.signing import key_id as key_id_of

SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305)
INFO = b"yiwang-addressed-v1"


class SealError(ValueError):
    """A private part that cannot be opened here (not ours, tampered with, or no key)."""


def info(origin: str, dest: str, kind: str) -> bytes:
    return b"\n".join((INFO, origin.encode(), dest.encode(), kind.encode()))


def seal(recipient: EncKey, plaintext: bytes, aad: bytes, info_: bytes) -> tuple[bytes, bytes]:
    """``(enc, ciphertext)`` for ``recipient``."""
    enc, ctx = SUITE.create_sender_context(SUITE.kem.deserialize_public_key(recipient.public_key), info=info_)
    return enc, ctx.seal(plaintext, aad=aad)


def open_sealed(private: X25519PrivateKey, enc: bytes, ciphertext: bytes, aad: bytes, info_: bytes) -> bytes:
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    try:
        return SUITE.create_recipient_context(enc, SUITE.kem.deserialize_private_key(raw), info=info_).open(
            ciphertext, aad=aad)
    except (OpenError, ValueError) as e:
        raise SealError(f"the private part cannot be opened with this node's key: {e}") from None


def public_raw(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def enc_key_entry(private: X25519PrivateKey, valid_from: datetime) -> EncKey:
    raw = public_raw(private)
    return EncKey(key_id_of(raw), raw, valid_from)


def save_private(private: X25519PrivateKey, path: Path) -> None:
    write_atomic(path, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()), mode=0o600)


def load_private(path: Path) -> X25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise ValueError(f"{path.name}: not an X25519 private key")
    return key


def generate() -> X25519PrivateKey:
    return X25519PrivateKey.generate()
