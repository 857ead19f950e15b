"""The periodic audit check: the chain walked and replayed against the live rows, an
``audit_mismatch`` alert raised per broken row (``services.admin.watch_audit``). Beat runs it
every ``YIWANG_AUDIT_VERIFY_SECONDS``; it only reads and raises alerts (one per incident, later
sightings counted), so a repeated or duplicated delivery does no harm."""
from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from node.config import Settings
from node.services.admin import watch_audit
from node.services.context import NodeContext

from .names import VERIFY_AUDIT

log = logging.getLogger("yiwang.tasks")


def register(app: Celery, settings: Settings) -> None:
    state: dict[str, NodeContext] = {}

    @app.task(name=VERIFY_AUDIT, shared=False)  # (shared: a later app in this process would get this closure)
    def verify_audit() -> dict[str, Any]:
        if "ctx" not in state:  # built in the worker process, never at import
            state["ctx"] = NodeContext.build(settings)
        r = watch_audit(state["ctx"])
        if not r.ok:
            log.error("audit NOT intact: %s", "; ".join(r.lines()[:20]))
        return {"ok": r.ok, "entries": r.entries, "rows": r.rows,
                "differences": len(r.differences) + r.more_differences, "seconds": round(r.seconds, 2)}
