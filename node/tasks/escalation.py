"""The escalation job (预警、黄牌、红牌): a beat task every ``YIWANG_ESCALATE_SECONDS`` (default 300).

Safe to run anywhere and at any time: each (case, stage, level) is claimed by a unique row in the
same transaction as its notifications, so a restart, a second worker or a clock jump neither
repeats nor loses one. The notifications go out through the outbox (the delivery task, and the
sweep for any this process could not hand over).
"""
from __future__ import annotations

import logging

from celery import Celery

from node.config import Settings
from node.services.context import NodeContext
from node.services.supervision import run_escalation

from .names import DELIVER, ESCALATE

log = logging.getLogger("yiwang.tasks")


def register(app: Celery, settings: Settings) -> None:
    state: dict[str, NodeContext] = {}

    @app.task(name=ESCALATE)
    def escalate() -> int:
        if "ctx" not in state:  # built in the worker process, after the prefork
            state["ctx"] = NodeContext.build(settings)
        ids = run_escalation(state["ctx"])
        for i in ids:
            app.send_task(DELIVER, args=[i])
        if ids:
            log.info("escalation: %d notification(s) written", len(ids))
        return len(ids)
