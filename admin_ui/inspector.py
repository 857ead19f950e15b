"""The inspector dashboard (监察总览, ``/staff/inspector``): lights by region, alerts, integrity
findings, the assessment's ranking and monthly trend (Chart.js, drawn by ``static/inspector.js``
from a JSON data block), the overdue (超期) and warning (预警) lists with keyset paging, a case's
cross-level timeline with its supervision orders and the form to issue one (督办 / 纠错), and the
assessment export (绩效考核, XLSX).

Who may open it is the policy's ``READ_SUPERVISION`` (inspectors; the hall admin too); each section
and button is asked of the policy separately (``may``), and every call goes through ``node.services``
in one unit of work per request.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, TypeVar

from flask import Response, flash, redirect, render_template, request, url_for

from node.domain import servicecode
from node.domain.errors import DomainError
from node.services import alerts, assessment, integrity, supervision, supervision_orders
from node.services.context import CST

from .errors import explain
from .session import ctx, may, staff_page
from .staff import bp
from .vocab import (
    ALERT_KIND_ZH,
    ALERT_STATE_ZH,
    CHANNEL_ZH,
    LIGHT_ZH,
    STAGE_ZH,
    level_zh,
)

F = TypeVar("F", bound=Callable[..., Any])

ORDER_KIND_ZH = {"supervise": "督办", "correct": "纠错"}
FINDING_ZH = {"out_of_order": "环节顺序异常", "skipped_stage": "跳过环节", "result_without_acceptance": "未受理即出结果",
              "accept_after_refusal": "不予受理后又受理", "time_backwards": "时间倒流", "future_time": "时间超前",
              "never_moved": "长期未流转", "log_gap": "记录缺号", "stopped_syncing": "下级停止同步"}
PAGE_SIZE = 20
TREND_MONTHS = 6

# This page's sentences for the fields its forms and lists ask for (``errors.explain``'s hints).
FIELD_ZH = {
    "kind": "请选择督办类型（督办或纠错）。",
    "text": "请填写督办内容（1 至 2000 字）。",
    "due_days": "反馈期限为 1 至 60 个工作日的整数，可不填。",
    "case_code": "该办件不能由本级下发督办单：督办单只能下发给本级以下节点的办件。",
    "note": "请填写处理说明（退回时须说明理由，1 至 2000 字）。",
    "decision": "请选择办结或退回。",
    "state": "该记录的状态已变化，不能进行此操作。",
    "month": "月份格式为 YYYY-MM。",
    "cursor": "翻页参数无效，请从第一页重新查看。",
    "page_size": "每页条数为 1 至 200。",
    "region": "所选地区不在本级监察范围内。",
    "id": "未找到该记录。",
    "role": "您的岗位不能进行此操作。",
    "code": "未找到该办件。",
}


def zh_error(e: DomainError) -> str:
    """The error in Chinese (``errors.explain``, with this page's hints for its fields)."""
    return explain(e, FIELD_ZH)


def inspector_page(view: F) -> F:
    """A signed-in page for whoever the policy lets read supervision data; anyone else 403."""
    @staff_page()
    @wraps(view)
    def inner(*a: Any, **kw: Any) -> Any:
        if not may("read_supervision"):
            return render_template("message.html", title="无权访问", text="您的岗位不能查看监察总览。"), 403
        return view(*a, **kw)
    return inner  # type: ignore[return-value]


def _today() -> date:
    return ctx().clock().astimezone(CST).date()


def _month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _months_back(d: date, n: int) -> list[str]:
    y, m, out = d.year, d.month, []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _region_name(origin: str) -> str:
    name = level_zh(origin)
    return "" if name == origin else name


def _grid(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The counts (region, stage kind, light) folded into one card per region and the totals."""
    regions: dict[str, dict[str, Any]] = {}
    totals = dict.fromkeys(LIGHT_ZH, 0)
    for r in rows:
        g = regions.setdefault(r["region"], {"region": r["region"], "level": _region_name(r["region"]),
                                             **dict.fromkeys(LIGHT_ZH, 0)})
        g[r["light"]] = g.get(r["light"], 0) + r["count"]
        totals[r["light"]] = totals.get(r["light"], 0) + r["count"]
    return sorted(regions.values(), key=lambda g: g["region"]), totals


def _overview(uow: Any, month: str) -> dict[str, Any]:
    grid, totals = _grid(supervision.counts(uow, by="origin"))
    out: dict[str, Any] = {"grid": grid, "totals": totals, "alerts": [], "findings": [], "ranking": [],
                           "trend": []}
    if may("read_alerts"):
        rows = [a for state in ("open", "acknowledged") for a in alerts.list_alerts(uow, state=state, limit=20)[0]]
        out["alerts"] = sorted(rows, key=lambda a: a.id, reverse=True)[:20]
    if may("read_integrity"):
        out["findings"], out["findings_more"] = integrity.list_findings(uow, limit=20)
    if may("read_assessment"):
        out["ranking"] = assessment.ranking(uow, month, "department")
        for m in _months_back(date.fromisoformat(month + "-01"), TREND_MONTHS):
            rows = assessment.ranking(uow, m, "node")
            out["trend"].append({"month": m, "received": sum(r["received"] for r in rows),
                                 "concluded": sum(r["concluded"] for r in rows),
                                 "overdue": sum(r["overdue"] for r in rows)})
    return out


def _month_arg() -> tuple[str, str | None]:
    """The month asked for (default: this month) and its error, if any."""
    raw = request.args.get("month")
    if not raw:
        return _month(_today()), None
    try:
        return assessment.parse_args({"month": raw})["month"], None
    except DomainError:
        return _month(_today()), FIELD_ZH["month"]


@bp.get("/inspector")
@inspector_page
def inspector():  # type: ignore[no-untyped-def]
    month, month_error = _month_arg()
    try:
        data = ctx().run(_actor(), _overview, month)
    except DomainError as e:
        return render_template("message.html", title="监察总览", text=zh_error(e)), e.status
    charts = {
        "ranking": {"labels": [r["name"] or r["code"] for r in data["ranking"][:15]],
                    "score": [round(r["score"], 1) for r in data["ranking"][:15]]},
        "trend": {"labels": [t["month"] for t in data["trend"]],
                  "received": [t["received"] for t in data["trend"]],
                  "concluded": [t["concluded"] for t in data["trend"]],
                  "overdue": [t["overdue"] for t in data["trend"]]},
    }
    return render_template("inspector/overview.html", month=month, month_error=month_error, charts=charts,
                           LIGHT_ZH=LIGHT_ZH, ALERT_STATE_ZH=ALERT_STATE_ZH, ALERT_KIND_ZH=ALERT_KIND_ZH,
                           FINDING_ZH=FINDING_ZH, **data), (422 if month_error else 200)


def _actor():  # type: ignore[no-untyped-def]
    from .session import actor

    return actor()


LIST_FILTERS = ("region", "stage", "channel")
"""What the overdue and warning lists can be narrowed by (``supervision.light_list``'s filters)."""


def _regions() -> list[dict[str, str]]:
    """The regions of this node's subtree that hold cases, for the lists' region filter."""
    try:
        rows = ctx().run(_actor(), lambda uow: supervision.counts(uow))
    except DomainError:
        return []
    return [{"code": o, "name": f"{o} {_region_name(o)}"} for o in sorted({r["region"] for r in rows})]


def _list_page(light: str, title: str, endpoint: str) -> Any:
    cursor = request.args.get("cursor") or None
    filters = {k: (request.args.get(k) or "").strip() for k in LIST_FILTERS}
    given = {k: v for k, v in filters.items() if v}
    try:
        size = int(request.args.get("n") or PAGE_SIZE)
    except ValueError:
        size = 0
    try:
        page = ctx().run(_actor(), lambda uow: supervision.light_list(uow, light=light, cursor=cursor,
                                                                       page_size=size, **given))
        error = None
    except DomainError as e:
        page, error = {"items": [], "next_cursor": None}, zh_error(e)
        status = e.status
    else:
        status = 200
    n = size if size != PAGE_SIZE else None
    nxt = url_for(endpoint, cursor=page["next_cursor"], n=n, **given) if page["next_cursor"] else None
    first = url_for(endpoint, n=n, **given) if cursor else None
    return render_template("inspector/list.html", title=title, light=light, items=page["items"], error=error,
                           next_url=nxt, first_url=first, filters=filters, regions=_regions(),
                           endpoint=endpoint, LIGHT_ZH=LIGHT_ZH, STAGE_ZH=STAGE_ZH,
                           CHANNEL_ZH=CHANNEL_ZH, today=_today()), status


@bp.get("/inspector/overdue")
@inspector_page
def inspector_overdue():  # type: ignore[no-untyped-def]
    return _list_page("red", "超期办件", "staff.inspector_overdue")


@bp.get("/inspector/yellow")
@inspector_page
def inspector_yellow():  # type: ignore[no-untyped-def]
    return _list_page("yellow", "预警办件", "staff.inspector_yellow")


def _case(uow: Any, code: str) -> dict[str, Any]:
    t = supervision.timeline(uow, code)
    t["orders"] = supervision_orders.list_orders(uow, case_code=code) if may("read_supervision_orders") else []
    return t


def _render_case(code: str, errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
                 status: int = 200) -> Any:
    try:
        code = servicecode.normalize(code, field="code")
        t = ctx().run(_actor(), _case, code)
    except DomainError as e:
        return render_template("message.html", title="办件全流程", text=zh_error(e)), e.status
    parts: dict[str, dict[str, Any]] = {p["service_code"]: {**p, "events": []} for p in t["parts"]}
    for e in t["events"]:
        e["level"] = _region_name(e["origin"])
        e["at_zh"] = e["at"].astimezone(CST).strftime("%Y-%m-%d %H:%M") if e["at"] else ""
        parts.setdefault(e["service_code"], {"service_code": e["service_code"], "origin": e["origin"],
                                             "part_no": e["part_no"], "events": []})["events"].append(e)
    return render_template("inspector/case.html", code=code, t=t, parts=list(parts.values()), errors=errors or {},
                           form=form or {"kind": "supervise", "text": "", "due_days": ""}, LIGHT_ZH=LIGHT_ZH,
                           STAGE_ZH=STAGE_ZH, ORDER_KIND_ZH=ORDER_KIND_ZH, CHANNEL_ZH=CHANNEL_ZH), status


@bp.get("/inspector/cases/<code>")
@inspector_page
def inspector_case(code: str):  # type: ignore[no-untyped-def]
    return _render_case(code)


@bp.post("/inspector/cases/<code>/orders")
@inspector_page
def inspector_issue_order(code: str):  # type: ignore[no-untyped-def]
    form = {k: (request.form.get(k) or "").strip() for k in ("kind", "text", "due_days")}
    errors: dict[str, str] = {}
    days: int | None = None
    if form["due_days"]:
        try:
            days = int(form["due_days"])
        except ValueError:
            errors["due_days"] = FIELD_ZH["due_days"]
    if not errors:
        try:
            row = ctx().run(_actor(), supervision_orders.issue_order, code, form["kind"] or None, form["text"], days)
        except DomainError as e:
            field = e.field if e.field in ("kind", "text", "due_days") else "form"
            errors[field] = zh_error(e)
            return _render_case(code, errors, form, e.status)
        flash(f"已下发{ORDER_KIND_ZH.get(form['kind'], '督办')}单 {row.ref}。", "ok")
        return redirect(url_for("staff.inspector_case", code=code))
    return _render_case(code, errors, form, 422)


@bp.post("/inspector/orders/<int:order_id>/decision")
@inspector_page
def inspector_decide_order(order_id: int):  # type: ignore[no-untyped-def]
    """办结 (close: the response is accepted) or 退回重办 (return: the department responds again; a
    note saying why is required); the decision travels down to the case's node."""
    code = request.form.get("case_code") or ""
    decision = request.form.get("decision") or ""
    note = (request.form.get("note") or "").strip() or None
    try:
        ctx().run(_actor(), supervision_orders.decide, order_id, decision, note)
    except DomainError as e:
        flash(f"督办单未能{'退回' if decision == 'return' else '办结'}：{zh_error(e)}", "error")
    else:
        flash("督办单已办结。" if decision == "close" else "督办单已退回，请承办部门重新反馈。", "ok")
    try:
        code = servicecode.normalize(code, field="case_code")
    except DomainError:
        return redirect(url_for("staff.inspector"))
    return redirect(url_for("staff.inspector_case", code=code) + "#orders")


def _change(fn: Callable[..., Any], done: str, *args: Any) -> Any:
    try:
        ctx().run(_actor(), fn, *args)
        flash(done, "ok")
    except DomainError as e:
        flash(zh_error(e), "error")
    return redirect(url_for("staff.inspector") + "#" + ("alerts" if fn in (alerts.acknowledge, alerts.resolve)
                                                          else "findings"))


@bp.post("/inspector/alerts/<int:alert_id>/acknowledge")
@inspector_page
def inspector_ack_alert(alert_id: int):  # type: ignore[no-untyped-def]
    return _change(alerts.acknowledge, f"告警 #{alert_id} 已确认。", alert_id, None)


@bp.post("/inspector/alerts/<int:alert_id>/resolve")
@inspector_page
def inspector_resolve_alert(alert_id: int):  # type: ignore[no-untyped-def]
    return _change(alerts.resolve, f"告警 #{alert_id} 已解决。", alert_id, request.form.get("note") or "")


@bp.post("/inspector/findings/<int:finding_id>/review")
@inspector_page
def inspector_review_finding(finding_id: int):  # type: ignore[no-untyped-def]
    return _change(integrity.review_finding, f"监察发现 #{finding_id} 已标记为已核查。", finding_id,
                   request.form.get("note") or "")


@bp.get("/inspector/assessment.xlsx")
@inspector_page
def inspector_assessment_xlsx():  # type: ignore[no-untyped-def]
    month, error = _month_arg()
    if error:
        flash(error, "error")
        return redirect(url_for("staff.inspector"))
    try:
        rows = ctx().run(_actor(), assessment.ranking, month, "department")
    except DomainError as e:
        flash(zh_error(e), "error")
        return redirect(url_for("staff.inspector"))
    return Response(assessment.export(rows, "xlsx"),
                    content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="assessment-department-{month}.xlsx"'})
