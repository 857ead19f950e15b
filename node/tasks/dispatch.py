"""How the web process hands committed outbox rows to delivery."""
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


class CoalescingPublisher:
    """Sends committed outbox ids to Celery from a background thread, many ids per task message.

    A request only puts its ids on an in-process queue (no broker round trip on the request
    path); the publisher sends what arrived within ``LINGER_S`` of the first id as one
    ``deliver_notifications`` task. Under load this is one broker publish for many submissions.
    Nothing is lost if the process dies with ids still queued here: the rows are committed as
    pending and the periodic sweep sends them. A broker that is down only delays delivery."""

    def __init__(self, send: Callable[[list[int]], Any], linger: float = LINGER_S) -> None:
        self._send = send
        self._linger = linger
        self._q: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = threading.Event()

    def __call__(self, ids: list[int]) -> None:
        self._ensure_thread()
        for i in ids:
            self._q.put(i)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:  # started lazily: after gunicorn's fork, in the process that uses it
            if self._thread is None or self._pid != os.getpid():
                self._q = queue.SimpleQueue()
                self._stopping = threading.Event()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="yiwang-notify-publisher", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

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

    def flush(self, timeout: float = 5.0) -> None:
        """Send what is queued and stop the thread (at interpreter exit)."""
        t = self._thread
        if t is None or not t.is_alive() or self._pid != os.getpid():
            return
        self._q.put(None)
        self._stopping.set()
        t.join(timeout)


def make_dispatcher(ctx: NodeContext) -> Callable[[list[int]], None]:
    """With a broker: a ``CoalescingPublisher`` feeding Celery. Without one (the embedded
    default): deliver in-process right after the commit; a failure leaves the row pending for
    ``yiwang notify sweep`` or the next start."""
    if ctx.settings.broker_url:
        celery = make_celery(ctx.settings)
        return CoalescingPublisher(lambda ids: celery.send_task(DELIVER_MANY, args=[ids]))
    gateway = svc.make_gateway(ctx.settings)

    def deliver_now(ids: list[int]) -> None:
        for i in ids:
            try:
                svc.deliver_notification(ctx, i, gateway)
            except Exception:
                log.warning("notification %s not delivered yet; it stays pending", i, exc_info=True)

    return deliver_now
