"""The federation servicer (grpc.aio). Database work runs in threads; every call first
establishes the peer's node id from its mutual-TLS certificate and checks it against the directory."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, AsyncIterator, Callable, Protocol

import grpc
from sqlalchemy import select

from federation.audit import ParentAudit
from federation.checkpoint import accept_checkpoint
from federation.envelope import RecordRejected
from federation.inbox import CheckedBatch, ForkDetected, check_batch, cursors, receive_batch, record_alert
from federation.materials import chunks, material_reader
from federation.pb.v1 import federation_pb2 as pb
from federation.pb.v1 import federation_pb2_grpc as pb_grpc
from federation.links import note_seen
from federation.verify import VERIFY_RATE, answer, check_request
from node.domain.errors import TooManyAttempts
from node.ports import VerificationUnavailable
from node.persistence.models import CatalogChange, FedHead, FedRecord
from node.services.context import SYSTEM, NodeContext

log = logging.getLogger("yiwang.federation")
MAX_BATCH = 5000
MAX_MESSAGE = 16 * 1024 * 1024

STATUS = {
    "malformed": grpc.StatusCode.INVALID_ARGUMENT,
    "oversized": grpc.StatusCode.INVALID_ARGUMENT,
    "bad_signature": grpc.StatusCode.UNAUTHENTICATED,
    "unknown_key": grpc.StatusCode.UNAUTHENTICATED,
    "wrong_origin": grpc.StatusCode.PERMISSION_DENIED,
    "gap": grpc.StatusCode.FAILED_PRECONDITION,
    "broken_chain": grpc.StatusCode.FAILED_PRECONDITION,
    "fork": grpc.StatusCode.ALREADY_EXISTS,
    "inconsistent_checkpoint": grpc.StatusCode.DATA_LOSS,
}
ALERT_KINDS = {"bad_signature", "unknown_key", "wrong_origin", "broken_chain", "inconsistent_checkpoint",
               "foreign_case"}


class Trust(Protocol):
    """What the servicer needs from the node directory."""

    @property
    def node_id(self) -> str: ...

    def peer_id(self, context: grpc.aio.ServicerContext) -> str | None: ...

    def key_for(self, origin: str, key_id: str, at: Any, seq: int | None = None) -> bytes | None: ...

    def in_subtree(self, peer: str, origin: str) -> bool: ...

    def is_child(self, peer: str) -> bool: ...

    def is_ancestor(self, ancestor: str, node: str) -> bool: ...

    def signed_directory(self) -> bytes: ...

    def subtree(self, node_id: str) -> set[str]: ...


def _pinned(trust: Trust) -> Trust:
    """One directory for a whole batch where the trust can pin one (``DirectoryTrust.snapshot``)."""
    snapshot = getattr(trust, "snapshot", None)
    return snapshot() if snapshot is not None else trust


class FederationServicer(pb_grpc.FederationServicer):
    def __init__(self, ctx: NodeContext, trust: Trust,
                 case_detail: Callable[[str, str, str, str], dict[str, Any]] | None = None,
                 serve_addressed: bool = True) -> None:
        self.ctx = ctx
        self.trust = trust
        self.case_detail = case_detail
        self.material = material_reader(ctx)
        self.serve_addressed = serve_addressed
        """False: answer ``PullAddressed`` as a node one version behind does (UNIMPLEMENTED)."""
        self.verify_rate = VERIFY_RATE
        self._contact: dict[str, float] = {}

    async def _touch(self, peer: str) -> None:
        """Note that a child called in (``fed_links.last_seen_at``: ``yiwang federation status``
        and the integrity rule ``stopped_syncing``), on any call, at most every 5 seconds per
        child; best effort."""
        t = time.monotonic()
        if t - self._contact.get(peer, -1e9) < 5.0:
            return
        self._contact[peer] = t

        def save() -> None:
            with self.ctx.uow(SYSTEM) as uow:
                note_seen(uow.session, peer, uow.now)
                uow.commit()

        try:
            await asyncio.to_thread(save)
        except Exception as e:  # noqa: BLE001 - the status is not worth failing a call for
            log.info("could not note %s's contact: %s", peer, e)

    async def _peer(self, context: grpc.aio.ServicerContext) -> str:
        peer = self.trust.peer_id(context)
        if peer is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED,
                                "no verified client certificate naming a node of the directory")
        elif self.trust.is_child(peer):  # any call of a child's counts as seen
            await self._touch(peer)
        return peer  # type: ignore[return-value]

    async def _child(self, context: grpc.aio.ServicerContext) -> str:
        peer = await self._peer(context)
        if not self.trust.is_child(peer):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"{peer} is not a child of {self.trust.node_id}: records flow to the parent only")
        return peer

    async def GetCursors(self, request: pb.CursorsRequest, context: grpc.aio.ServicerContext) -> pb.CursorsReply:
        peer = await self._child(context)

        def read() -> list[tuple[str, int, bytes]]:
            with self.ctx.factory() as s:
                return [c for c in cursors(s) if self.trust.in_subtree(peer, c[0])]

        rows = await asyncio.to_thread(read)
        return pb.CursorsReply(cursors=[pb.OriginCursor(origin=o, seq=q, head_hash=h) for o, q, h in rows])

    def _check(self, batch: pb.RecordBatch) -> CheckedBatch:
        return check_batch([(r.body, r.signature) for r in batch.records], _pinned(self.trust).key_for)

    def _apply(self, peer: str, batch: pb.RecordBatch, checked: CheckedBatch | None = None) -> pb.BatchAck:
        now = self.ctx.clock()
        trust = _pinned(self.trust)
        try:
            with self.ctx.uow(SYSTEM, now) as uow:  # the batch and the cursors: one unit of work
                res = receive_batch(uow.session, peer, checked if checked is not None else
                                    [(r.body, r.signature) for r in batch.records], trust.key_for,
                                    trust.in_subtree, now)
                if res.fresh and self.ctx.addressed is not None:  # for this node: applied with the batch
                    self.ctx.addressed.on_stored(uow, res.fresh, peer)  # type: ignore[attr-defined]
                uow.commit()
        except RecordRejected as e:
            if isinstance(e, ForkDetected) or e.code in ALERT_KINDS:
                with self.ctx.uow(SYSTEM, now) as uow:  # nothing of the batch, only the evidence
                    record_alert(uow.session, e.origin or peer, e.code, str(e), getattr(e, "proof", {}), peer, now,
                                 raised_by=self.ctx.node_id, subject=f"{e.origin}#{e.seq}" if e.seq else "")
                    uow.commit()
            raise
        return pb.BatchAck(batch_id=batch.batch_id, applied=res.applied, duplicates=res.duplicates,
                           cursors=[pb.OriginCursor(origin=o, seq=q, head_hash=h) for o, (q, h) in res.cursors.items()])

    async def PushRecords(self, request_iterator: AsyncIterator[pb.RecordBatch],
                          context: grpc.aio.ServicerContext) -> AsyncIterator[pb.BatchAck]:
        peer = await self._child(context)
        # Read ahead: the next batch is received, parsed and its signatures checked (in a thread)
        # while this one is written, so verification — the CPU-heavy half — overlaps the database's
        # half. Batches are still applied one at a time, in order, each in its own transaction.
        stream = request_iterator.__aiter__()

        async def receive() -> tuple[pb.RecordBatch, asyncio.Future[CheckedBatch] | None] | None:
            try:
                batch = await stream.__anext__()
            except StopAsyncIteration:
                return None
            if len(batch.records) > MAX_BATCH:
                return batch, None
            return batch, asyncio.ensure_future(asyncio.to_thread(self._check, batch))

        item = await receive()
        ahead: asyncio.Future[Any] | None = None
        try:
            while item is not None:
                batch, checking = item
                if checking is None:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_BATCH} records per batch")
                ahead = asyncio.ensure_future(receive())
                try:
                    ack = await asyncio.to_thread(self._apply, peer, batch, await checking)  # type: ignore[misc]
                except RecordRejected as e:
                    log.warning("rejected batch %s from %s: %s %s#%s: %s", batch.batch_id, peer, e.code, e.origin,
                                e.seq, e)
                    await context.abort(STATUS.get(e.code, grpc.StatusCode.INVALID_ARGUMENT),
                                        f"{e.code}: {e} (record {e.origin}#{e.seq}); nothing of this batch was applied")
                yield ack
                item = await ahead
                ahead = None
        finally:  # the call ended early (rejected batch, client gone): drop what was read ahead
            if ahead is not None:
                if not ahead.done():
                    ahead.cancel()
                elif not ahead.cancelled() and ahead.exception() is None and ahead.result() is not None:
                    pending = ahead.result()[1]
                    if pending is not None:
                        pending.cancel()

    async def PushCheckpoint(self, request: pb.SignedCheckpoint, context: grpc.aio.ServicerContext) -> pb.CheckpointAck:
        peer = await self._child(context)

        def run() -> str:
            return accept_checkpoint(self.ctx, peer, request, self.trust.key_for, self.trust.in_subtree)

        try:
            detail = await asyncio.to_thread(run)
        except RecordRejected as e:
            log.error("checkpoint from %s rejected: %s", peer, e)
            await context.abort(STATUS.get(e.code, grpc.StatusCode.INVALID_ARGUMENT), f"{e.code}: {e}")
        return pb.CheckpointAck(accepted=True, detail=detail)

    async def FetchRecords(self, request: pb.FetchRecordsRequest, context: grpc.aio.ServicerContext) -> pb.FetchRecordsReply:
        """A child's records as stored here, exactly as signed (a child repairs its damaged rows from
        them, verifying each signature and link itself): its own and its descendants' only."""
        peer = await self._child(context)
        if not self.trust.in_subtree(peer, request.origin):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"{peer} may read back records of itself and the nodes below it only, not {request.origin}")
        if request.from_seq < 1 or request.to_seq < request.from_seq or request.to_seq - request.from_seq >= MAX_BATCH:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"from_seq..to_seq: 1 <= from <= to, at most {MAX_BATCH}")

        def read() -> tuple[list[pb.SignedRecord], int]:
            with self.ctx.factory() as s:
                rows = s.execute(select(FedRecord.body, FedRecord.signature).where(
                    FedRecord.origin == request.origin, FedRecord.seq >= request.from_seq,
                    FedRecord.seq <= request.to_seq).order_by(FedRecord.seq)).all()
                head = s.get(FedHead, request.origin)
                return [pb.SignedRecord(body=bytes(b), signature=bytes(g)) for b, g in rows], (head.seq if head else 0)

        records, held = await asyncio.to_thread(read)
        return pb.FetchRecordsReply(records=records, held_seq=held)
    async def AuditCheckpoint(self, request_iterator: AsyncIterator[pb.AuditMessage],
                              context: grpc.aio.ServicerContext) -> AsyncIterator[pb.AuditQuestion]:
        """A child's Merkle checkpoint and the questions that check it (``federation.audit``)."""
        peer = await self._child(context)
        audit = ParentAudit(self.ctx, peer, self.trust.key_for, self.trust.in_subtree)
        try:
            async for msg in request_iterator:
                question = await asyncio.to_thread(audit.step, msg)
                yield question
                if question.WhichOneof("msg") == "verdict":
                    return
        except RecordRejected as e:
            log.error("checkpoint audit of %s rejected: %s", peer, e)
            await context.abort(STATUS.get(e.code, grpc.StatusCode.INVALID_ARGUMENT), f"{e.code}: {e}")

    async def FetchCaseDetail(self, request: pb.CaseDetailRequest, context: grpc.aio.ServicerContext) -> pb.CaseDetailReply:
        peer = await self._peer(context)
        if not self.trust.is_ancestor(peer, self.trust.node_id):
            await context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                f"{peer} is not above {self.trust.node_id}: only upper levels may read its case files")
        if request.requester_role != "inspector":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "only inspectors (监察) may fetch a case file")
        if self.case_detail is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this node serves no case files")
        try:
            detail = await asyncio.to_thread(self.case_detail, request.service_code, peer, request.requester,
                                             request.purpose)
        except LookupError as e:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
        return pb.CaseDetailReply(detail_json=json.dumps(detail, ensure_ascii=False).encode(),
                                  owner=self.trust.node_id)

    async def FetchMaterial(self, request: pb.FetchMaterialRequest,
                            context: grpc.aio.ServicerContext) -> AsyncIterator[pb.FetchMaterialChunk]:
        """A joint case's material for the node its part was dispatched to (``federation.materials``)."""
        from node.services.part_materials import MaterialRefused

        peer = await self._peer(context)
        try:
            got = await asyncio.to_thread(self.material, request.joint_code, request.part, request.digest, peer,
                                          request.requester, request.purpose)
        except MaterialRefused as e:
            code = {404: grpc.StatusCode.NOT_FOUND, 403: grpc.StatusCode.PERMISSION_DENIED}.get(
                e.status, grpc.StatusCode.DATA_LOSS)
            await context.abort(code, f"{e.code}: {e.message}")
        for chunk in chunks(got):
            yield chunk

    async def PullCatalog(self, request: pb.CatalogRequest,
                          context: grpc.aio.ServicerContext) -> AsyncIterator[pb.SignedCatalogChange]:
        await self._peer(context)

        def read() -> list[CatalogChange]:
            with self.ctx.factory() as s:
                return list(s.scalars(select(CatalogChange).where(CatalogChange.seq > request.after_seq)
                                      .order_by(CatalogChange.publisher, CatalogChange.seq).limit(10000)))

        for row in await asyncio.to_thread(read):
            yield pb.SignedCatalogChange(body=bytes(row.body), signature=bytes(row.signature))

    async def PullAddressed(self, request: pb.PullAddressedRequest,
                            context: grpc.aio.ServicerContext) -> AsyncIterator[pb.DownRecord]:
        """The addressed records held here for the calling child's subtree (``federation.addressed``),
        after its down-cursor, exactly as signed."""
        if not self.serve_addressed:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        peer = await self._child(context)
        limit = min(request.limit or 1000, MAX_BATCH)

        def read() -> list[tuple[int, bytes, bytes]]:
            from federation.addressed import read_down

            with self.ctx.factory() as s:
                return read_down(s, self.trust.subtree(peer), request.after, limit)

        for arrival, body, sig in await asyncio.to_thread(read):
            yield pb.DownRecord(id=arrival, record=pb.SignedRecord(body=body, signature=sig))

    async def GetDirectory(self, request: pb.DirectoryRequest, context: grpc.aio.ServicerContext) -> pb.SignedDirectory:
        await self._peer(context)
        return pb.SignedDirectory(signed_json=self.trust.signed_directory())

    async def VerifyResult(self, request: pb.VerifyResultRequest,
                           context: grpc.aio.ServicerContext) -> pb.VerifyResultReply:
        """A child's question about a prerequisite's result (``federation.verify``): children only,
        throttled per child, audited here."""
        peer = await self._child(context)
        problem = check_request(request)
        if problem is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        try:
            return await asyncio.to_thread(answer, self.ctx, peer, request, self.verify_rate)
        except TooManyAttempts as e:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, f"too many verifications from {peer}: {e.message}")
        except VerificationUnavailable as e:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.trust.node_id} could not ask its parent: {e}")
        raise AssertionError("unreachable")  # abort raises


def own_head(ctx: NodeContext, node_id: str) -> int:
    with ctx.factory() as s:
        h = s.get(FedHead, node_id)
        return h.seq if h else 0


async def serve(servicer: FederationServicer, listen: str, credentials: grpc.ServerCredentials) -> grpc.aio.Server:
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", MAX_MESSAGE),
                                      ("grpc.max_send_message_length", MAX_MESSAGE)])
    pb_grpc.add_FederationServicer_to_server(servicer, server)
    server.add_secure_port(listen, credentials)
    await server.start()
    return server
