"""Bearer-token authentication for staff routes, and the request's unit of work."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from flask import current_app, g, request
from sqlalchemy.exc import IntegrityError

from node.api import clients
from node.domain.errors import Unauthenticated
from node.domain.lifecycle import Actor
from node.services.context import NodeContext, Work
from node.services.org import Authenticated, authenticate

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def ctx() -> NodeContext:
    return current_app.extensions["yiwang"]


def client_address() -> str:
    """Who is asking, for throttles, locks and upload budgets: the peer's address, or the one a
    trusted reverse proxy (``YIWANG_TRUSTED_PROXIES``) forwarded (``node.api.clients``)."""
    return clients.client_address(ctx().settings.trusted_proxies)[:128]


def bearer() -> str | None:
    h = request.headers.get("Authorization", "")
    if not h:
        return None
    scheme, _, token = h.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use 'Authorization: Bearer <token>'", field="Authorization")
    return token.strip()


def current() -> Authenticated:
    if "auth" not in g:
        token = bearer()
        if token is None:
            raise Unauthenticated("sign in first: this needs 'Authorization: Bearer <token>'", field="Authorization")
        g.auth = authenticate(ctx(), token)
    return g.auth


def actor() -> Actor:
    """The signed-in staff member as the policy sees them (what they may do is asked of
    ``node.domain.policy`` where they act)."""
    return current().actor


def optional_actor() -> Actor | None:
    return current().actor if bearer() is not None else None


T = TypeVar("T")


@contextmanager
def unit_of_work(who: Actor | None = None) -> Iterator[Work]:
    """The request's unit of work, acting as ``who`` (None: the public): committed once when
    the block ends, rolled back (nothing written) when it raises."""
    with ctx().uow(who) as uow:
        yield uow
        uow.commit()


def in_unit_of_work(fn: Callable[[Work], T], who: Actor | None = None,
                    retry_if: Callable[[IntegrityError], bool] | None = None, attempts: int = 3) -> T:
    """``fn`` in one unit of work; where ``retry_if`` says an integrity error is worth another
    try (a random service code that clashed), the whole use case runs again in a fresh one."""
    for attempt in range(attempts):
        try:
            with unit_of_work(who) as uow:
                return fn(uow)
        except IntegrityError as e:
            if retry_if is None or not retry_if(e) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
