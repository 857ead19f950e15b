"""Upload tasks: the hourly purge of uploads no application took (idempotent: see the service)."""
from __future__ import annotations

import logging

from celery import Celery

from node.config import Settings
from node.services.context import NodeContext
from node.services.uploads import purge_uploads as purge

from .names import PURGE_UPLOADS

log = logging.getLogger("yiwang.tasks")


def register(app: Celery, settings: Settings) -> None:
    state: dict[str, NodeContext] = {}

    @app.task(name=PURGE_UPLOADS)
    def purge_uploads() -> str:
        if "ctx" not in state:  # built inside the worker process, never at import
            state["ctx"] = NodeContext.build(settings)
        report = purge(state["ctx"])
        log.info("%s", report)
        return str(report)
