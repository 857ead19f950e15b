"""A node's federation side at run time: trust from the cached directory, the gRPC server, the
uplink to the parent and the directory refresh. ``yiwang federation serve`` runs it."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable


from federation import tls
from federation.codec import utcnow
from federation.directory import Directory
from federation.identity import Identity, cached_directory, ensure_enc_key, load_identity
from federation.registry import install_directory
from federation.pb.v1 import federation_pb2 as pb
from node.config import Settings
from node.services.context import NodeContext
from node.services.secrets import require_strong_secrets

log = logging.getLogger("yiwang.federation")


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

    def key_for(self, origin: str, key_id: str, at: datetime, seq: int | None = None) -> bytes | None:
        return self.directory.key_for(origin, key_id, at, seq)

    def snapshot(self) -> "DirectoryTrust":
        """The directory as it stands now, for one batch: its thousands of key and subtree look-ups
        then do not each look at the directory file (a directory installed meanwhile counts from
        the next batch)."""
        return _Pinned(self.identity, self.directory)

    def in_subtree(self, peer: str, origin: str) -> bool:
        return origin == peer or self.directory.is_ancestor(peer, origin)

    def is_child(self, peer: str) -> bool:
        n = self.directory.node(peer)
        return n is not None and n.parent_id == self.node_id

    def is_ancestor(self, ancestor: str, node: str) -> bool:
        return self.directory.is_ancestor(ancestor, node)

    def subtree(self, node_id: str) -> set[str]:
        return self.directory.subtree(node_id)

    def signed_directory(self) -> bytes:
        return json.dumps(dict(self.directory.signed), ensure_ascii=False).encode()


class _Pinned(DirectoryTrust):
    def __init__(self, identity: Identity, directory: Directory) -> None:
        super().__init__(identity)
        self._pinned = directory

    @property
    def directory(self) -> Directory:
        return self._pinned


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

    if load_identity(settings.data_dir) is not None:
        ensure_enc_key(settings.data_dir)  # an identity from before addressed records gets its X25519 key
    ctx = NodeContext.build(settings)  # the plugins' ports: this node's signed log once it has an identity
    require_strong_secrets(ctx)  # outside demo mode: no missing, placeholder or demo key, no demo account
    ident = load_identity(settings.data_dir)
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
