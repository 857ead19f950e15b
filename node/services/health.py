"""What the health endpoint says about this node's federation side.

A node whose own stored log is damaged cannot send its records upward until it is repaired: that
is "degraded", said at once by the health check (a monitor sees it) and not only in a log file.
The signal is the incident the uplink raised (``damaged_log``, open until ``yiwang federation
repair`` resolves it), read with one indexed query.
"""
from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from node.persistence.uow import SYSTEM

from .alerts import open_alerts
from .context import NodeContext


def federation_health(ctx: NodeContext) -> str | None:
    """None for a node without a federation identity; "ok"; or "degraded: <what and the way out>"."""
    if ctx.signer is None:
        return None
    try:
        with ctx.uow(SYSTEM) as uow:
            damaged = open_alerts(uow, "damaged_log", ctx.node_id)
    except SQLAlchemyError as e:
        return f"unknown: the database did not answer ({type(e).__name__})"
    if not damaged:
        return "ok"
    subjects = ", ".join(a.subject for a in damaged[:5]) + (" …" if len(damaged) > 5 else "")
    return (f"degraded: damaged log record(s) {subjects} block the uplink; "
            "run 'yiwang federation repair'")
