"""No silent weak secrets: what a node outside demo mode refuses to start with.

A node with a federation identity and no ``YIWANG_ID_HASH_KEY`` once hashed ID numbers with an
empty HMAC key (an ID number was recovered offline), and the shipped placeholder key, the demo
key and the demo passwords were all accepted on PostgreSQL. Outside demo mode
(``YIWANG_DEMO=1``, what ``yiwang demo`` and the benches use) every way the node starts —
``yiwang node run``, the app factory gunicorn calls, ``yiwang federation serve``, ``yiwang
worker`` — calls ``require_strong_secrets`` and stops, saying which secret and how to fix it, when:

- a setting still holds a placeholder (``CHANGE-ME`` in ``DATABASE_URL``, ``CELERY_BROKER_URL``,
  ``YIWANG_NOTIFY_WEBHOOK_URL``, or a plugin's secret);
- a plugin's secret is missing or is its demo value (the federation's ID hash key:
  ``federation.plugin.weak_secrets``);
- an active account's password still verifies against the demo password.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from werkzeug.security import check_password_hash

from node.domain.passwords import DEMO_PASSWORD
from node.persistence.models import Staff

from .context import NodeContext

PLACEHOLDER = "CHANGE-ME"
DEMO_HINT = ("demo mode (YIWANG_DEMO=1) accepts these: use it only for a demo on throw-away data, never for a "
             "hall's real cases")


@dataclass(frozen=True)
class WeakSecret:
    what: str
    fix: str


class WeakSecrets(Exception):
    """The node must not start: one message naming every weak secret and its fix."""

    def __init__(self, problems: list[WeakSecret]) -> None:
        self.problems = problems
        lines = [f"refusing to start: {len(problems)} weak or demo secret{'s' if len(problems) > 1 else ''} "
                 "(outside demo mode)"]
        lines += [f"  - {p.what}: {p.fix}" for p in problems]
        lines.append(f"  ({DEMO_HINT})")
        super().__init__("\n".join(lines))


def is_placeholder(value: str | None) -> bool:
    return bool(value) and PLACEHOLDER.lower() in (value or "").lower()


def _settings_problems(ctx: NodeContext) -> list[WeakSecret]:
    st = ctx.settings
    out = []
    for var, value in (("DATABASE_URL", st.database_url), ("CELERY_BROKER_URL", st.broker_url),
                       ("YIWANG_NOTIFY_WEBHOOK_URL", st.notify_webhook_url)):
        if is_placeholder(value):
            out.append(WeakSecret(f"{var} still holds the shipped placeholder ({PLACEHOLDER}...)",
                                  f"set {var} to the real value (deploy/README.md: an env file or a Kubernetes "
                                  "Secret)"))
    return out


MEMO = "not-demo-passwords"
"""In the data dir: SHA-256 of each password hash already found not to be the demo password.
The answer for a given hash never changes, so a start checks only hashes it has not seen (each
check costs a sign-in's scrypt: a hall of 200 accounts would otherwise wait a minute at every
start)."""


def _memo(ctx: NodeContext) -> Path:
    return Path(ctx.settings.data_dir) / MEMO


def demo_accounts(ctx: NodeContext) -> list[str]:
    """User names of the active accounts whose password is the demo password."""
    with ctx.factory() as s:
        rows = s.execute(select(Staff.username, Staff.password_hash).where(Staff.active.is_(True))
                         .order_by(Staff.id)).all()
    memo = _memo(ctx)
    try:
        known = set(memo.read_text().split())
    except OSError:
        known = set()
    by_digest = {hashlib.sha256(h.encode()).hexdigest(): h for _, h in rows}
    todo = [(d, h) for d, h in by_digest.items() if d not in known]
    demo: set[str] = set()
    if todo:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1, len(todo))) as pool:
            found = list(pool.map(lambda h: check_password_hash(h, DEMO_PASSWORD), [h for _, h in todo]))
        demo = {h for (_, h), d in zip(todo, found) if d}
        cleared = [d for (d, h) in todo if h not in demo]
        if cleared:
            try:
                memo.parent.mkdir(parents=True, exist_ok=True)
                with memo.open("a") as f:
                    f.write("".join(d + "\n" for d in cleared))
            except OSError:
                pass  # a read-only data dir: checked again at the next start
    return [u for u, h in rows if h in demo]


def weak_secrets(ctx: NodeContext) -> list[WeakSecret]:
    from node.plugins import weak_secrets as plugin_secrets

    out = _settings_problems(ctx)
    out += [WeakSecret(what, fix) for what, fix in plugin_secrets(ctx)]
    users = demo_accounts(ctx)
    if users:
        out.append(WeakSecret(
            f"account{'s' if len(users) > 1 else ''} {', '.join(repr(u) for u in users)} still "
            f"{'have' if len(users) > 1 else 'has'} the demo password '{DEMO_PASSWORD}'",
            "give each a real password with 'yiwang staff set-password --username NAME' (or deactivate it); "
            "'yiwang seed demo' is for demo mode only"))
    return out


def require_strong_secrets(ctx: NodeContext) -> None:
    """Raise ``WeakSecrets`` unless the node is in demo mode or none of its secrets is weak."""
    if ctx.settings.demo:
        return
    problems = weak_secrets(ctx)
    if problems:
        raise WeakSecrets(problems)
