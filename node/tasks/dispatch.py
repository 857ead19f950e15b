"""Post-commit work the web process hands to background threads: committed outbox rows to
delivery, queued case events and audit entries to the signed log and the audit chain."""
from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
from typing import Any, Callable

from node.services import notifications as svc
from node.services.context import NodeContext

from .celery_app import DELIVER_MANY, make_celery

log = logging.getLogger("yiwang.dispatch")

LINGER_S = 0.05
"""How long the publisher waits for more committed rows before sending one task for them all."""
MAX_BATCH = 200


class _ProcessThread:
    """One daemon thread per process, started lazily: after gunicorn's fork, in the process that
    uses it (a thread started before the fork would not exist in the worker)."""

    name = "yiwang-background"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = threading.Event()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._reset()
                self._stopping = threading.Event()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _reset(self) -> None:
        """Fresh per-process state, before the thread starts."""

    def _run(self) -> None:
        raise NotImplementedError

    def _wake_to_stop(self) -> None:
        self._stopping.set()

    def flush(self, timeout: float = 5.0) -> None:
        """Finish what is queued and stop the thread (at interpreter exit)."""
        t = self._thread
        if t is None or not t.is_alive() or self._pid != os.getpid():
            return
        self._wake_to_stop()
        t.join(timeout)


class CoalescingPublisher(_ProcessThread):
    """Sends committed outbox ids to Celery from a background thread, many ids per task message.

    A request only puts its ids on an in-process queue (no broker round trip on the request
    path); the publisher sends what arrived within ``LINGER_S`` of the first id as one
    ``deliver_notifications`` task. Under load this is one broker publish for many submissions.
    Nothing is lost if the process dies with ids still queued here: the rows are committed as
    pending and the periodic sweep sends them. A broker that is down only delays delivery."""

    name = "yiwang-notify-publisher"

    def __init__(self, send: Callable[[list[int]], Any], linger: float = LINGER_S) -> None:
        super().__init__()
        self._send = send
        self._linger = linger
        self._q: queue.SimpleQueue[int | None] = queue.SimpleQueue()

    def __call__(self, ids: list[int]) -> None:
        self._ensure_thread()
        for i in ids:
            self._q.put(i)

    def _reset(self) -> None:
        self._q = queue.SimpleQueue()

    def _wake_to_stop(self) -> None:
        self._q.put(None)
        self._stopping.set()

    def _take(self) -> tuple[list[int], bool]:
        first = self._q.get()
        if first is None:
            return [], True
        # Sleep the linger out once, then take what came: one wake-up of this thread per batch,
        # not one per id (each would contend for the interpreter lock with the request threads).
        self._stopping.wait(self._linger)  # flush() cuts it short
        ids = [first]
        while len(ids) < MAX_BATCH:
            try:
                i = self._q.get_nowait()
            except queue.Empty:
                break
            if i is None:
                return ids, True
            ids.append(i)
        return ids, False

    def _publish(self, ids: list[int]) -> None:
        try:
            self._send(ids)
        except Exception:  # the rows stay pending; the periodic sweep re-sends them
            log.exception("could not enqueue notifications %s", ids)

    def _run(self) -> None:
        stop = False
        while not stop:
            ids, stop = self._take()
            if ids:
                self._publish(ids)


class PostCommitLinker(_ProcessThread):
    """Seals the case events and links the audit entries that commits queued (PostgreSQL) from a
    background thread: a commit only wakes it; it waits ``linger`` for more and handles everything
    committed by then in one transaction per batch -- one lock of each head for many submissions.
    What a crash leaves queued is handled by the next linker of any process (this one handles what
    it finds when it starts) or, for the audit chain, by ``yiwang audit verify``."""

    name = "yiwang-post-commit-linker"

    def __init__(self, link: Callable[[], Any], linger: float = 0.02, retry: float = 1.0) -> None:
        super().__init__()
        self._link = link
        self._linger = linger
        self._retry = retry
        self._wake = threading.Event()

    def __call__(self) -> None:
        self._ensure_thread()
        self._wake.set()

    def _reset(self) -> None:
        self._wake = threading.Event()
        self._wake.set()  # link what an earlier process left queued

    def _wake_to_stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            stopping = self._stopping.wait(self._linger)
            self._wake.clear()  # before reading the queue: a commit after this wakes another round
            try:
                self._link()
            except Exception:  # the entries stay queued (committed); try again
                log.warning("could not link queued audit entries; retrying", exc_info=True)
                if not stopping:
                    self._stopping.wait(self._retry)
                    self._wake.set()
            if stopping:
                return


def _ids_repr(ids: list[int]) -> str:
    """What the worker's log shows of a batch: the ids, cut at Celery's own 1,024 characters."""
    text = repr([ids])
    return text if len(text) <= 1024 else text[:1020] + "...]"


def make_dispatcher(ctx: NodeContext) -> Callable[[list[int]], None]:
    """With a broker: a ``CoalescingPublisher`` feeding Celery. Without one (the embedded
    default): deliver in-process right after the commit; a failure leaves the row pending for
    ``yiwang notify sweep`` or the next start."""
    if ctx.settings.broker_url:
        celery = make_celery(ctx.settings)
        # argsrepr given: the ids' repr, instead of Celery building one with its pure-Python saferepr
        return CoalescingPublisher(lambda ids: celery.send_task(DELIVER_MANY, args=[ids], argsrepr=_ids_repr(ids)))
    gateway = svc.make_gateway(ctx.settings)

    def deliver_now(ids: list[int]) -> None:
        try:
            got = svc.deliver_batch(ctx, ids, gateway)
        except Exception:
            log.warning("notifications %s not delivered yet; they stay pending", ids, exc_info=True)
            return
        for i in (i for i, outcome in got.items() if outcome == "retry"):
            log.warning("notification %s not taken by the gateway yet; it stays pending", i)

    return deliver_now
