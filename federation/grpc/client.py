"""The uplink: stream this node's log (own and descendants' records, verbatim) to the parent.

Each round asks the parent for its cursors and sends everything after them in batches, one ack
per batch; a crash or a cut link on either side at any point simply means the next round starts
from the parent's acknowledged (committed) position. Nothing is re-signed on the way up.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field

import grpc
from sqlalchemy import select

from federation.audit import OwnTree, push_tree_checkpoint
from federation.grpc.server import MAX_BATCH, MAX_MESSAGE
from federation.selfcheck import Damage, read_checked
from federation.status import blocking_of, parent_of, save_link
from federation.wakeup import listen, wait_any
from federation.pb.v1 import federation_pb2 as pb
from federation.pb.v1 import federation_pb2_grpc as pb_grpc
from node.persistence.models import FedHead
from node.services.context import SYSTEM, NodeContext

log = logging.getLogger("yiwang.uplink")
REFUSALS = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.DATA_LOSS, grpc.StatusCode.INVALID_ARGUMENT}
"""What the parent answers when it refuses what we sent (not when it cannot be reached)."""


@dataclass
class UplinkStats:
    rounds: int = 0
    sent: int = 0
    failures: int = 0
    last_error: str | None = None
    caught_up: bool = False
    parent_cursors: dict[str, int] = field(default_factory=dict)
    blocking: str | None = None
    pulled: int = 0
    parent_too_old: bool = False  # the parent answers PullAddressed with UNIMPLEMENTED


class DamagedLog(Exception):
    """Records of this node's store that must not be sent: they are not what their origin signed."""

    def __init__(self, damages: list[Damage]) -> None:
        self.damages = damages
        super().__init__("; ".join(d.describe() for d in damages) + " -- run 'yiwang federation repair'")


