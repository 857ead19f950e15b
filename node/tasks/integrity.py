"""The periodic integrity job (环节完整性监察): a beat task every ``YIWANG_INTEGRITY_SCAN_SECONDS``
(default 900; ``0`` turns it off) running ``services.integrity.run_integrity_scan`` -- log gaps,
cases that never moved, children that stopped syncing. The per-case rules run as records are
applied (``federation.inbox``), not here.

Safe to run anywhere and at any time: each finding has a unique key, written with ``ON CONFLICT
DO NOTHING``, so a restart, a repeated delivery or a second worker adds nothing.
"""
from __future__ import annotations

import logging

from celery import Celery

from node.config import Settings
from node.services.context import NodeContext
from node.services.integrity import run_integrity_scan

from .names import SCAN_INTEGRITY

log = logging.getLogger("yiwang.tasks")


def register(app: Celery, settings: Settings) -> None:
    state: dict[str, NodeContext] = {}

    @app.task(name=SCAN_INTEGRITY, shared=False)  # (shared: a later app in this process would get this closure)
    def scan_integrity() -> int:
        if "ctx" not in state:  # built in the worker process, after the prefork
            state["ctx"] = NodeContext.build(settings)
        n = run_integrity_scan(state["ctx"])
        if n:
            log.warning("integrity: %d new finding(s)", n)
        return n
