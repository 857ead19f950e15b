"""Mutual TLS between nodes, and who the peer is.

Both ends present their node certificate and trust only the province's root, so a handshake
proves the peer holds a key the federation certified. The peer's node id is taken from its
certificate (``CN``), never from anything it says: a message claiming to come from 330105 is
accepted only over a connection whose certificate is 330105's (``check_peer``), that node must be
in the directory and not revoked, and its certificate must have been issued by the parent the
directory names — a city CA can technically sign any name, so the issuer is checked too.

Clients should pin the node they mean to reach with ``channel_options(node_id)``: it sets the TLS
target name to ``node-<id>.yiwang``, which only that node's certificate carries.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import grpc
from cryptography import x509

from federation import pki
from federation.codec import require_aware, utcnow
from federation.directory import Directory
from node.domain.divisions import check_node_id
from federation.identity import Identity


def _material(identity: Identity) -> tuple[bytes, bytes, bytes]:
    if not identity.enrolled:
        raise ValueError(f"{identity.node_id} has no certificate yet: enroll it with its parent first")
    return (identity.tls_key_path.read_bytes(), identity.chain_path.read_bytes(),
            identity.ca_cert_path.read_bytes())


def server_credentials(identity: Identity) -> grpc.ServerCredentials:
    """Serve with this node's key and chain; require a client certificate chained to the root."""
    key, chain, root = _material(identity)
    return grpc.ssl_server_credentials([(key, chain)], root_certificates=root, require_client_auth=True)


def channel_credentials(identity: Identity) -> grpc.ChannelCredentials:
    """Connect presenting this node's certificate; trust only the root."""
    key, chain, root = _material(identity)
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=chain)


def channel_options(peer_node_id: str) -> list[tuple[str, Any]]:
    """Channel options that make the handshake fail unless the server is ``peer_node_id``."""
    return [("grpc.ssl_target_name_override", pki.node_hostname(check_node_id(peer_node_id, "peer_node_id")))]


def _auth(context: grpc.ServicerContext, key: str) -> bytes | None:
    # grpc maps each property to a list of values; types-grpcio declares Mapping[str, bytes].
    auth = cast(Mapping[str, Sequence[bytes]], context.auth_context() or {})
    values = auth.get(key) or []
    return values[0] if values else None


def peer_node_id(context: grpc.ServicerContext) -> str | None:
    """The node id in the peer's verified certificate, or ``None`` (no client cert / not a node id)."""
    cn = _auth(context, "x509_common_name")
    if cn is None:
        return None
    try:
        return check_node_id(cn.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def peer_certificate(context: grpc.ServicerContext) -> x509.Certificate | None:
    data = _auth(context, "x509_pem_cert")
    return x509.load_pem_x509_certificate(data) if data else None


def check_peer(peer_id: str | None, claimed_id: str | None, directory: Directory, *,
               at: datetime | None = None, cert: x509.Certificate | None = None) -> None:
    """Raise ``PermissionError`` unless the peer may act as ``claimed_id``.

    ``peer_id`` comes from the certificate (``peer_node_id``); ``claimed_id`` is what the peer's
    message says (``None`` when it claims nothing). With ``cert`` the issuer is checked against the
    directory's parent of the peer.
    """
    at = require_aware(at, "at") if at else utcnow()
    if peer_id is None:
        raise PermissionError("the peer presented no node certificate")
    if claimed_id is not None and claimed_id != peer_id:
        raise PermissionError(f"the peer's certificate is for node {peer_id}, but it claims to be {claimed_id}")
    node = directory.node(peer_id)
    if node is None:
        raise PermissionError(f"node {peer_id} is not in the directory (version {directory.version})")
    if directory.is_revoked(peer_id, at):
        raise PermissionError(f"node {peer_id} was revoked in the directory")
    if cert is not None:
        if pki.node_id_of(cert) != peer_id:
            raise PermissionError(f"the certificate is for {pki.node_id_of(cert)}, not {peer_id}")
        issuer = pki.common_name(cert.issuer)
        expected = node.parent_id or peer_id
        if issuer != expected:
            raise PermissionError(f"node {peer_id}'s certificate was issued by {issuer}, not by its parent {expected}")
