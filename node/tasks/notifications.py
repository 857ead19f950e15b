"""Notification tasks: idempotent (the service claims the outbox row), retried with backoff."""
from __future__ import annotations

import logging

from celery import Celery

from node.config import Settings
from node.services import notifications as svc
from node.services.context import NodeContext

from .names import DELIVER, DELIVER_MANY, SWEEP


log = logging.getLogger("yiwang.tasks")


def register(app: Celery, settings: Settings) -> None:
    state: dict[str, object] = {}

    def node() -> NodeContext:
        # Built lazily inside the worker process (after the prefork), never at import.
        if "ctx" not in state:
            state["ctx"] = NodeContext.build(settings)
            state["gw"] = svc.make_gateway(settings)
        return state["ctx"]  # type: ignore[return-value]

    @app.task(name=DELIVER, bind=True, max_retries=svc.MAX_ATTEMPTS)
    def deliver_notification(self, notification_id: int) -> str:  # type: ignore[no-untyped-def]
        ctx = node()
        try:
            return svc.deliver_notification(ctx, notification_id, state["gw"])  # type: ignore[arg-type]
        except svc.TransientGatewayError as e:
            raise self.retry(exc=e, countdown=min(2 ** self.request.retries, 300))

    @app.task(name=DELIVER_MANY)
    def deliver_notifications(notification_ids: list[int]) -> int:
        """Several rows committed together (the web process coalesces them), claimed and recorded
        together (``deliver_batch``); a row the gateway does not take now goes on as its own
        retrying ``deliver_notification`` task."""
        ctx = node()
        got = svc.deliver_batch(ctx, list(notification_ids), state["gw"])  # type: ignore[arg-type]
        for i, outcome in got.items():
            if outcome == "retry":  # counts as its first retry: the backoff goes on 2 s, 4 s ... as for a lone row
                log.info("notification %s not taken by the gateway: retried by its own task in 1s", i)
                app.send_task(DELIVER, args=[i], countdown=1, retries=1)
        return sum(1 for v in got.values() if v == "sent")

    @app.task(name=SWEEP)
    def sweep_notifications() -> int:
        ids = svc.due_notifications(node(), retrying=True)
        for i in ids:
            app.send_task(DELIVER, args=[i])
        return len(ids)
