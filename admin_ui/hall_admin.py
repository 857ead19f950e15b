"""Hall admin (大厅管理, ``/staff/admin``): items and the standard catalog's changes pushed from above
(adopt and localize: department, promised and stage limits, fee, materials, conditions, basis, licence), staff and A/B posts, towns and service points, the holiday calendar, the
applicant messages (短信通知: which are sent, the outbox, sending a failed one again), and the
federation's status and alerts. The hall admin sees all of it; a department's chief representative
the parts the policy gives them (their department's staff, adopting items)."""
from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from node.domain.errors import DomainError, InvalidInput
from node.domain.roles import ROLE_NAMES_ZH, Role
from node.domain.units import UNIT_KINDS
from node.services import admin, alerts, catalog, notifications, org, standard_catalog
from node.services.health import federation_health

from .errors import explain, field_errors
from .session import actor, ctx, may, staff_page
from .staff import bp
from .vocab import ALERT_KIND_ZH, ALERT_STATE_ZH

UNIT_KIND_ZH = {"department": "部门", "town": "乡镇", "subdistrict": "街道", "service_point": "便民服务点"}
ACTION_ZH = {"publish": "新增为本级事项", "revise": "按标准修订本级事项", "repeal": "废止本级事项",
             "retire": "下放后停办本级事项", "acknowledge": "确认已知悉"}
CHANGE_ZH = {"add": "新增", "modify": "变更", "publish": "新增", "revise": "修订", "repeal": "废止", "delegate": "下放",
             "withdraw_delegation": "收回"}
MESSAGE_ZH = {"submitted": "申请已提交", "accepted": "已受理（含承诺办结日期）", "supplement": "补正告知（一次性告知）",
              "refused": "不予受理决定", "denied": "不予许可决定", "concluded": "准予许可、已办结",
              "joint_concluded": "联办件各部门均已办结", "joint_withdrawn": "联办件已撤回"}
OUTBOX_ZH = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"}
TABS = (("staff.admin", "事项"), ("staff.admin_staff", "人员与岗位"), ("staff.admin_units", "机构与服务点"),
        ("staff.admin_calendar", "工作日历"), ("staff.admin_notifications", "短信通知"),
        ("staff.admin_federation", "联邦状态与告警"))
ADMIN_ROLES = (Role.ADMIN, Role.CHIEF)
STAFF_PAGE = 25


def _tabs() -> list[tuple[str, str]]:
    show = {"staff.admin": may("manage_items") or may("adopt_standard"), "staff.admin_staff": may("list_staff"),
            "staff.admin_units": may("create_department"), "staff.admin_calendar": may("import_calendar"),
            "staff.admin_notifications": may("manage_notifications"), "staff.admin_federation": may("read_alerts")}
    return [(e, label) for e, label in TABS if show[e]]


def _page(template: str, status: int = 200, **kw: Any) -> Any:
    return render_template(template, tabs=_tabs(), UNIT_KIND_ZH=UNIT_KIND_ZH, ACTION_ZH=ACTION_ZH,
                           CHANGE_ZH=CHANGE_ZH, ALERT_STATE_ZH=ALERT_STATE_ZH, ALERT_KIND_ZH=ALERT_KIND_ZH, **kw), status


