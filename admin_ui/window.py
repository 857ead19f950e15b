"""The window (窗口受理): the clerk's and the service-point agent's pages.

A queue of cases awaiting acceptance (submitted online or by agents; those waiting for a
supplement) and the cases back at the window to conclude; the case page where the clerk accepts
(受理), refuses (不予受理) or asks for a supplement (要求补正); a new case for a walk-in (窗口收件)
or, by an agent, for a villager (代办), with the completeness check's one-time notice before
submitting; the print-friendly acceptance notice (受理通知书) and one-time notice (一次性告知书).
Pages call ``node.services`` only, through the same services as the JSON API.
"""
from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from node.api.auth import client_address
from node.domain.errors import DomainError, NotFound
from node.domain.identity import ID_TYPES
from node.domain.lifecycle import Event
from node.domain.roles import Role
from node.services import cases, catalog, intake, uploads

from .desk import (
    CHANNEL_ZH,
    LIGHT_ZH,
    PAGE_SIZE,
    page_arg,
    pager,
    post_transition,
    prerequisite_entries,
    queue_row,
    read_case,
    render_case,
    today,
    zh_error,
)
from .portal import ID_TYPE_ZH
from .session import actor, ctx, may, staff_page
from .staff import bp

WINDOW_ROLES = (Role.CLERK, Role.AGENT, Role.CHIEF)  # a chief representative accepts at their department's window
TABS = (("submitted", "待受理"), ("supplementing", "待补正"), ("conclude", "待办结"))
PHONE = re.compile(r"^\+?\d{5,20}$")


def _tabs() -> list[tuple[str, str]]:
    """An agent accepts nothing and concludes nothing: the agent's window lists what they submitted."""
    return list(TABS) if may("accept_on_submission") else list(TABS[:2])


@bp.get("/window")
@staff_page(*WINDOW_ROLES)
def window():  # type: ignore[no-untyped-def]
    tabs = _tabs()
    tab = request.args.get("tab", "submitted")
    if tab not in dict(tabs):
        tab = "submitted"
    page = page_arg()
    with ctx().uow(actor()) as uow:
        if tab == "conclude":
            rows, total = cases.work_queue(uow, tab="todo", page=page, page_size=PAGE_SIZE)
        else:
            rows, total = cases.list_cases(uow, status=tab, page=page, page_size=PAGE_SIZE)
        items = [queue_row(uow, c) for c in rows]
    return render_template("window/queue.html", rows=items, tab=tab, tabs=tabs, pager=pager(page, total),
                           LIGHT_ZH=LIGHT_ZH, CHANNEL_ZH=CHANNEL_ZH)


@bp.get("/window/cases/<code>")
@staff_page(*WINDOW_ROLES)
def window_case(code: str):  # type: ignore[no-untyped-def]
    return render_case("window/case.html", code)


@bp.post("/window/cases/<code>/transition")
@staff_page(*WINDOW_ROLES)
def window_transition(code: str):  # type: ignore[no-untyped-def]
    event = request.form.get("event")
    back = url_for("staff.window_case", code=code)
    if event == "request_supplement":
        back = url_for("staff.window_notice", code=code, kind="supplement")
    return post_transition(code, "window/case.html", back)


@bp.post("/window/cases/<code>/supply")
@staff_page(*WINDOW_ROLES)
def window_supply(code: str):  # type: ignore[no-untyped-def]
    """补正: the materials the applicant brought, scanned at the window (or by their agent)."""
    try:
        v = read_case(code)
    except NotFound:
        return render_template("message.html", title="未找到办件", text=f"没有监管码为 {code} 的办件。"), 404
    errors: dict[str, str] = {}
    got = _store_files({"materials": v["supply_materials"]}, errors)
    if errors:
        return render_case("window/case.html", code, errors={"supply": errors}, status=422)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = -1
    t = cases.TransitionInput(event=Event.SUPPLY, expected_version=version,
                              materials=[{"material_code": c, "upload_id": u["id"]} for c, u in got.items()])
    try:
        ctx().run(actor(), cases.apply_transition, code, t)
    except DomainError as e:
        msg = zh_error(e)
        return render_case("window/case.html", code, errors={"supply": {e.field or "_": msg, "_top": msg}},
                           status=e.status)
    flash(f"{code}：补正材料已收取，办件恢复办理。", "ok")
    return redirect(url_for("staff.window_case", code=code))


