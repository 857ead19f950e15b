"""Locks against guessing: a service code's ID tail, a staff member's password.

Every refused secret (``WrongSecret``) counts against what the guesser aimed at — the
service code or the user name as typed, whether or not it exists, so a lock reveals nothing
either — and against the client's address. ``limit`` failures within ``YIWANG_LOCK_MINUTES``
lock it for that long (423 with ``Retry-After``); a lock is a row of ``access_locks``, so it
holds for every gunicorn worker, every replica and across restarts. Each failure is an entry of
the audit chain (``access_failures``: what, which code or account, which client, how many; never
the guessed secret).

``attempt`` is how an entry point (HTTP resource, page) runs a use case proved by a secret, the
way ``ctx.run`` runs any other: the lock check and the use case in one unit of work, committed
once; a refusal rolls it back and is recorded in a unit of work of its own (the refused one
writes nothing), then answered exactly as the use case refused it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterable, TypeVar

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError

from node.domain.errors import Locked, WrongSecret
from node.domain.lifecycle import Actor
from node.persistence import audit
from node.persistence.models import AccessLock

from .context import NodeContext, Work, as_cst

T = TypeVar("T")

SCOPE_ZH = {"code": ("此监管码", "this service code"), "account": ("此账号", "this account"),
            "lookup-client": ("您的网络地址", "your network address"),
            "signin-client": ("您的网络地址", "your network address")}


@dataclass(frozen=True)
class Guarded:
    """One thing failures count against: ``scope`` (code, account, lookup-client,
    signin-client) and ``key``; ``limit`` failures lock it; ``field`` is named in the answer;
    ``forgiven`` clears its count when the secret is right (the owner of a code or an account —
    not a client, or one good account would let its holder guess at the others)."""

    scope: str
    key: str
    limit: int
    field: str
    forgiven: bool = False


def ensure_open(uow: Work, targets: Iterable[Guarded]) -> None:
    """Refuse (423) while any of ``targets`` is locked."""
    s = uow.session
    for t in targets:
        row = s.get(AccessLock, (t.scope, t.key))
        if row is not None and row.locked_until is not None and as_cst(row.locked_until) > uow.now:
            wait = int((as_cst(row.locked_until) - uow.now).total_seconds()) + 1
            zh, en = SCOPE_ZH.get(t.scope, ("此对象", "this"))
            minutes = max(1, -(-wait // 60))
            raise Locked(f"{zh}因多次核验失败已暂时锁定，请 {minutes} 分钟后再试 / {en} is locked after "
                         f"repeated failed attempts; try again in {minutes} minutes", field=t.field,
                         retry_after=wait)


def record_failure(uow: Work, what: str, targets: list[Guarded], client: str) -> list[str]:
    """Count one failure against each target (rows locked: concurrent failures all count) and
    audit it; returns the scopes this failure locked."""
    s = uow.session
    window = timedelta(minutes=uow.ctx.settings.lock_minutes)
    locked: list[str] = []
    counts: dict[str, int] = {}
    for t in targets:
        row = s.get(AccessLock, (t.scope, t.key), with_for_update=True)
        if row is None:
            purge_stale(uow)
            row = AccessLock(scope=t.scope, key=t.key, failures=0, window_start=uow.now, locked_until=None)
            s.add(row)
        elif as_cst(row.window_start) + window <= uow.now or (
                row.locked_until is not None and as_cst(row.locked_until) <= uow.now):
            row.failures, row.window_start, row.locked_until = 0, uow.now, None  # a new window
        row.failures += 1
        counts[t.scope] = row.failures
        if row.failures >= t.limit:
            row.locked_until = uow.now + window
            row.failures, row.window_start = 0, uow.now
            locked.append(t.scope)
    s.flush()
    audit.record(uow, "access_failures", targets[0].key[:64], what,
                 {"targets": {t.scope: t.key for t in targets}, "client": client, "failures": counts,
                  "locked": locked, "locked_for_minutes": uow.ctx.settings.lock_minutes if locked else 0})
    return locked


def forgive(uow: Work, targets: Iterable[Guarded]) -> None:
    """The secret was right: the counts of the owner's targets start again."""
    for t in targets:
        if t.forgiven:
            uow.session.execute(delete(AccessLock).where(AccessLock.scope == t.scope, AccessLock.key == t.key))


def purge_stale(uow: Work) -> int:
    """Rows whose window and lock have both passed (a day's grace): the table stays small."""
    cutoff = uow.now - timedelta(minutes=uow.ctx.settings.lock_minutes) - timedelta(days=1)
    r = uow.session.execute(delete(AccessLock).where(
        AccessLock.window_start < cutoff, or_(AccessLock.locked_until.is_(None), AccessLock.locked_until < cutoff)))
    return int(getattr(r, "rowcount", 0) or 0)


def attempt(ctx: NodeContext, who: Actor | None, targets: list[Guarded], use_case: Callable[..., T], *args: Any,
            what: str, client: str, **kw: Any) -> T:
    """``use_case(uow, *args, **kw)`` behind the locks of ``targets`` (see the module's docstring)."""
    with ctx.uow(who) as uow:
        ensure_open(uow, targets)
        try:
            out = use_case(uow, *args, **kw)
        except WrongSecret as e:
            refused = e
        else:
            forgive(uow, targets)
            uow.commit()
            return out
    for tries in range(3):  # two first failures against one new key at once: one insert wins
        try:
            with ctx.uow(who) as uow:
                record_failure(uow, what, targets, client)
                uow.commit()
            break
        except IntegrityError:
            if tries == 2:
                raise
    raise refused


def lookup_targets(ctx: NodeContext, code: str, client: str) -> list[Guarded]:
    """A public lookup, supply, withdrawal or rating of ``code`` (normalized) from ``client``:
    throttled per client and per code (429), then locked per code and per client."""
    st = ctx.settings
    ctx.throttle.hit(st.lookup_limit, "lookup-client", client, what="lookup", field_name="code")
    ctx.throttle.hit(st.lookup_code_limit, "lookup-code", code, what="lookup", field_name="code")
    return [Guarded("code", code, st.lock_after, "code", forgiven=True),
            Guarded("lookup-client", client, st.lock_client_after, "code")]


def signin_targets(ctx: NodeContext, username: str, client: str) -> list[Guarded]:
    """A staff sign-in as ``username`` from ``client``: throttled per client and per account
    (429), then locked per account and per client."""
    st = ctx.settings
    account = username.strip().lower()[:128]
    ctx.throttle.hit(st.signin_limit, "signin-client", client, what="signin", field_name="username")
    ctx.throttle.hit(st.signin_account_limit, "signin-account", account, what="signin", field_name="username")
    return [Guarded("account", account, st.lock_after, "username", forgiven=True),
            Guarded("signin-client", client, st.lock_client_after, "username")]
