"""A node's federation side at run time: trust from the cached directory, the gRPC server, the
uplink to the parent and the directory refresh. ``yiwang federation serve`` runs it."""
from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import grpc

from federation import tls
from federation.codec import utcnow
from federation.directory import Directory
from federation.identity import Identity, cached_directory, load_identity
from federation.registry import install_directory
from federation.pb.v1 import federation_pb2 as pb
from node.config import Settings
from node.services.context import NodeContext

log = logging.getLogger("yiwang.federation")


def id_hash_key(settings: Settings) -> bytes:
    """The federation-wide key for hashing personal identifiers (the same at every node of the
    province, so hashes compare across nodes; secret, so they cannot be reversed by guessing).
    ``YIWANG_ID_HASH_KEY`` or the file ``<data dir>/federation/id_hash.key``."""
    env = os.environ.get("YIWANG_ID_HASH_KEY")
    if env:
        return env.encode()
    f = Path(settings.data_dir) / "federation" / "id_hash.key"
    return f.read_bytes().strip() if f.exists() else b""


def attach_identity(ctx: NodeContext) -> Identity | None:
    """Give the context its federation ports (``federation.plugin.install``) when the node has a
    federation identity; returns the identity."""
    from federation.plugin import install

    install(ctx)
    return load_identity(ctx.settings.data_dir)


@dataclass
class DirectoryTrust:
    identity: Identity
    _dir: Directory | None = None
    _mtime: float = 0.0

    @property
    def node_id(self) -> str:
        return self.identity.node_id

    @property
    def directory(self) -> Directory:
        p = self.identity.directory_path
        m = p.stat().st_mtime if p.exists() else 0.0
        if self._dir is None or m != self._mtime:
            d = cached_directory(self.identity)
            if d is None:
                raise RuntimeError(f"{self.node_id} has no node directory yet")
            self._dir, self._mtime = d, m
        return self._dir

    def peer_id(self, context: Any) -> str | None:
        peer = tls.peer_node_id(context)
        try:
            tls.check_peer(peer, None, self.directory, at=utcnow(), cert=tls.peer_certificate(context))
        except PermissionError as e:
            log.warning("refused peer: %s", e)
            return None
        return peer

    def key_for(self, origin: str, key_id: str, at: datetime) -> bytes | None:
        return self.directory.key_for(origin, key_id, at)

    def in_subtree(self, peer: str, origin: str) -> bool:
        return origin == peer or self.directory.is_ancestor(peer, origin)

    def is_child(self, peer: str) -> bool:
        n = self.directory.node(peer)
        return n is not None and n.parent_id == self.node_id

    def is_ancestor(self, ancestor: str, node: str) -> bool:
        return self.directory.is_ancestor(ancestor, node)

    def signed_directory(self) -> bytes:
        return json.dumps(dict(self.directory.signed), ensure_ascii=False).encode()


def case_detail_reader(ctx: NodeContext) -> Callable[[str, str, str, str], dict[str, Any]]:
    """FetchCaseDetail at the owning node (``node.services.case_files.serve_case_file``): one unit of
    work, the access audited in it."""
    from node.domain.errors import DomainError
    from node.services.case_files import serve_case_file
    from node.services.context import SYSTEM

    def read(code: str, peer: str, requester: str, purpose: str) -> dict[str, Any]:
        with ctx.uow(SYSTEM) as uow:
            try:
                view = serve_case_file(uow, code, peer, requester, purpose)
            except DomainError as e:
                raise LookupError(e.message) from None
            uow.commit()
            return view

    return read


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


async def refresh_directory(ident: Identity, stub: Any) -> bool:
    reply = await stub.GetDirectory(pb.DirectoryRequest(known_version=0), timeout=15)
    signed = json.loads(reply.signed_json)
    cached = cached_directory(ident)
    if cached is not None and signed == dict(cached.signed):
        return False
    install_directory(ident, signed)
    return True


async def run(settings: Settings, listen: str, parent: str | None, stop: asyncio.Event,
              batch_size: int = 5000, checkpoint_every: float = 30.0) -> None:
    from federation.catalog import pull_catalog
    from federation.grpc.client import Uplink
    from federation.grpc.server import FederationServicer, serve

    ctx = NodeContext.build(settings)
    ident = attach_identity(ctx)
    if ident is None or not ident.enrolled:
        raise SystemExit("this node has no enrolled federation identity: run 'yiwang federation init' and enroll it")
    trust = DirectoryTrust(ident)
    server = await serve(FederationServicer(ctx, trust, case_detail_reader(ctx)), listen,
                         tls.server_credentials(ident))
    log.info("federation %s listening on %s", ident.node_id, listen)
    tasks = []
    if parent:
        uplink = Uplink(ctx, parent, tls.channel_credentials(ident), server_name=None, batch_size=batch_size,
                        checkpoint_every=checkpoint_every)
        uplink.options += tls.channel_options(ident.parent_id or "")
        tasks.append(asyncio.create_task(uplink.run(stop)))

        async def directory_loop() -> None:
            while not stop.is_set():
                try:
                    await refresh_directory(ident, uplink._stub())
                except Exception as e:  # noqa: BLE001 - keep serving with the cached directory
                    log.info("directory refresh from parent failed: %s", e)
                try:
                    await pull_catalog(ctx, uplink._stub(), trust.key_for, trust.directory.root_id, ident.parent_id)
                except Exception as e:  # noqa: BLE001 - retried next round; rejections are kept as alerts
                    log.warning("standard catalog pull from parent failed: %s", e)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=10)
                except asyncio.TimeoutError:
                    pass

        tasks.append(asyncio.create_task(directory_loop()))
    await stop.wait()
    for t in tasks:
        await t
    await server.stop(grace=2)
    ctx.engine.dispose()
