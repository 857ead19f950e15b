"""The federation's X.509 hierarchy: the province is the root CA, cities are intermediate CAs,
counties are leaves.

Each certificate names its node in the common name (``CN=330105``) and in a SAN URI
``yiwang://node/330105``; it also carries DNS ``node-330105.yiwang`` (a client can pin the node it
means to reach with ``grpc.ssl_target_name_override``), DNS ``localhost`` and IP ``127.0.0.1``
so loopback deployments and tests verify hostnames as production does.

Path lengths mirror the hierarchy: the root has ``pathlen=1`` and a city ``pathlen=0``, so a city
can issue county certificates but no further CAs, and a county can issue nothing. Because a city
can sign any name, a peer's certificate must also have been issued by the node the directory
names as its parent (see ``federation.tls.check_peer``).

TLS keys are ECDSA P-256 (what every gRPC TLS stack negotiates); the Ed25519 keys in
``federation.signing`` sign records and documents, never TLS handshakes.
"""
from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from federation.codec import require_aware, write_atomic
from node.domain.divisions import Level

URI_PREFIX = "yiwang://node/"
CLOCK_SKEW = timedelta(minutes=5)
LIFETIME: dict[str, timedelta] = {"province": timedelta(days=20 * 365), "city": timedelta(days=5 * 365),
                                  "county": timedelta(days=2 * 365)}
PATHLEN: dict[str, int | None] = {"province": 1, "city": 0, "county": None}


def node_hostname(node_id: str) -> str:
    return f"node-{node_id}.yiwang"


def generate_tls_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def save_tls_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_atomic(path, pem, 0o600)


def load_tls_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the TLS key is not an EC private key")
    return key


def _name(node_id: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Yiwang federation")])


def make_csr(key: ec.EllipticCurvePrivateKey, node_id: str) -> bytes:
    """A PEM CSR for ``node_id``; its self-signature proves the requester holds the TLS key."""
    csr = x509.CertificateSigningRequestBuilder().subject_name(_name(node_id)).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


def load_csr(pem: str | bytes, node_id: str) -> x509.CertificateSigningRequest:
    """Parse and check a CSR: valid self-signature, EC P-256 key, common name ``node_id``."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode() if isinstance(pem, str) else pem)
    except ValueError:
        raise ValueError("csr_pem: not a PEM certificate signing request") from None
    if not csr.is_signature_valid:
        raise ValueError("csr_pem: the request's signature does not verify")
    pub = csr.public_key()
    if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != "secp256r1":
        raise ValueError("csr_pem: the TLS key must be ECDSA P-256")
    if common_name(csr.subject) != node_id:
        raise ValueError(f"csr_pem: the request is for {common_name(csr.subject)!r}, not node {node_id}")
    return csr


def common_name(name: x509.Name) -> str | None:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def node_id_of(cert: x509.Certificate) -> str | None:
    return common_name(cert.subject)


def _builder(subject_id: str, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, level: Level,
             now: datetime, not_after: datetime) -> x509.CertificateBuilder:
    pathlen = PATHLEN[level]
    is_ca = level != "county"
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject_id))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=pathlen if is_ca else None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=is_ca,
                                     crl_sign=is_ca, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName([
            x509.UniformResourceIdentifier(URI_PREFIX + subject_id),
            x509.DNSName(node_hostname(subject_id)),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def self_signed_root(key: ec.EllipticCurvePrivateKey, node_id: str, now: datetime) -> x509.Certificate:
    """The province's certificate: root CA of the federation and the province's own TLS cert."""
    require_aware(now, "now")
    b = _builder(node_id, _name(node_id), key.public_key(), "province", now, now + LIFETIME["province"])
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    return b.sign(key, hashes.SHA256())


def issue_node_cert(issuer_cert: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey,
                    csr: x509.CertificateSigningRequest, node_id: str, level: Level,
                    now: datetime) -> x509.Certificate:
    """The child's certificate for the key in ``csr`` (already checked by ``load_csr``); it never
    outlives its issuer, so an expiring city does not leave county certs pointing at nothing."""
    require_aware(now, "now")
    pub = csr.public_key()
    assert isinstance(pub, ec.EllipticCurvePublicKey)
    not_after = min(now + LIFETIME[level], issuer_cert.not_valid_after_utc)
    b = _builder(node_id, issuer_cert.subject, pub, level, now, not_after)
    ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_pem_chain(data: str | bytes, what: str = "certificate") -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data.encode() if isinstance(data, str) else data)
    except ValueError:
        raise ValueError(f"{what}: not PEM certificates") from None
    if not certs:
        raise ValueError(f"{what}: no certificate found")
    return certs


def cert_sha256(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def same_public_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def check_chain(chain: list[x509.Certificate], root: x509.Certificate, at: datetime) -> None:
    """``chain[0]`` is a node's cert, followed by intermediates; each must be issued by the next
    and the last by ``root``; every issuer must be a CA and every cert valid at ``at``.

    Raises ``ValueError`` naming the first broken link.
    """
    require_aware(at, "at")
    path = list(chain)
    if path[-1] != root:
        path.append(root)
    for cert in path:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise ValueError(f"certificate of {node_id_of(cert)} is not valid at {at.isoformat()}")
    for depth, (cert, issuer) in enumerate(zip(path, path[1:])):
        bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not bc.ca:
            raise ValueError(f"certificate of {node_id_of(issuer)} is not a CA but issued {node_id_of(cert)}")
        if bc.path_length is not None and depth > bc.path_length:
            raise ValueError(f"{node_id_of(issuer)} may not issue a chain this long")
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError):
            raise ValueError(f"certificate of {node_id_of(cert)} was not issued by {node_id_of(issuer)}") from None
    try:
        root.verify_directly_issued_by(root)
    except (InvalidSignature, ValueError, TypeError):
        raise ValueError("the root certificate is not self-signed") from None
