"""How the web process hands committed outbox rows to delivery."""
from __future__ import annotations

import logging
from typing import Callable

from node.services import notifications as svc
from node.services.context import NodeContext

from .celery_app import DELIVER, make_celery

log = logging.getLogger("yiwang.dispatch")


def make_dispatcher(ctx: NodeContext) -> Callable[[list[int]], None]:
    """With a broker: enqueue a Celery task per row. Without one (the embedded default):
    deliver in-process right after the commit; a failure leaves the row pending for
    ``yiwang notify sweep`` or the next start."""
    if ctx.settings.broker_url:
        celery = make_celery(ctx.settings)

        def enqueue(ids: list[int]) -> None:
            for i in ids:
                try:
                    celery.send_task(DELIVER, args=[i])
                except Exception:  # the row stays pending; the periodic sweep re-sends it
                    log.exception("could not enqueue notification %s", i)

        return enqueue
    gateway = svc.make_gateway(ctx.settings)

    def deliver_now(ids: list[int]) -> None:
        for i in ids:
            try:
                svc.deliver_notification(ctx, i, gateway)
            except Exception:
                log.warning("notification %s not delivered yet; it stays pending", i, exc_info=True)

    return deliver_now
