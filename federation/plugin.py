"""The federation as a node plugin (entry point ``yiwang.plugins: federation``): a node with a
federation identity signs its case events into its log, signs standard-catalog changes (the
province) and asks owning nodes for case files; ``yiwang federation ...`` and ``yiwang demo``."""
from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import grpc

from federation import catalog, tls
from federation.envelope import Signer
from federation.history import SignedHistoryReader
from federation.identity import Identity, load_identity
from federation.log import SignedLog
from federation.pb.v1 import federation_pb2 as pb
from node.ports import CatalogChangeFields

if TYPE_CHECKING:
    import click

    from node.config import Settings
    from node.services.context import NodeContext


class CatalogCodec:
    """``node.ports.StandardCatalogCodec``: reads the signed changes held here; signs changes
    when the node has a signer (the province)."""

    def __init__(self, signer: Signer | None) -> None:
        self.signer = signer

    def sign_change(self, seq: int, change: str, item_code: str, name: str, legal_limit_days: int, kind: str,
                    level: str, note: str, now: datetime) -> tuple[bytes, bytes]:
        if self.signer is None:
            raise LookupError("this node has no federation identity to sign with")
        return catalog.sign_change(self.signer, seq, change, item_code, name, legal_limit_days, kind, level, note, now)

    def parse_change(self, body: bytes) -> CatalogChangeFields:
        m = catalog.parse_change(body)
        return CatalogChangeFields(m.publisher, m.seq, m.change, m.item_code, m.name, m.legal_limit_days, m.kind,
                                   m.level, m.note, m.key_id, catalog.published_at(m))


class OwnerPull:
    """``node.ports.OwnerGateway``: a case file asked of its owner over mutual TLS."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def fetch_case_detail(self, owner: str, code: str, requester: str, purpose: str) -> dict[str, Any]:
        addr = peer_addresses().get(owner)
        if addr is None:
            raise LookupError(f"this node does not know how to reach {owner} (YIWANG_FEDERATION_PEERS)")
        return asyncio.run(fetch_case_detail(self.identity, addr, owner, code, requester, purpose))


def install(ctx: "NodeContext") -> Identity | None:
    """The node's ports from its federation identity (``<data dir>/federation``), if it has one;
    returns the identity (None: no identity, no signed log). The catalog codec (reading) and the
    integrity scanner are given either way."""
    if ctx.catalog_codec is None:
        ctx.catalog_codec = CatalogCodec(None)  # changes relayed from above are read with or without an identity
    if ctx.integrity is None:  # the periodic rules read what is held: nothing without an identity, no harm
        from federation.integrity import LogScanner

        ctx.integrity = LogScanner()
    ident = load_identity(ctx.settings.data_dir)
    if ident is not None:
        attach(ctx, Signer(ident.node_id, ident.key_id, ident.sign), id_hash_key(ctx.settings), ident)
    return ident


def attach(ctx: "NodeContext", signer: Signer, id_key: bytes | None = None, identity: Identity | None = None) -> None:
    """Give ``ctx`` the federation's ports for ``signer`` (and the province-wide ID hash key;
    without an identity the node cannot ask owners for case files)."""
    ctx.signer = signer
    if id_key is not None:
        ctx.id_hash_key = id_key
    ctx.events = ctx.alert_log = SignedLog(signer, ctx.id_hash_key)
    ctx.catalog_codec = CatalogCodec(signer)
    ctx.owner_gateway = OwnerPull(identity) if identity is not None else None
    if identity is not None:
        from federation.materials import MaterialPull

        ctx.material_gateway = MaterialPull(identity, peer_addresses)
    ctx.signed_history = SignedHistoryReader()
    if identity is not None:
        from federation.addressed import AddressedLog

        from node.services.addressed import install_builtin
        from node.services.cases import install_linked

        ctx.addressed = AddressedLog(signer, identity)
        install_builtin(ctx)
        install_linked(ctx)  # part_dispatch, part_progress, part_result (市区两级联动)
        from node.services.supervision_orders import install as install_supervision

        install_supervision(ctx)  # supervision_order, supervision_response, supervision_decision (督办、纠错)
    if identity is not None and identity.parent_id is not None:
        from federation.verify import ParentVerifier

        ctx.result_verifier = ParentVerifier(ctx, identity)


def id_hash_key(settings: "Settings") -> bytes:
    """The federation-wide key for hashing personal identifiers (the same at every node of the
    province, so hashes compare across nodes; secret, so they cannot be reversed by guessing).
    ``YIWANG_ID_HASH_KEY`` or the file ``<data dir>/federation/id_hash.key``."""
    env = os.environ.get("YIWANG_ID_HASH_KEY")
    if env:
        return env.encode()
    f = Path(settings.data_dir) / "federation" / "id_hash.key"
    return f.read_bytes().strip() if f.exists() else b""


MIN_ID_KEY_LENGTH = 16


def weak_secrets(ctx: "NodeContext") -> list[tuple[str, str]]:
    """``node.ports.Plugin.weak_secrets``: the ID hash key. Missing is refused only at a node with
    a federation identity (it hashes ID numbers into its signed records); a placeholder, the demo
    key or a short key is refused wherever it is set."""
    from federation.demo import DEMO_ID_KEY

    key = id_hash_key(ctx.settings)
    fix = ("set YIWANG_ID_HASH_KEY (or the file <data dir>/federation/id_hash.key) to the province's key: one "
           "random value, e.g. from 'openssl rand -hex 32', the same at every node of the province and never "
           "published (deploy/README.md)")
    if not key:
        return [("YIWANG_ID_HASH_KEY is not set although this node has a federation identity (ID numbers would "
                 "be hashed with an empty key)", fix)] if ctx.signer is not None else []
    text = key.decode("utf-8", "replace")
    if "change-me" in text.lower():
        return [("YIWANG_ID_HASH_KEY is the shipped placeholder (CHANGE-ME...)", fix)]
    if text == DEMO_ID_KEY:
        return [("YIWANG_ID_HASH_KEY is the demo key of 'yiwang demo'", fix)]
    if len(key) < MIN_ID_KEY_LENGTH:
        return [(f"YIWANG_ID_HASH_KEY is shorter than {MIN_ID_KEY_LENGTH} characters (it can be guessed)", fix)]
    return []


async def fetch_case_detail(ident: Identity, target: str, owner: str, code: str, requester: str,
                            purpose: str) -> dict[str, Any]:
    """Ask the owning node for a case's full file over mutual TLS (as an inspector of this node)."""
    from federation.pb.v1 import federation_pb2_grpc as pb_grpc

    async with grpc.aio.secure_channel(target, tls.channel_credentials(ident),
                                       options=tls.channel_options(owner)) as ch:
        reply = await pb_grpc.FederationStub(ch).FetchCaseDetail(pb.CaseDetailRequest(
            service_code=code, requester_role="inspector", requester=requester, purpose=purpose), timeout=30)
    out: dict[str, Any] = json.loads(reply.detail_json)
    out["served_by"] = reply.owner
    return out


def peer_addresses() -> dict[str, str]:
    """``YIWANG_FEDERATION_PEERS``: where the nodes below this one listen, e.g.
    ``330105=10.0.0.5:7000,330106=10.0.0.6:7000`` (used to fetch case files from their owners)."""
    out = {}
    for part in os.environ.get("YIWANG_FEDERATION_PEERS", "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


attach_identity = install  # the name the federation's own callers know


def commands() -> Sequence["click.Command"]:
    from federation.cli import demo, federation

    return [federation, demo]
