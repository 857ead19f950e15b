"""The federation as a node plugin (entry point ``yiwang.plugins: federation``): a node with a
federation identity signs its case events into its log, signs standard-catalog changes (the
province) and asks owning nodes for case files; ``yiwang federation ...`` and ``yiwang demo``."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

from federation import catalog
from federation.envelope import Signer
from federation.identity import Identity, load_identity
from federation.log import SignedLog
from node.ports import CatalogChangeFields

if TYPE_CHECKING:
    import click

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
        from federation.runtime import fetch_case_detail, peer_addresses

        addr = peer_addresses().get(owner)
        if addr is None:
            raise LookupError(f"this node does not know how to reach {owner} (YIWANG_FEDERATION_PEERS)")
        return asyncio.run(fetch_case_detail(self.identity, addr, owner, code, requester, purpose))


def install(ctx: "NodeContext") -> None:
    """The node's ports from its federation identity (``<data dir>/federation``), if it has one."""
    from federation.runtime import id_hash_key

    if ctx.catalog_codec is None:
        ctx.catalog_codec = CatalogCodec(None)  # changes relayed from above are read with or without an identity
    ident = load_identity(ctx.settings.data_dir)
    if ident is not None:
        attach(ctx, Signer(ident.node_id, ident.key_id, ident.sign), id_hash_key(ctx.settings), ident)


def attach(ctx: "NodeContext", signer: Signer, id_key: bytes | None = None, identity: Identity | None = None) -> None:
    """Give ``ctx`` the federation's ports for ``signer`` (and the province-wide ID hash key;
    without an identity the node cannot ask owners for case files)."""
    ctx.signer = signer
    if id_key is not None:
        ctx.id_hash_key = id_key
    ctx.events = SignedLog(signer, ctx.id_hash_key)
    ctx.catalog_codec = CatalogCodec(signer)
    ctx.owner_gateway = OwnerPull(identity) if identity is not None else None


def commands() -> Sequence["click.Command"]:
    from federation.cli import demo, federation

    return [federation, demo]
