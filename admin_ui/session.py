"""Staff sign-in for the pages: a session cookie carrying the staff member's bearer token.

The cookie is Flask's signed session (HttpOnly, SameSite=Lax, Secure when ``YIWANG_SECURE_COOKIES=1``);
what it holds is the same token ``POST /api/v1/auth/token`` hands out, so expiry, deactivation and
sign-out (the token revoked) work alike for the API and the pages, and every page acts through
``node.services`` as that staff member. Every state-changing request of a signed-in page carries a
CSRF token (Flask-WTF's ``CSRFProtect``, checked in ``protect``): another site cannot make a
signed-in browser act. The public pages carry no ambient authority (what they do is proved by the
service code and the ID tail typed into the form), so they need none.

The signing key is ``YIWANG_SESSION_SECRET`` or, absent that, a random key kept in the data dir
(``session-secret``, mode 0600), shared by every worker of the node.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]

from node.config import Settings
from node.domain.errors import DomainError
from node.domain.lifecycle import Actor
from node.domain.policy import Action, Target, can
from node.domain.roles import Role
from node.services.context import NodeContext
from node.services.org import Authenticated, authenticate

csrf = CSRFProtect()
SECRET_FILE = "session-secret"
F = TypeVar("F", bound=Callable[..., Any])


def ctx() -> NodeContext:
    return current_app.extensions["yiwang"]


def session_secret(settings: Settings) -> str:
    if settings.session_secret:
        return settings.session_secret
    path = Path(settings.data_dir) / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:  # O_EXCL: two workers starting at once agree on the first one's key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def install(app: Flask, settings: Settings) -> None:
    app.secret_key = session_secret(settings)
    app.config.update(SESSION_COOKIE_NAME="yiwang_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.secure_cookies,
                      WTF_CSRF_CHECK_DEFAULT=False,  # the API (bearer tokens) is not cookie-authenticated
                      WTF_CSRF_TIME_LIMIT=None)  # the token lives as long as the session
    csrf.init_app(app)


def signed_in() -> Authenticated | None:
    """The staff member this browser is signed in as, or None (no session, or its token revoked or
    expired: the session is then forgotten)."""
    if "staff_auth" not in g:
        token = session.get("token")
        auth = None
        if token:
            try:
                auth = authenticate(ctx(), token)
            except DomainError:
                session.pop("token", None)
        g.staff_auth = auth
    return g.staff_auth  # type: ignore[no-any-return]


def actor() -> Actor:
    auth = signed_in()
    assert auth is not None, "staff_page guarantees a signed-in staff member"
    return auth.actor


def may(action: str, department_id: int | None = None, **target: Any) -> bool:
    """What the policy says this page may offer (buttons and links the role may not use are not shown)."""
    auth = signed_in()
    if auth is None:
        return False
    return can(auth.actor, Action(action), Target(department_id=department_id, **target))


def safe_next(url: str | None) -> str | None:
    """Only a path on this node (no scheme, no host, not protocol-relative): never an open redirect."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    parts = urlsplit(url)
    return url if not parts.scheme and not parts.netloc else None


def staff_page(*roles: Role) -> Callable[[F], F]:
    """A page for signed-in staff (of ``roles``, when given): others are sent to sign in. POSTs
    are CSRF-checked first."""
    def wrap(view: F) -> F:
        @wraps(view)
        def inner(*a: Any, **kw: Any) -> Any:
            auth = signed_in()
            if auth is None:
                return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                csrf.protect()
            if roles and auth.actor.role not in roles:
                from flask import render_template
                return render_template("message.html", title="无权访问",
                                       text="您的岗位不能使用此页面。"), 403
            return view(*a, **kw)
        return inner  # type: ignore[return-value]
    return wrap


LANDING = {
    Role.CLERK: "staff.window",
    Role.AGENT: "staff.window",
    Role.HANDLER: "staff.desk",
    Role.REVIEWER: "staff.desk",
    Role.APPROVER: "staff.desk",
    Role.CHIEF: "staff.desk",
    Role.ADMIN: "staff.admin",
    Role.INSPECTOR: "staff.inspector",
}


def landing(role: Role) -> str:
    """Each role's own first page (an endpoint another page module has not registered yet: home)."""
    endpoint = LANDING.get(role, "staff.home")
    return endpoint if endpoint in current_app.view_functions else "staff.home"
