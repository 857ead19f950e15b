"""Rate limits on the doors a guesser knocks at: the public lookup and staff sign-in.

Counted with ``limits`` (the engine of Flask-Limiter) over a moving window: in Redis when the
node has a ``redis://`` broker (``CELERY_BROKER_URL``), so every gunicorn worker and every
replica shares the count; in the process's memory otherwise (one worker on SQLite). The node
calls the engine itself rather than Flask-Limiter's decorators because one Flask-Limiter keeps
the storage of the last app it was given (a node builds an app per settings; tests run several)
and because a sign-in is counted per user name, which is in the request body.

Throttling slows guessing down; the locks of ``node.services.guard`` (rows of the database) stop
it. So a Redis that cannot be reached lets requests through (logged) rather than refusing every
applicant and clerk.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from node.config import Settings
from node.domain.errors import TooManyAttempts

log = logging.getLogger("yiwang.throttle")

WHAT_ZH = {"lookup": "查询", "signin": "登录"}


def storage_uri(settings: Settings) -> str:
    """Redis when the broker is Redis, else memory."""
    url = settings.broker_url or ""
    return url if url.startswith(("redis://", "rediss://")) else "memory://"


@dataclass
class Throttle:
    """``hit(rule, key)``: one attempt counted against ``rule`` (a ``limits`` string such as
    ``10/minute``) for ``key``; raises ``TooManyAttempts`` (429) once the window is full."""

    uri: str
    namespace: str
    _limiter: MovingWindowRateLimiter | None = field(default=None, repr=False)
    _items: dict[str, RateLimitItem] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Throttle":
        # Nodes (and test databases) sharing one Redis count apart; workers of one node together.
        ns = hashlib.sha256(f"{settings.node_id}|{settings.database_url}".encode()).hexdigest()[:16]
        return cls(storage_uri(settings), f"yiwang:{ns}")

    @property
    def limiter(self) -> MovingWindowRateLimiter:
        if self._limiter is None:
            self._limiter = MovingWindowRateLimiter(storage_from_string(self.uri))
        return self._limiter

    def _item(self, rule: str) -> RateLimitItem:
        if rule not in self._items:
            self._items[rule] = parse(rule)
        return self._items[rule]

    def hit(self, rule: str, name: str, key: str, *, what: str, field_name: str) -> None:
        """Count one attempt; refuse it (429, naming ``field_name``) when over ``rule``."""
        item = self._item(rule)
        try:
            if self.limiter.hit(item, self.namespace, name, key):
                return
            reset = self.limiter.get_window_stats(item, self.namespace, name, key).reset_time
        except Exception:  # noqa: BLE001 - see the module's docstring: the database locks still hold
            log.warning("throttle storage %s unreachable; %s not rate limited", self.uri.split("@")[-1], name,
                        exc_info=True)
            return
        wait = max(1, math.ceil(reset - time.time()))
        raise TooManyAttempts(
            f"{WHAT_ZH.get(what, '请求')}过于频繁，请 {wait} 秒后再试 / too many {what} attempts; "
            f"try again in {wait} seconds", field=field_name, retry_after=wait)


def client_key(value: Any) -> str:
    return str(value or "unknown")[:128]
