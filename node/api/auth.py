"""Bearer-token authentication for staff routes."""
from __future__ import annotations

from flask import current_app, g, request

from node.domain.errors import PermissionDenied, Unauthenticated
from node.domain.lifecycle import Actor
from node.domain.roles import Role
from node.services.context import NodeContext
from node.services.org import Authenticated, authenticate

SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def ctx() -> NodeContext:
    return current_app.extensions["yiwang"]


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


def actor(*roles: Role) -> Actor:
    a = current().actor
    if roles and a.role not in roles:
        raise PermissionDenied(f"this needs one of the roles: {', '.join(r.value for r in roles)}", field="role")
    return a


def optional_actor() -> Actor | None:
    return current().actor if bearer() is not None else None