@bp.post("/window/cases/<code>/parts/<int(min=1, max=64):part_no>/supply")
@staff_page(*WINDOW_ROLES)
def window_part_supply(code: str, part_no: int):  # type: ignore[no-untyped-def]
    """补正 for a part of a joint case worked at another node: the files the applicant brought, kept
    here with the joint case and their digests sent to the part's node (``cases.supply_part``)."""
    try:
        v = read_case(code)
    except NotFound:
        return render_template("message.html", title="未找到办件", text=f"没有监管码为 {code} 的办件。"), 404
    part = next((p for p in v["part_supplies"] if p["part_no"] == part_no), None)
    key = f"part{part_no}"
    if part is None:
        return render_case("window/case.html", code, errors={key: {"_top": "该子件当前不需要补正材料。"}}, status=409)
    errors: dict[str, str] = {}
    got = _store_files({"materials": part["materials"]}, errors)
    if not errors and not got:
        errors["_top"] = "请选择要补正的材料文件。"
    if errors:
        return render_case("window/case.html", code, errors={key: errors}, status=422)
    try:
        ctx().run(actor(), cases.supply_part, code, part_no,
                  [{"material_code": c, "upload_id": u["id"]} for c, u in got.items()])
    except DomainError as e:
        msg = zh_error(e)
        return render_case("window/case.html", code, errors={key: {e.field or "_": msg, "_top": msg}},
                           status=e.status)
    flash(f"{code}：第 {part_no} 项的补正材料已收取，正在送达 {part['node']}。", "ok")
    return redirect(url_for("staff.window_case", code=code))


@bp.get("/window/cases/<code>/notice/<any(acceptance, supplement, refusal):kind>")
@staff_page(*WINDOW_ROLES)
def window_notice(code: str, kind: str):  # type: ignore[no-untyped-def]
    """受理通知书 / 一次性告知书 / 不予受理决定书, to print and hand over."""
    try:
        v = read_case(code)
    except NotFound:
        return render_template("message.html", title="未找到办件", text=f"没有监管码为 {code} 的办件。"), 404
    step = None
    wanted = {"acceptance": "accept", "supplement": "request_supplement", "refusal": "refuse"}[kind]
    for t in v["transitions"]:
        if t["event"] == wanted:
            step = t
    if step is None:
        return render_template("message.html", title="暂无此文书",
                               text="该办件尚未" + {"acceptance": "受理", "supplement": "要求补正",
                                                 "refusal": "作出不予受理决定"}[kind] + "。"), 404
    return render_template("window/notice.html", v=v, kind=kind, step=step, today=today())


# ---------------------------------------------------------------- a new case at the window


def _items() -> list[dict[str, Any]]:
    with ctx().uow(actor()) as uow:
        return [{"code": v.item.code, "name": v.name, "status": v.item.status}
                for v in catalog.list_items(uow, public=True) if v.item.status == "active"]


def _item(code: str) -> dict[str, Any]:
    with ctx().uow(actor()) as uow:
        v = catalog.get_item(uow, code)
        return {"code": v.item.code, "name": v.name, "materials": list(v.materials or []), "fields": list(v.fields or []),
                "kind": v.kind, "prerequisites": list(v.prerequisites or [])}


def _render_new(item: dict[str, Any] | None, status: int = 200, **kw: Any) -> Any:
    kw.setdefault("errors", {})
    kw.setdefault("notice", None)
    kw.setdefault("uploaded", {})
    return render_template("window/new.html", item=item, items=_items() if item is None else [],
                           ID_TYPE_ZH=ID_TYPE_ZH, ID_TYPES=ID_TYPES, f=request.form, today=today(), **kw), status


