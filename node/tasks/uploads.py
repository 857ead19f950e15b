"""Upload tasks: the hourly purge of uploads no application took (idempotent: see the service)."""
from __future__ import annotations

import logging

from celery import Celery

from node.config import Settings
from node.services.context import NodeContext
from node.services.uploads import purge_uploads

from .names import PURGE_UPLOADS

log = logging.getLogger("yiwang.tasks")


def purge_now(settings: Settings) -> str:
    """One purge on a node built for it (hourly: not worth keeping a context between runs)."""
    ctx = NodeContext.build(settings)
    try:
        report = purge_uploads(ctx)
    finally:
        ctx.engine.dispose()
    log.info("%s", report)
    return str(report)


def register(app: Celery, settings: Settings) -> None:
    @app.task(name=PURGE_UPLOADS)
    def purge_expired_uploads() -> str:
        return purge_now(settings)