def _default_stages(days: int) -> list[dict[str, Any]]:
    """A new local item's five stages, its promised limit shared out (承办 half, 审核 and 批准 a quarter
    each), which the admin may revise afterwards through the item API."""
    undertake = max(0, days // 2)
    review = max(0, (days - undertake) // 2)
    approve = max(0, days - undertake - review - 1) if days > 1 else 0
    return [{"kind": "accept", "name": "受理", "time_limit_days": 1 if days else 0, "role": "clerk"},
            {"kind": "undertake", "name": "承办", "time_limit_days": undertake, "role": "handler"},
            {"kind": "review", "name": "审核", "time_limit_days": review, "role": "reviewer"},
            {"kind": "approve", "name": "批准", "time_limit_days": approve, "role": "approver"},
            {"kind": "conclude", "name": "办结", "time_limit_days": 0, "role": "clerk"}]


STAGE_FIELDS = (("undertake_days", "undertake"), ("review_days", "review"), ("approve_days", "approve"))


def _stages_of(f: Any, days: int) -> list[dict[str, Any]]:
    """The adopted item's five stages: the working days the admin gave 承办, 审核 and 批准 (all three,
    or none for the default share of the promised limit); the domain checks they fit in it."""
    given = {kind: _int(f.get(name), name, required=False) for name, kind in STAGE_FIELDS}
    stages = _default_stages(days)
    if all(v is None for v in given.values()):
        return stages
    for name, kind in STAGE_FIELDS:
        if given[kind] is None:
            raise InvalidInput("give the working days of all three stages, or of none", field=name)
        if given[kind] < 0:  # type: ignore[operator]
            raise InvalidInput("must be 0 or more working days", field=name)
    for st in stages:
        if st["kind"] in given:
            st["time_limit_days"] = given[st["kind"]]
    return stages


# --- items and the standard catalog -----------------------------------------------------------
@bp.get("/admin", endpoint="admin")
@staff_page(*ADMIN_ROLES)
def admin_items():  # type: ignore[no-untyped-def]
    def load(uow: Any) -> tuple[list[Any], list[Any], list[Any]]:
        items = catalog.list_items(uow, public=False)
        pending = standard_catalog.list_standard_changes(uow, pending=True) if may("read_standard") else []
        depts = [d for d in org.list_departments(uow) if d.kind != "service_point"]
        return items, pending, depts

    items, pending, depts = ctx().run(actor(), load)
    return _page("admin/items.html", items=items, pending=pending, depts=depts, errors={})


@bp.post("/admin/standard/<code>/adoption")
@staff_page(*ADMIN_ROLES)
def admin_adopt(code: str):  # type: ignore[no-untyped-def]
    f = request.form
    loc: dict[str, Any] = {}
    dept = None
    try:
        if f.get("action") == "publish":
            dept = _int(f.get("department_id"), "department_id")
            days = _int(f.get("promised_limit_days"), "promised_limit_days")
            loc = {"promised_limit_days": days, "stages": _stages_of(f, days), **_localized(f)}
        adopted = ctx().run(actor(), standard_catalog.adopt_standard_item, code[:64], dept, loc)
    except DomainError as e:
        flash(f"事项 {code} 未能采用：{explain(e)}", "error")
        return redirect(url_for("staff.admin"))
    flash(f"已采用省级标准：{code}（{ACTION_ZH.get(adopted.action, adopted.action)}）", "ok")
    return redirect(url_for("staff.admin"))


FORMS_BY_WORD = (("原件及复印件", "original_and_copy"), ("复印件", "copy"), ("原件", "original"))
CONDITION = re.compile(r"\s*[；;]\s*条件\s*[：:]")


def _localized(f: Any) -> dict[str, Any]:
    """The rest of an adopted item's localization from the form: materials one per line (a line
    ending in （复印件） or （原件及复印件） says so; each required, PDF/JPG/PNG, unless the line goes on
    “；条件：……”: then asked only in that case -- a conditional material the applicant ticks), conditions, legal
    basis, and the licence it issues. Fields left empty are left out."""
    out: dict[str, Any] = {}
    lines = [ln.strip() for ln in (f.get("materials") or "").splitlines() if ln.strip()]
    if len(lines) > 40:
        raise InvalidInput("at most 40 materials", field="materials")
    mats = []
    for i, line in enumerate(lines, 1):
        head, *cond = CONDITION.split(line, maxsplit=1)  # “……；条件：租赁场所的”: asked only in that case
        condition = cond[0].strip()[:500] if cond else None
        if cond and not condition:
            raise InvalidInput(f"第 {i} 行：请在“条件：”后写明需要该材料的情形 / line {i}: say when the material "
                               "is needed after 条件：", field="materials")
        form, name = "original", head.strip()
        for word, value in FORMS_BY_WORD:
            if name.endswith((f"（{word}）", f"({word})")):
                form, name = value, name[: -len(word) - 2].strip()
                break
        if not name:
            raise InvalidInput(f"第 {i} 行：请写明材料名称 / line {i}: the material's name", field="materials")
        mats.append({"code": f"m{i:02d}", "name": name[:200], "form": form, "copies": 1,
                     "requirement": "conditional" if condition else "required", "condition": condition,
                     "file_types": ["pdf", "jpg", "png"]})
    if mats:
        out["materials"] = mats
    for field in ("conditions", "legal_basis"):
        text = (f.get(field) or "").strip()
        if text:
            out[field] = text[:4000]
    fee_name = (f.get("fee_name") or "").strip()
    if fee_name:  # one fee (收费项目): the amount in yuan, its basis
        raw = (f.get("fee_yuan") or "").strip()
        try:
            yuan = Decimal(raw)
        except InvalidOperation:
            raise InvalidInput("an amount in yuan, e.g. 0 or 12.50", field="fee_yuan") from None
        if not yuan.is_finite() or yuan < 0 or yuan != yuan.quantize(Decimal("0.01")) or yuan > 10_000_000:
            raise InvalidInput("an amount in yuan, 0 or more, at most two decimals", field="fee_yuan")
        out["fees"] = [{"name": fee_name[:100], "amount_fen": int(yuan * 100),
                        "basis": (f.get("fee_basis") or "").strip()[:500]}]
    elif (f.get("fee_yuan") or "").strip():
        raise InvalidInput("name the fee its amount is for", field="fee_name")
    license_name = (f.get("license_name") or "").strip()
    if license_name:
        out.update(issues_license=True, license_name=license_name[:100],
                   license_validity_days=_int(f.get("license_validity_days"), "license_validity_days", required=False))
    return out


def _int(value: str | None, field: str, required: bool = True) -> int | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput("required", field=field)
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput("must be a whole number", field=field) from None


# --- staff and A/B posts ---------------------------------------------------------------------
@bp.get("/admin/staff")
@staff_page(*ADMIN_ROLES)
def admin_staff():  # type: ignore[no-untyped-def]
    return _staff_page({}, {})


def _staff_page(errors: dict[str, str], form: dict[str, str], status: int = 200) -> Any:
    def load(uow: Any) -> tuple[list[Any], list[Any]]:
        return org.list_staff(uow), org.list_departments(uow)

    everyone, depts = ctx().run(actor(), load)
    pages = max(1, -(-len(everyone) // STAFF_PAGE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    people = everyone[(page - 1) * STAFF_PAGE:page * STAFF_PAGE]
    names = {d.id: d.name for d in depts}
    roles = [(r.value, ROLE_NAMES_ZH[r]) for r in Role if may("create_staff", role=r)]
    return _page("admin/staff.html", status, people=people, everyone=everyone, depts=depts, dept_names=names,
                 roles=roles, errors=errors, form=form, page=page, pages=pages)


@bp.post("/admin/staff")
@staff_page(*ADMIN_ROLES)
def admin_staff_create():  # type: ignore[no-untyped-def]
    f = {k: (request.form.get(k) or "").strip() for k in ("username", "name", "password", "role", "department_id",
                                                          "phone")}
    errors = {k: "必填。" for k in ("username", "name", "password", "role") if not f[k]}
    if errors:
        return _staff_page(errors, f, 422)
    try:
        dept = _int(f["department_id"], "department_id", required=False)
        st = ctx().run(actor(), org.create_staff, username=f["username"][:64], name=f["name"][:50],
                       password=f["password"], role=f["role"], department_id=dept, phone=f["phone"] or None)
    except DomainError as e:
        return _staff_page(field_errors(e), f, e.status)
    flash(f"已添加人员：{st.name}（{st.username}）", "ok")
    return redirect(url_for("staff.admin_staff"))


@bp.post("/admin/staff/<int:staff_id>")
@staff_page(*ADMIN_ROLES)
def admin_staff_update(staff_id: int):  # type: ignore[no-untyped-def]
    f = request.form
    kw: dict[str, Any] = {}
    what = f.get("what")
    try:
        if what == "backup":
            backup = _int(f.get("backup_id"), "backup_id", required=False)
            kw = {"backup_id": backup} if backup else {"clear_backup": True}
        elif what in ("absent", "present"):
            kw = {"absent": what == "absent"}
        elif what in ("deactivate", "activate"):
            kw = {"active": what == "activate"}
        else:
            raise InvalidInput("unknown change", field="what")
        st = ctx().run(actor(), org.update_staff, staff_id, **kw)
    except DomainError as e:
        flash(f"未能修改：{explain(e)}", "error")
        return redirect(url_for("staff.admin_staff"))
    done = {"backup": "已设置 B 岗", "absent": "已标记为离岗（由 B 岗接办）", "present": "已标记为在岗",
            "deactivate": "已停用账号", "activate": "已启用账号"}[what]
    flash(f"{st.name}：{done}", "ok")
    return redirect(url_for("staff.admin_staff"))


# --- towns and service points ----------------------------------------------------------------
@bp.get("/admin/units")
@staff_page(Role.ADMIN)
def admin_units():  # type: ignore[no-untyped-def]
    return _units_page({}, {})


def _units_page(errors: dict[str, str], form: dict[str, str], status: int = 200) -> Any:
    depts = ctx().run(actor(), org.list_departments)
    return _page("admin/units.html", status, depts=depts, names={d.id: d.name for d in depts}, kinds=UNIT_KINDS,
                 errors=errors, form=form)


@bp.post("/admin/units")
@staff_page(Role.ADMIN)
def admin_units_create():  # type: ignore[no-untyped-def]
    f = {k: (request.form.get(k) or "").strip() for k in ("code", "name", "kind", "parent_unit_id")}
    errors = {k: "必填。" for k in ("code", "name", "kind") if not f[k]}
    if errors:
        return _units_page(errors, f, 422)
    try:
        parent = _int(f["parent_unit_id"], "parent_unit_id", required=False)
        d = ctx().run(actor(), org.create_department, f["code"][:20], f["name"][:100], f["kind"], parent)
    except DomainError as e:
        return _units_page(field_errors(e), f, e.status)
    flash(f"已添加{UNIT_KIND_ZH.get(d.kind, d.kind)}：{d.name}", "ok")
    return redirect(url_for("staff.admin_units"))


# --- calendar --------------------------------------------------------------------------------
@bp.get("/admin/calendar")
@staff_page(Role.ADMIN)
def admin_calendar():  # type: ignore[no-untyped-def]
    return _calendar_page({}, "")


def _calendar_page(errors: dict[str, str], text: str, status: int = 200) -> Any:
    cal = ctx().calendar()
    return _page("admin/calendar.html", status, years=cal.known_years, errors=errors, text=text)


@bp.post("/admin/calendar")
@staff_page(Role.ADMIN)
def admin_calendar_import():  # type: ignore[no-untyped-def]
    text = request.form.get("calendar") or ""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _calendar_page({"calendar": "请粘贴 JSON 格式的节假日安排（含 years 字段）。"}, text, 422)
    try:
        years = ctx().run(actor(), admin.import_calendar, data)
    except DomainError as e:
        return _calendar_page({"calendar": f"{explain(e)}（{e.message}）"}, text, e.status)
    flash(f"已导入 {'、'.join(str(y) for y in years)} 年的节假日安排", "ok")
    return redirect(url_for("staff.admin_calendar"))


# --- applicant messages (短信通知) ------------------------------------------------------------
@bp.get("/admin/notifications")
@staff_page(Role.ADMIN)
def admin_notifications():  # type: ignore[no-untyped-def]
    c = ctx()
    with c.uow(actor()) as uow:
        settings = notifications.notification_settings(uow)
        outbox = notifications.outbox_summary(uow)
    channel = "短信网关（" + (c.settings.notify_webhook_url or "") + "）" if c.settings.notify_backend == "webhook" \
        else "写入节点日志（未接短信网关：演示与测试用）"
    for st in settings:  # the message as the applicant reads it, the case's facts as placeholders
        st["sample"] = st["text"].format(hall=c.settings.node_name, item="（事项名称）", code="（统一服务监管码）",
                                         detail="（具体内容）", promised="（承诺办结日期）")
    return _page("admin/notifications.html", settings=settings, outbox=outbox, channel=channel,
                 MESSAGE_ZH=MESSAGE_ZH, OUTBOX_ZH=OUTBOX_ZH)


def _notifications_change(done: str, fn: Any, *args: Any) -> Any:
    try:
        ctx().run(actor(), fn, *args)
    except DomainError as e:
        flash(explain(e), "error")
    else:
        flash(done, "ok")
    return redirect(url_for("staff.admin_notifications"))


@bp.post("/admin/notifications/<template>")
@staff_page(Role.ADMIN)
def admin_notification_set(template: str):  # type: ignore[no-untyped-def]
    enabled = request.form.get("enabled") == "1"
    return _notifications_change(f"“{MESSAGE_ZH.get(template, template)}”短信已{'开启' if enabled else '关闭'}"
                                 "（各服务进程 10 秒内生效）", notifications.set_notification, template, enabled)


@bp.post("/admin/notifications/outbox/<int:notification_id>/retry")
@staff_page(Role.ADMIN)
def admin_notification_retry(notification_id: int):  # type: ignore[no-untyped-def]
    return _notifications_change(f"短信 #{notification_id} 已重新排队发送", notifications.retry_notification,
                                 notification_id)


# --- federation status and alerts ------------------------------------------------------------
@bp.get("/admin/federation")
@staff_page(Role.ADMIN, Role.INSPECTOR)
def admin_federation():  # type: ignore[no-untyped-def]
    state = request.args.get("state") or None
    before = request.args.get("before", type=int)
    try:
        rows, nxt = ctx().run(actor(), alerts.list_alerts, state=state, before=before, limit=20)
    except DomainError as e:
        flash(explain(e), "error")
        rows, nxt = [], None
    return _page("admin/federation.html", health=federation_health(ctx()), alerts=rows, next_before=nxt,
                 state=state or "")


@bp.post("/admin/alerts/<int:alert_id>")
@staff_page(Role.ADMIN, Role.INSPECTOR)
def admin_alert(alert_id: int):  # type: ignore[no-untyped-def]
    note = (request.form.get("note") or "").strip()[:1000]
    try:
        if request.form.get("what") == "resolve":
            if not note:
                raise InvalidInput("a resolution needs a note", field="note")
            ctx().run(actor(), alerts.resolve, alert_id, note)
            flash(f"告警 #{alert_id} 已解决", "ok")
        else:
            ctx().run(actor(), alerts.acknowledge, alert_id, note or None)
            flash(f"告警 #{alert_id} 已确认", "ok")
    except DomainError as e:
        flash(f"告警 #{alert_id}：{'请填写处理说明。' if e.field == 'note' else explain(e)}", "error")
    return redirect(url_for("staff.admin_federation"))