class Uplink:
    def __init__(self, ctx: NodeContext, target: str, credentials: grpc.ChannelCredentials,
                 server_name: str | None = None, batch_size: int = MAX_BATCH, idle: float = 0.2,
                 checkpoint_every: float = 30.0, window: int = 2) -> None:
        self.ctx = ctx
        self.target = target
        self.credentials = credentials
        self.options: list[tuple[str, int | str]] = [("grpc.max_receive_message_length", MAX_MESSAGE),
                                                     ("grpc.max_send_message_length", MAX_MESSAGE)]
        if server_name:
            self.options.append(("grpc.ssl_target_name_override", server_name))
        self.batch_size = batch_size
        self.idle = idle
        self.checkpoint_every = checkpoint_every
        self.window = max(1, window)  # batches in flight before waiting for an ack
        self.stats = UplinkStats()
        self.own_tree = OwnTree(ctx, ctx.signer) if ctx.signer is not None else None  # type: ignore[arg-type]
        self._channel: grpc.aio.Channel | None = None
        self.parent_id = parent_of(ctx.node_id)
        self._saved_at = 0.0
        self._saved_state: object = None
        self._swept: dict[str, int] = {}  # per origin: the sweep's position in the records already sent
        self._swept_at = 0.0
        self._too_old_at = 0.0
        self._down_after: int | None = None  # the down-cursor (only this uplink advances it)
        self._wake = asyncio.Event()  # set when this node's log grew (``federation.wakeup``)
        self._pushed = asyncio.Event()  # set when the parent applied what we pushed (its acks may wait for us)
        self._reached = asyncio.Event()  # set when a push round reached the parent again (ends a pull's backoff)

    SWEEP = 1000  # records re-checked per idle round

    def _sweep(self) -> None:
        """Re-check, a window at a time, the records already sent (they are not read again to be
        sent): an idle round walks ``SWEEP`` more of each origin's log, wrapping at its end, so
        a record edited after it was pushed is found at home too -- and, the parent holding it,
        ``yiwang federation repair`` restores it."""
        found: list[Damage] = []
        with self.ctx.factory() as s:
            for origin, head in self._local_heads().items():
                pos = self._swept.get(origin, 0)
                good, damage = read_checked(s, origin, pos, self.SWEEP)
                if damage is not None:
                    found.append(damage)
                    pos = damage.seq
                else:
                    pos = good[-1][0] if good else 0
                self._swept[origin] = 0 if pos >= head else pos
        if found:
            self._raise_damage(found)

    def _stub(self) -> pb_grpc.FederationStub:
        if self._channel is None:
            self._channel = grpc.aio.secure_channel(self.target, self.credentials, options=self.options)
        return pb_grpc.FederationStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    def _local_heads(self) -> dict[str, int]:
        with self.ctx.factory() as s:
            return {h.origin: h.seq for h in s.scalars(select(FedHead))}

    def _read(self, origin: str, after: int) -> tuple[list[pb.SignedRecord], int, Damage | None]:
        """The next batch after ``after`` (checked: ``federation.selfcheck``), the sequence number of
        its last record and the damaged record the batch stops short of, if any."""
        with self.ctx.factory() as s:
            rows, damage = read_checked(s, origin, after, self.batch_size)
        return ([pb.SignedRecord(body=body, signature=sig) for _, body, sig in rows], (rows[-1][0] if rows else after),
                damage)

    def _raise_damage(self, damages: list[Damage]) -> None:
        """The incident, at once: one ``damaged_log`` alert per damaged record (later rounds count
        sightings), with both hashes as evidence."""
        from federation.inbox import record_alert

        with self.ctx.uow(SYSTEM) as uow:
            for d in damages:
                record_alert(uow.session, d.origin, "damaged_log", d.describe(), d.proof(), None, uow.now,
                             raised_by=self.ctx.node_id, subject=d.subject)
            uow.commit()

    def _save(self, ok: bool, error: str | None) -> None:
        if self.parent_id is None:
            return
        with self.ctx.uow(SYSTEM) as uow:
            now = uow.now
            values: dict[str, object] = dict(address=self.target, last_attempt=now, last_error=error,
                                             blocking=self.stats.blocking, cursors=dict(self.stats.parent_cursors),
                                             sent=self.stats.sent, failures=self.stats.failures)
            if ok:
                values["last_success"] = now
            save_link(uow.session, self.parent_id, "parent", now, **values)
            uow.commit()

    async def _note(self, ok: bool, error: str | None = None) -> None:
        """Persist the link's state for ``yiwang federation status``: when it changed, else at most
        once a second (a failure to write it never stops the uplink)."""
        state = (ok, error, self.stats.blocking, tuple(sorted(self.stats.parent_cursors.items())))
        now = asyncio.get_running_loop().time()
        if state == self._saved_state and now - self._saved_at < 1.0:
            return
        try:
            await asyncio.to_thread(self._save, ok, error)
            self._saved_state, self._saved_at = state, now
        except Exception as e:  # noqa: BLE001 - status is best effort; the sync is what matters
            log.info("could not record the uplink's state: %s", e)

    async def sync_once(self, pull: bool = True) -> int:
        """Push everything the parent lacks, then (``pull``) pull what it holds for this subtree;
        returns the number of records newly applied (by the parent, and here)."""
        self._wake.clear()  # what is sealed from now on wakes the next round
        stub = self._stub()
        reply = await stub.GetCursors(pb.CursorsRequest(sender=self.ctx.signer.node_id if self.ctx.signer else ""),
                                      timeout=30)
        theirs = {c.origin: c.seq for c in reply.cursors}
        self.stats.parent_cursors.update(theirs)
        mine = await asyncio.to_thread(self._local_heads)
        damages: list[Damage] = []
        todo = {o: theirs.get(o, 0) for o, seq in mine.items() if seq > theirs.get(o, 0)}
        applied = 0
        if todo:
            call = stub.PushRecords(timeout=600)
            batch_id = 0
            # Up to ``window`` batches are in flight: the next one is read and sent while the parent
            # verifies and applies the previous one. Acks come back in order.
            inflight: deque[tuple[str, int, int]] = deque()  # (origin, last seq of the batch, records)

            async def settle() -> bool:
                """Take the oldest batch's ack; False if the parent's cursor is not where that batch ended."""
                nonlocal applied
                origin, last, count = inflight.popleft()
                ack = await call.read()
                if ack is grpc.aio.EOF:
                    raise ConnectionError("parent closed the stream")
                applied += ack.applied
                self.stats.sent += count
                pos = next((c.seq for c in ack.cursors if c.origin == origin), last)
                self.stats.parent_cursors[origin] = pos
                return pos == last

            in_step = True
            for origin, pos in sorted(todo.items()):
                while in_step and pos < mine[origin]:
                    records, last, damage = await asyncio.to_thread(self._read, origin, pos)
                    if damage is not None:
                        damages.append(damage)  # what precedes it still goes; nothing of the origin after it
                    if not records:
                        break
                    batch_id += 1
                    await call.write(pb.RecordBatch(batch_id=batch_id, records=records))
                    inflight.append((origin, last, len(records)))
                    pos = last
                    if len(inflight) >= self.window:
                        in_step = await settle()
                    if damage is not None:
                        break
                if not in_step:
                    break  # the parent is elsewhere than expected: the next round resumes from its cursors
            while inflight:
                await settle()
            await call.done_writing()
            while await call.read() is not grpc.aio.EOF:
                pass
        if pull:
            applied += await self.pull_down()
        self.stats.rounds += 1
        if damages:
            raise DamagedLog(damages)
        self.stats.caught_up = True
        self.stats.blocking = None
        return applied

    TOO_OLD_RETRY = 60.0  # seconds before asking a parent that lacked PullAddressed again

    async def pull_down(self) -> int:
        """Pull the addressed records the parent holds for this subtree after the down-cursor and
        apply them (``federation.addressed``); returns how many arrived. A parent one version behind
        (UNIMPLEMENTED) is noted as too old and asked again a minute later; records keep going up."""
        port = self.ctx.addressed
        if port is None or self.parent_id is None:
            return 0
        loop = asyncio.get_running_loop()
        if self.stats.parent_too_old and loop.time() - self._too_old_at < self.TOO_OLD_RETRY:
            return 0
        parent = self.parent_id

        def cursor() -> tuple[int, str]:
            with self.ctx.uow(SYSTEM) as uow:
                return port.down_state(uow, parent)  # type: ignore[attr-defined,no-any-return]

        if self._down_after is None:
            self._down_after, state = await asyncio.to_thread(cursor)
            self.stats.parent_too_old = self.stats.parent_too_old or state == "parent_too_old"
            self._too_old_at = -self.TOO_OLD_RETRY  # as noted by an earlier run: ask now
        after = self._down_after
        try:
            rows = [(m.id, m.record.body, m.record.signature) async for m in
                    self._stub().PullAddressed(pb.PullAddressedRequest(after=after, limit=1000), timeout=60)]
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            self.stats.parent_too_old, self._too_old_at = True, loop.time()

            def note() -> None:
                with self.ctx.uow(SYSTEM) as uow:
                    port.note_parent(uow, parent, "parent_too_old")  # type: ignore[attr-defined]
                    uow.commit()

            await asyncio.to_thread(note)
            log.warning("parent %s is too old for addressed records (no PullAddressed); records still go up",
                        parent)
            return 0
        was_too_old, self.stats.parent_too_old = self.stats.parent_too_old, False
        if not rows:
            if was_too_old:  # the parent was upgraded
                def ok() -> None:
                    with self.ctx.uow(SYSTEM) as uow:
                        port.note_parent(uow, parent, "ok")  # type: ignore[attr-defined]
                        uow.commit()

                await asyncio.to_thread(ok)
            return 0

        def apply() -> int:
            with self.ctx.uow(SYSTEM) as uow:
                res = port.apply_down(uow, parent, rows)  # type: ignore[attr-defined]
                uow.commit()
                return res.after  # type: ignore[no-any-return]

        self._down_after = await asyncio.to_thread(apply)
        self.stats.pulled += len(rows)
        return len(rows)

    async def push_checkpoint(self) -> str:
        """A Merkle checkpoint of this node's log, audited by the parent (``federation.audit``)."""
        if self.own_tree is None:
            return "no identity"
        return await push_tree_checkpoint(self._stub(), self.own_tree, asyncio.to_thread)

    async def run(self, stop: asyncio.Event) -> None:
        """Sync until ``stop`` is set, reconnecting with backoff while the parent is unreachable.

        A checkpoint (with its rolling re-check of stored bodies and the parent's questions) runs
        beside the sync instead of holding records back; a failed checkpoint counts as a failed round."""
        backoff = 0.5
        last_cp = 0.0
        checkpoint: asyncio.Task[str] | None = None
        loop = asyncio.get_running_loop()
        # Up and down run side by side on the one channel: a push never waits for the previous
        # round's pull (and the application of what it brought), nor a pull for a push.
        listener = asyncio.create_task(listen(self.ctx.settings.database_url, self._wake, stop))
        down = asyncio.create_task(self._down_loop(stop))
        try:
            while not stop.is_set():
                try:
                    n = await self.sync_once(pull=False)
                    if n:
                        self._pushed.set()  # an addressed record's ack is then sealed there: pull it now
                    if backoff > 0.5:  # the parent is back after failed rounds: so are the pulls
                        self._reached.set()
                    await self._note(True)
                    if checkpoint is not None and checkpoint.done():
                        done, checkpoint = checkpoint, None
                        done.result()  # raises what pushing it raised
                        last_cp = loop.time()
                    if checkpoint is None and loop.time() - last_cp > self.checkpoint_every:
                        checkpoint = asyncio.create_task(self.push_checkpoint())
                    backoff = 0.5
                    if n == 0:
                        if loop.time() - self._swept_at >= 1.0:
                            self._swept_at = loop.time()
                            await asyncio.to_thread(self._sweep)
                        await wait_any(stop, self._wake, self.idle)
                except asyncio.TimeoutError:
                    continue
                except Exception as e:  # noqa: BLE001 - the uplink outlives any failure and retries
                    self.stats.failures += 1
                    self.stats.caught_up = False
                    self.stats.last_error = e.details() if isinstance(e, grpc.aio.AioRpcError) else str(e)
                    if isinstance(e, DamagedLog):
                        self.stats.blocking = f"own store: {e}"
                        try:
                            await asyncio.to_thread(self._raise_damage, e.damages)
                        except Exception as err:  # noqa: BLE001 - raised again next round
                            log.error("could not raise the damaged_log alert: %s", err)
                    elif isinstance(e, grpc.aio.AioRpcError) and e.code() in REFUSALS:
                        self.stats.blocking = blocking_of(self.stats.last_error or "")
                    else:
                        self.stats.blocking = None
                    await self._note(False, self.stats.last_error)
                    log.warning("uplink to %s: %s (retry in %.1fs)", self.target, self.stats.last_error, backoff,
                                exc_info=not isinstance(e, (grpc.aio.AioRpcError, ConnectionError, OSError)))
                    await _drop(checkpoint)
                    checkpoint = None
                    await self.close()
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=backoff)
                    except asyncio.TimeoutError:
                        pass
                    backoff = min(backoff * 2, 10.0)
        finally:
            for task in (down, listener):
                task.cancel()
            await asyncio.gather(down, listener, return_exceptions=True)
            await _drop(checkpoint)
            await self.close()

    async def _down_loop(self, stop: asyncio.Event) -> None:
        """Pull what the parent holds for this subtree, again at once while records come, else
        after ``idle``; a failure (the parent unreachable: the push side reconnects and reports
        it) is retried with backoff."""
        backoff = 0.5
        while not stop.is_set():
            try:
                self._pushed.clear()
                n = await self.pull_down()
                backoff = 0.5
                if n == 0:
                    await wait_any(stop, self._pushed, self.idle)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if stop.is_set() or (task is not None and task.cancelling()):
                    raise  # this loop itself is being stopped
                # the push side closed the shared channel after a failure: its calls end cancelled
                log.info("pull from %s: the channel was closed (retry in %.1fs)", self.target, backoff)
                backoff = await self._pull_backoff(stop, backoff)
            except Exception as e:  # noqa: BLE001 - the down side outlives any failure and retries
                log.info("pull from %s: %s (retry in %.1fs)", self.target,
                         e.details() if isinstance(e, grpc.aio.AioRpcError) else e, backoff)
                backoff = await self._pull_backoff(stop, backoff)

    async def _pull_backoff(self, stop: asyncio.Event, backoff: float) -> float:
        """Wait ``backoff`` -- or less: until the push side reaches the parent again after failing,
        which starts the pulls again at once; returns the next backoff."""
        self._reached.clear()
        await wait_any(stop, self._reached, backoff)
        return 0.5 if self._reached.is_set() else min(backoff * 2, 10.0)


async def _drop(task: asyncio.Task[str] | None) -> None:
    """Cancel a checkpoint still running (or collect one that finished) before the channel closes."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # the uplink itself is being cancelled
    except Exception:  # noqa: BLE001 - it failed along with the round that is retried
        pass
