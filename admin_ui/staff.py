"""The staff pages' blueprint (``/staff``): sign-in, sign-out and each role's landing.

The window, desk, hall admin and inspector pages add their routes to ``bp`` from their own
modules (``admin_ui.window``, ``admin_ui.desk``, ...).
"""
from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from node.api.auth import client_address
from node.domain.errors import DomainError, Locked
from node.domain.roles import ROLE_NAMES_ZH
from node.services import guard, org
from node.services.context import SYSTEM

from .session import csrf, ctx, landing, may, safe_next, signed_in, staff_page

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")


NAV = (  # (endpoint, label, whether this signed-in person may use it: asked of the policy)
    ("staff.window", "窗口受理", lambda: may("accept_on_submission") or may("submit_case") and not may("claim_case")),
    ("staff.desk", "我的待办", lambda: may("request_extension")),
    ("staff.admin", "大厅管理", lambda: may("manage_items") or may("create_department")),
    ("staff.inspector", "监察总览", lambda: may("read_supervision")),
)


def staff_nav() -> list[tuple[str, str]]:
    """The staff pages this person may use (pages whose module is present)."""
    if signed_in() is None:
        return []
    return [(e, label) for e, label, ok in NAV if e in current_app.view_functions and ok()]


@bp.app_context_processor
def _who() -> dict[str, object]:
    return {"me": signed_in(), "ROLE_ZH": ROLE_NAMES_ZH, "may": may, "staff_nav": staff_nav}


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        if signed_in() is not None:
            return redirect(nxt or url_for(landing(signed_in().actor.role)))  # type: ignore[union-attr]
        return render_template("staff/login.html", error=None, username="", next=nxt or "")
    csrf.protect()
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    errors = {}
    if not username:
        errors["username"] = "请输入用户名。"
    if not password:
        errors["password"] = "请输入密码。"
    if errors:
        return render_template("staff/login.html", error=None, errors=errors, username=username,
                               next=nxt or ""), 422
    try:
        targets = guard.signin_targets(ctx(), username, client_address())
        token, staff = guard.attempt(ctx(), SYSTEM, targets, org.login, username, password,
                                     what="signin", client=client_address())
    except Locked as e:
        wait = max(1, -(-e.retry_after // 60))
        msg = (f"登录尝试过于频繁，请 {wait} 分钟后再试。" if e.status == 429 else
               f"因多次密码错误，该账号（或您的网络地址）已暂时锁定，请 {wait} 分钟后再试。")
        return (render_template("staff/login.html", error=msg, username=username, next=nxt or ""), e.status,
                {"Retry-After": str(e.retry_after)})
    except DomainError:
        return render_template("staff/login.html", error="用户名或密码错误。", username=username,
                               next=nxt or ""), 401
    session.clear()  # a fresh session (and CSRF token) at every sign-in: no fixation
    session["token"] = token
    from node.domain.roles import Role

    return redirect(nxt or url_for(landing(Role(staff.role))))


@bp.post("/logout")
@staff_page()
def logout():  # type: ignore[no-untyped-def]
    token = session.get("token")
    if token:
        ctx().run(SYSTEM, org.logout, token)
    session.clear()
    return redirect(url_for("staff.login"))


@bp.get("/")
@staff_page()
def home():  # type: ignore[no-untyped-def]
    auth = signed_in()
    assert auth is not None
    target = landing(auth.actor.role)
    if target != "staff.home":
        return redirect(url_for(target))
    return render_template("staff/home.html")