@bp.route("/window/new", methods=["GET", "POST"])
@staff_page(*WINDOW_ROLES)
def window_new():  # type: ignore[no-untyped-def]
    code = (request.values.get("item") or "").strip()[:40]
    if not code:
        return _render_new(None)
    try:
        item = _item(code)
    except DomainError:
        return _render_new(None, 404, errors={"item": f"没有编码为 {code} 的事项。"})
    if request.method == "GET":
        return _render_new(item)
    errors: dict[str, str] = {}
    uploaded = _store_files(item, errors)
    materials = [{"material_code": c, "upload_id": u["id"]} for c, u in uploaded.items()]
    conditional = [c for c in request.form.getlist("conditional")
                   if any(m["code"] == c for m in item["materials"])]
    if request.form.get("action") == "check" or errors:
        notice = ctx().run(actor(), intake.check_completeness, item["code"], materials, conditional)
        return _render_new(item, 422 if errors else 200, errors=errors, notice=notice.as_dict(), uploaded=uploaded)
    f = request.form
    applicant = {"name": (f.get("name") or "").strip()[:100], "id_type": f.get("id_type") or "resident_id",
                 "id_number": (f.get("id_number") or "").strip()[:32],
                 "phone": (f.get("phone") or "").strip() or None, "org": (f.get("org") or "").strip()[:200] or None}
    if not applicant["name"]:
        errors["applicant.name"] = "请填写申请人姓名。"
    if applicant["id_type"] not in ID_TYPES:
        errors["applicant.id_type"] = "请选择证件类型。"
    if not applicant["id_number"]:
        errors["applicant.id_number"] = "请填写证件号码。"
    if applicant["phone"] and not PHONE.match(applicant["phone"]):
        errors["applicant.phone"] = "联系电话只能填写数字，例如 13800000000。"
    if errors:
        return _render_new(item, 422, errors=errors, uploaded=uploaded)
    accept = f.get("accept") == "1" and may("accept_on_submission")
    data: dict[str, Any] = {
        "item_code": item["code"], "applicant": applicant, "materials": materials, "conditional_materials": conditional,
        "form": {fd["name"]: (f.get(f"form-{fd['name']}") or "").strip()[:2000] for fd in item["fields"]
                 if (f.get(f"form-{fd['name']}") or "").strip()},
        "accept": accept,
        "green_channel": True if accept and f.get("green_channel") == "1" and may("set_acceptance_options") else None,
    }
    if f.get("processing") == "paper":  # 纸质办理: worked on paper, its result recorded here afterwards
        data["processing"] = "paper"
    pre = prerequisite_entries(f)
    if pre:
        data["prerequisites"] = pre
    try:
        new_code = ctx().run(actor(), intake.submit_case, data)
    except DomainError as e:
        notice = e.extra.get("notice") if isinstance(e, intake.IncompleteApplication) else None
        errors[e.field or "_"] = zh_error(e)
        return _render_new(item, e.status, errors=errors, notice=notice, uploaded=uploaded)
    if accept:
        flash(f"已收件并受理，监管码 {new_code}。请打印受理通知书交申请人。", "ok")
        return redirect(url_for("staff.window_notice", code=new_code, kind="acceptance"))
    flash(f"已收件，监管码 {new_code}，待受理。", "ok")
    return redirect(url_for("staff.window_case", code=new_code))


def _store_files(item: dict[str, Any], errors: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each material's file chosen now is stored (the uploads service, as the API's upload is);
    one uploaded before (a hidden field of the re-shown form) is kept."""
    out: dict[str, dict[str, str]] = {}
    for m in item["materials"]:
        c = m["code"]
        prev, prev_name = request.form.get(f"upload-{c}"), request.form.get(f"upload-name-{c}") or ""
        if prev and re.fullmatch(r"[0-9a-f]{32}", prev):
            out[c] = {"id": prev, "filename": prev_name[:255]}
        fs = request.files.get(f"file-{c}")
        if fs is None or not fs.filename:
            continue
        data = fs.stream.read(ctx().settings.max_upload_bytes + 1)
        try:
            up = ctx().run(actor(), uploads.store_upload, fs.filename, data, fs.mimetype,
                           client_address())
        except DomainError as e:
            errors[f"file-{c}"] = f"{m['name']}：{zh_error(e)}"
            continue
        out[c] = {"id": up.id, "filename": up.filename}
    return out
