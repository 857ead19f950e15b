"""The department desk (部门工作台): a handler's, reviewer's, approver's or chief representative's
queue (待办 / 已办 / 超期) and the case page with the actions this person may do on the stage now.

Also the helpers the window pages share: the case page's view, the transition forms, the
Chinese wording of a service's refusal. Pages call ``node.services`` only; which buttons appear
is asked of the state machine (who fires which event) and the policy (``may``); the services
enforce it again.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from flask import Response, abort, flash, redirect, render_template, request, url_for

from node.domain import servicecode
from node.domain.errors import DomainError, NotFound
from node.domain.items import JOINT_STAGES
from node.domain.lifecycle import Event, Status, responsible_roles
from node.domain.masking import mask_id_number, mask_name
from node.domain.roles import Role
from node.services import cases, part_materials, signoffs, supervision_orders
from node.services.catalog import stage_defs
from node.services.context import CST
from node.services.supervision import own_case_lights
from node.services.views import staff_view

from .errors import explain as zh_error
from .session import actor, ctx, may, signed_in, staff_page
from .staff import bp
from .vocab import CHANNEL_ZH, EVENT_ZH, LIGHT_ZH, STAGE_ZH

DESK_ROLES = (Role.HANDLER, Role.REVIEWER, Role.APPROVER, Role.CHIEF)
PAGE_SIZE = 20
TABS = (("todo", "待办"), ("done", "已办"), ("overdue", "超期"))
STAGE_KIND_ZH = STAGE_ZH
EXTENSION_ZH = {"pending": "待审批", "approved": "已批准", "rejected": "未批准"}
PART_STATUS_ZH = {"pending": "待受理", "submitted": "已申报", "in_progress": "办理中", "supplementing": "待补正",
                  "concluded": "已办结", "refused": "不予受理", "withdrawn": "已撤回"}

STAGE_EVENTS = ("accept", "undertake", "review", "approve", "conclude", "request_supplement", "send_back",
                "deny", "refuse")
"""The events the staff pages offer (supply, paper results and joint sign-offs are not here; the window
also withdraws on the applicant's written request: ``WINDOW_WITHDRAW``)."""
WINDOW_WITHDRAW = "withdraw"
PAPER_RESULT = "record_paper_result"  # the window records a paper-processed case's result (纸质办理)
NEEDS_REASON = frozenset({"refuse", "deny", "send_back", "request_supplement"})
BUTTON_ZH = {"record_paper_result": "补录纸质办理结果", "withdraw": "代申请人撤回", "accept": "受理", "refuse": "不予受理", "request_supplement": "要求补正", "undertake": "承办完成，提交审核",
             "review": "审核通过", "approve": "批准", "conclude": "办结", "deny": "不予许可", "send_back": "退回上一环节"}
DONE_ZH = {"record_paper_result": "纸质办理结果已补录，办件已办结", "withdraw": "已撤回（申请人书面申请）", "accept": "已受理", "refuse": "已作出不予受理决定", "request_supplement": "已要求补正，请打印一次性告知书",
           "undertake": "承办意见已提交", "review": "审核已通过", "approve": "已批准", "conclude": "已办结",
           "deny": "已作出不予许可决定", "send_back": "已退回上一环节"}

@bp.app_template_filter("desk_dt")
def desk_dt(value: Any) -> str:
    """A moment as the hall reads it (China time, to the minute)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value[:16].replace("T", " ")
    from node.services.context import as_cst

    return as_cst(value).strftime("%Y-%m-%d %H:%M")


def today() -> date:
    return ctx().clock().astimezone(CST).date()


def light_of(uow: Any, case: Any) -> str | None:
    """The worse of a case's light and its stage's, today (in the unit of work that read the case)."""
    from node.domain.lights import worst

    got = own_case_lights(case, uow.calendar(), uow.ctx.settings.light_warn_share, uow.now.astimezone(CST).date())
    return worst(got.light, got.stage_light)


def queue_row(uow: Any, c: Any) -> dict[str, Any]:
    stages = stage_defs(c.item_version)
    stage = stages[c.stage_index] if c.stage_index is not None else None
    return {"code": c.code, "item": c.item_version.name, "item_code": c.item_code, "applicant": c.applicant_name,
                "org": c.applicant_org, "id": mask_id_number(c.applicant_id_number), "status": c.status,
                "stage": (stage.name or STAGE_KIND_ZH.get(stage.kind, stage.kind)) if stage else None,
                "deadline": c.stage_deadline, "promised": c.promised_deadline, "light": light_of(uow, c),
                "green": bool(c.green_channel), "assignee": c.assignee_id, "submitted_at": c.submitted_at,
                "channel": c.channel}


def pager(page: int, total: int, size: int | None = None) -> dict[str, int]:
    pages = max(1, -(-total // (size or PAGE_SIZE)))
    return {"page": page, "pages": pages, "total": total}


def page_arg() -> int:
    try:
        return max(1, min(100000, int(request.args.get("page", "1"))))
    except ValueError:
        return 1


# ---------------------------------------------------------------- the case page's view


def part_supplies(v: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts of a joint case worked at another node that wait for the applicant's materials
    (their owner's one-time notice, ``linked.receive_progress``), not yet answered: supplied here."""
    out = []
    for p in (v.get("joint") or {}).get("parts") or []:
        info = p.get("progress") or {}
        sup = info.get("supplement")
        if p["status"] != "supplementing" or not p.get("remote_node") or not sup or v["status"] != "in_progress" \
                or info.get("withdraw_requested_at"):
            continue
        mats = [{"code": m["material_code"], "name": m.get("name") or m["material_code"],
                 "file_types": m.get("file_types") or []} for m in sup.get("missing") or [] if m.get("material_code")]
        out.append({"part_no": p["part_no"], "item_name": p["item_name"], "node": p["remote_node"],
                    "reason": sup.get("reason"), "sent_at": info.get("supply_sent_at"),
                    "materials": mats or [{"code": "supplement", "name": "补正材料", "file_types": []}]})
    return out


def case_view(uow: Any, code: str) -> dict[str, Any]:
    """Everything the case page shows, read in one unit of work; what this person may do now."""
    case = cases.get_case(uow, code)
    v = staff_view(case)
    v["supervision_orders"] = supervision_orders.case_orders(uow, v["code"])
    v["extensions"] = cases.case_extensions(uow, v["code"])
    v["item_materials"] = list(case.item_version.materials or [])
    entered = {p["item_code"]: p for p in v.get("prerequisites") or []}
    v["item_prerequisites"] = [{"item_code": p["item_code"], "name": p["name"],
                                "reference": (entered.get(p["item_code"]) or {}).get("reference") or "",
                                "reason": (entered.get(p["item_code"]) or {}).get("reason")}
                               for p in case.item_version.prerequisites or []]
    v["kind"] = case.item_version.kind
    v["light_now"] = light_of(uow, case)
    me = uow.actor
    stages = stage_defs(case.item_version)
    state = cases.state_of(case)
    allowed = set(v["allowed_events"])
    works = cases.may_work_assigned(uow, case)
    mine = []
    for e in STAGE_EVENTS:
        if e not in allowed or me.role not in responsible_roles(state, stages, Event(e)):
            continue
        if case.status == Status.IN_PROGRESS and not works:
            continue
        mine.append(e)
    v["my_events"] = mine
    v["can_supply"] = "supply" in allowed and me.role in responsible_roles(state, stages, Event.SUPPLY)
    v["can_record_paper"] = ("record_paper_result" in allowed
                             and me.role in responsible_roles(state, stages, Event.RECORD_PAPER_RESULT))
    v["can_withdraw"] = ("withdraw" in allowed and me.role in (Role.CLERK, Role.AGENT)
                         and me.role in responsible_roles(state, stages, Event.WITHDRAW) and not v.get("part_of"))
    asked = [t for t in case.transitions if t.event == "request_supplement"]
    wanted = {m.get("material_code") for m in ((asked[-1].data or {}).get("missing") or [])} if asked else set()
    v["supply_materials"] = [m for m in v["item_materials"] if m.get("code") in wanted] or v["item_materials"]
    v["works"] = works
    v["part_supplies"] = part_supplies(v) if may("work_joint_case") else []
    stage = stages[case.stage_index] if case.stage_index is not None else None
    v["can_claim"] = (case.status == Status.IN_PROGRESS and stage is not None and stage.kind == "undertake"
                      and case.assignee_id is None and me.role == Role.HANDLER and may("claim_case"))
    v["agents"] = []
    if case.status == Status.SUBMITTED and me.role == Role.CLERK and may("set_acceptance_options"):
        from node.services import org

        v["agents"] = [{"id": x.id, "name": x.name} for x in org.list_agents(uow)]
    v["handlers"] = []
    if (me.role == Role.CHIEF and case.status == Status.IN_PROGRESS and stage is not None and stage.kind == "undertake"
            and may("assign_case", staff_id=-1) and may("list_staff")):
        from node.services import org

        v["handlers"] = [{"id": x.id, "name": x.name, "absent": bool(x.absent)} for x in org.list_staff(uow)
                         if x.role == Role.HANDLER and x.department_id == case.department_id and x.active]
    v["can_extend"] = (case.status in (Status.IN_PROGRESS, Status.SUPPLEMENTING) and may("request_extension")
                       and not any(x["status"] == "pending" for x in v["extensions"]))
    for x in v["extensions"]:
        x["can_decide"] = x["status"] == "pending" and may("decide_extension", staff_id=x["requested_by"])
    for o in v["supervision_orders"]:
        o["can_respond"] = (o["side"] == "owner" and o["state"] in ("delivered", "returned")
                            and may("respond_supervision_order", department_id=o["department_id"],
                                    staff_id=case.assignee_id))
        # a correction (纠错) is answered with the corrective step done since the order arrived
        o["fix_choices"] = [
            {"seq": t.seq, "label": f"#{t.seq} {EVENT_ZH.get(t.event, t.event)} · {desk_dt(t.occurred_at)}"}
            for t in sorted(case.transitions, key=lambda t: t.seq)
            if t.seq > (o.get("case_seq") or 0)] if o["kind"] == "correct" else []
    v["can_read_materials"] = may("read_case_material", department_id=case.department_id)
    v["stage_kind"] = stage.kind if stage else None
    v["cosign"] = None
    if any(st.kind in JOINT_STAGES for st in stages):
        try:
            v["cosign"] = signoffs.cosign_summary(uow, v["code"])
        except DomainError:
            v["cosign"] = None
    return v


def read_case(code: str) -> dict[str, Any]:
    with ctx().uow(actor()) as uow:
        return case_view(uow, code)


def render_case(template: str, code: str, errors: dict[str, dict[str, str]] | None = None,
                status: int = 200, form: dict[str, Any] | None = None, not_found: Any = None,
                **extra: Any) -> Any:
    """The case page (``errors``: per form, per field, after a refused POST; ``not_found``: what
    answers when the case is not this person's department's, default a 404 page)."""
    try:
        v = read_case(code)
    except NotFound:
        if not_found is not None:
            return not_found()
        return render_template("message.html", title="未找到办件",
                               text=f"没有监管码为 {code} 的办件，或该办件不属于您的部门。"), 404
    return render_template(template, v=v, errors=errors or {}, form=form or {}, today=today(),
                           BUTTON_ZH=BUTTON_ZH, NEEDS_REASON=NEEDS_REASON, LIGHT_ZH=LIGHT_ZH,
                           EXTENSION_ZH=EXTENSION_ZH, CHANNEL_ZH=CHANNEL_ZH, PART_STATUS_ZH=PART_STATUS_ZH,
                           STAGE_KIND_ZH=STAGE_KIND_ZH, EVENT_ZH=EVENT_ZH, **extra), status


def refused(template: str, code: str, form_key: str, e: DomainError, not_found: Any = None, **extra: Any) -> Any:
    """A service's refusal shown on the case page: next to the field it names, or at the top."""
    msg = zh_error(e)
    return render_case(template, code, errors={form_key: {e.field or "_": msg, "_top": msg}}, status=e.status,
                       form={"key": form_key, **request.form.to_dict()}, not_found=not_found, **extra)


def prerequisite_entries(f: Any) -> list[dict[str, Any]] | None:
    """The references posted for an item's prior approvals (前置审批: a ``pre__<item code>`` field
    each, a licence number or an earlier case's service code), as the services take them."""
    pre = []
    for key in f:
        ref = (f.get(key) or "").strip()[:40]
        if not key.startswith("pre__") or not ref:
            continue
        try:
            pre.append({"item_code": key[5:], "service_code": servicecode.normalize(ref)})
        except DomainError:
            pre.append({"item_code": key[5:], "license_number": ref})
    return pre or None


def transition_input() -> cases.TransitionInput:
    """The posted transition form, as the API's route builds it."""
    f = request.form
    event = f.get("event", "")
    if event == WINDOW_WITHDRAW and f.get("confirm") != "1":
        from node.domain.errors import InvalidInput
        raise InvalidInput("confirm that the applicant asked in writing to withdraw", field="confirm")
    if event not in STAGE_EVENTS and event not in (WINDOW_WITHDRAW, PAPER_RESULT):
        from node.domain.errors import InvalidInput
        raise InvalidInput(f"unknown event {event!r}", field="event")
    try:
        version = int(f.get("version", ""))
    except ValueError:
        from node.domain.errors import InvalidInput
        raise InvalidInput("the case version is missing", field="version") from None
    missing = None
    if event == "request_supplement":
        names = dict(zip(f.getlist("missing_code"), f.getlist("missing_name"), strict=False))
        chosen = f.getlist("missing")
        other = (f.get("missing_other") or "").strip()[:200]
        missing = [{"material_code": c, "name": names.get(c, c)} for c in chosen if c in names]
        if other:
            missing.append({"material_code": None, "name": other})
    green = True if f.get("green_channel") == "1" and event == "accept" else None
    pre = prerequisite_entries(f) if event == "accept" else None
    agent = None
    if event == "accept" and f.get("agent_staff_id"):
        try:
            agent = int(f.get("agent_staff_id") or "")
        except ValueError:
            from node.domain.errors import InvalidInput
            raise InvalidInput("choose an agent from the list", field="agent_staff_id") from None
    result = occurred = None
    if event == PAPER_RESULT:  # the result of a case worked on paper, as decided and when
        from node.domain.errors import InvalidInput
        from node.domain.lifecycle import Result
        try:
            result = Result(f.get("result") or "")
        except ValueError:
            raise InvalidInput("choose the paper decision: approved or denied", field="result") from None
        try:
            occurred = datetime.fromisoformat(f.get("occurred_at") or "").replace(tzinfo=CST)
        except ValueError:
            raise InvalidInput("the date and time the paper decision was made", field="occurred_at") from None
    return cases.TransitionInput(event=Event(event), expected_version=version, agent_staff_id=agent,
                                 result=result, occurred_at=occurred,
                                 reason=(f.get("reason") or "").strip()[:2000] or None,
                                 opinion=(f.get("opinion") or "").strip()[:2000] or None,
                                 missing=missing, green_channel=green, prerequisites=pre)


def post_transition(code: str, template: str, back: str, **extra: Any) -> Any:
    try:
        t = transition_input()
        ctx().run(actor(), cases.apply_transition, code, t)
    except DomainError as e:
        return refused(template, code, request.form.get("event", "_"), e, **extra)
    flash(f"{code}：{DONE_ZH.get(t.event.value, '已办理')}。", "ok")
    return redirect(back)


# ---------------------------------------------------------------- the desk


@bp.get("/desk")
@staff_page(*DESK_ROLES)
def desk():  # type: ignore[no-untyped-def]
    tabs = TABS + ((("extensions", "延期审批"),) if may("decide_extension") else ())
    page = page_arg()
    with ctx().uow(actor()) as uow:
        cosign = signoffs.cosign_queue(uow)
        if cosign or request.args.get("tab") == "cosign":
            tabs = tabs + (("cosign", "会签"),)
        tab = request.args.get("tab", "todo")
        if tab not in dict(tabs):
            tab = "todo"
        if tab == "cosign":  # other departments' cases waiting for this department's signature
            rows, total = cosign[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], len(cosign)
            items = [{**queue_row(uow, c), "applicant": mask_name(c.applicant_name or ""), "org": None}
                     for c in rows]
        else:
            rows, total = cases.work_queue(uow, tab=tab, page=page, page_size=PAGE_SIZE)
            items = [queue_row(uow, c) for c in rows]
        counts = {t: cases.work_queue(uow, tab=t, page=1, page_size=1)[1] for t, _ in tabs
                  if t not in (tab, "cosign")}
        counts["cosign"] = len(cosign)
    counts[tab] = total
    return render_template("desk/queue.html", rows=items, tab=tab, tabs=tabs, counts=counts,
                           pager=pager(page, total), LIGHT_ZH=LIGHT_ZH, me_id=actor().staff_id)


@bp.get("/cases/<code>")
@staff_page(*DESK_ROLES)
def case_page(code: str):  # type: ignore[no-untyped-def]
    # another department's case: the co-signing (会签) view if this department signs it, else 404
    return render_case("desk/case.html", code, not_found=lambda: cosign_page(code))


def cosign_page(code: str, errors: dict[str, dict[str, str]] | None = None, status: int = 200,
                form: dict[str, Any] | None = None) -> Any:
    try:
        with ctx().uow(actor()) as uow:
            c = signoffs.cosign_summary(uow, code)
    except DomainError:
        return render_template("message.html", title="未找到办件",
                               text=f"没有监管码为 {code} 的办件，或该办件不属于您的部门。"), 404
    return render_template("desk/cosign.html", c=c, errors=errors or {}, form=form or {}), status


@bp.post("/cases/<code>/signoffs/<int:index>")
@staff_page(*DESK_ROLES)
def case_signoff(code: str, index: int):  # type: ignore[no-untyped-def]
    """This department's signature of a joint review or inspection (会签意见); the last one moves the case on."""
    opinion = (request.form.get("opinion") or "").strip()[:2000]
    try:
        ctx().run(actor(), signoffs.sign_off, code, index, opinion)
    except DomainError as e:
        key = f"signoff-{index}"
        err = e
        return refused("desk/case.html", code, key, err, not_found=lambda: cosign_page(
            code, {key: {"opinion": zh_error(err)}}, err.status, {"key": key, **request.form.to_dict()}))
    flash(f"{code}：会签意见已提交。", "ok")
    return redirect(url_for("staff.case_page", code=code))


@bp.post("/cases/<code>/transition")
@staff_page(*DESK_ROLES)
def case_transition(code: str):  # type: ignore[no-untyped-def]
    return post_transition(code, "desk/case.html", url_for("staff.case_page", code=code))


@bp.post("/cases/<code>/claim")
@staff_page(*DESK_ROLES)
def case_claim(code: str):  # type: ignore[no-untyped-def]
    raw = request.form.get("staff_id") or ""
    try:
        if raw and not raw.isdigit():
            from node.domain.errors import InvalidInput
            raise InvalidInput("choose a handler", field="staff_id")
        ctx().run(actor(), cases.claim_case, code, int(raw) if raw else None)
    except DomainError as e:
        return refused("desk/case.html", code, "claim", e)
    flash(f"{code}：{'已指派承办人' if raw else '已认领，请办理'}。", "ok")
    return redirect(url_for("staff.case_page", code=code))


@bp.post("/cases/<code>/extensions")
@staff_page(*DESK_ROLES)
def case_extension(code: str):  # type: ignore[no-untyped-def]
    try:
        raw = (request.form.get("days") or "").strip()
        if not raw.isdigit():
            from node.domain.errors import InvalidInput
            raise InvalidInput("an extension is 1 to 60 working days", field="days")
        ctx().run(actor(), cases.request_extension, code, int(raw), request.form.get("reason") or "")
    except DomainError as e:
        return refused("desk/case.html", code, "extension", e)
    flash(f"{code}：延期申请已提交，等待审批。", "ok")
    return redirect(url_for("staff.case_page", code=code))


@bp.post("/cases/<code>/extensions/<int:extension_id>")
@staff_page(*DESK_ROLES)
def case_extension_decision(code: str, extension_id: int):  # type: ignore[no-untyped-def]
    approve = request.form.get("approve") == "1"
    return _desk_act(code, f"decide-{extension_id}", f"延期申请{'已批准' if approve else '未予批准'}。",
                     cases.decide_extension, code, extension_id, approve,
                     (request.form.get("note") or "").strip()[:2000] or None)


def _desk_act(code: str, form_key: str, done: str, fn: Any, *args: Any) -> Any:
    """A desk action on a case: ``fn(uow, *args)``; refused, the case page with the error at its
    form (``form_key``); done, back to the case page saying so."""
    try:
        ctx().run(actor(), fn, *args)
    except DomainError as e:
        return refused("desk/case.html", code, form_key, e)
    flash(f"{code}：{done}", "ok")
    return redirect(url_for("staff.case_page", code=code))


@bp.post("/cases/<code>/orders/<int:order_id>")
@staff_page(*DESK_ROLES)
def case_order_response(code: str, order_id: int):  # type: ignore[no-untyped-def]
    f = request.form
    fix = None
    if "fix_description" in f or "fix_seq" in f:  # a correction order's form
        try:
            seq: Any = int(f.get("fix_seq") or "")
        except ValueError:
            seq = None
        fix = {"description": f.get("fix_description") or "", "transition_seq": seq}
    return _desk_act(code, f"order-{order_id}", "督办反馈已发送。", supervision_orders.respond, order_id,
                     f.get("text") or "", fix)


@bp.get("/cases/<code>/materials/<digest>")
@staff_page(*DESK_ROLES)
def case_material(code: str, digest: str):  # type: ignore[no-untyped-def]
    """A material's bytes, opened in the browser: the API's service, as the signed-in staff member
    (checked and audited before the bytes are read)."""
    who = actor()
    try:
        req = ctx().run(who, part_materials.material_request, code, digest)
        got = part_materials.fetch_material(ctx(), who.label, req)
    except DomainError as e:
        return render_template("message.html", title="无法打开材料", text=zh_error(e)), e.status
    mime = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}.get(got.file_type)
    if mime is None:  # what a browser cannot show is downloaded
        mime, how = "application/octet-stream", "attachment"
    else:
        how = "inline"
    return Response(got.data, mimetype=mime, headers={
        "Content-Disposition": f"{how}; filename*=UTF-8''{quote(got.filename)}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        # the bytes are shown by the browser's own viewer (PDF, image): nothing of theirs may run
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; object-src 'self'; "
                                   "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"})


# ---------------------------------------------------------------- A/B posts (chief)


@bp.route("/desk/posts", methods=["GET", "POST"])
@staff_page(Role.CHIEF)
def posts():  # type: ignore[no-untyped-def]
    """The chief representative marks a handler absent (their backup works their cases) or back."""
    from node.services import org

    if request.method == "POST":
        try:
            sid = int(request.form.get("staff_id", ""))
        except ValueError:
            abort(400)
        absent = request.form.get("absent") == "1"
        try:
            st = ctx().run(actor(), org.update_staff, sid, absent=absent)
            name = st.name
        except DomainError as e:
            flash(zh_error(e), "error")
            return redirect(url_for("staff.posts"))
        flash(f"{name}：{'已标记缺岗，其 B 岗接办其案件' if absent else '已恢复在岗'}。", "ok")
        return redirect(url_for("staff.posts"))
    auth = signed_in()
    assert auth is not None
    with ctx().uow(actor()) as uow:
        people = [{"id": s.id, "name": s.name, "role": s.role, "absent": bool(s.absent), "backup_id": s.backup_id,
                       "active": bool(s.active)} for s in org.list_staff(uow)
                  if s.department_id == auth.actor.department_id]
    names = {p["id"]: p["name"] for p in people}
    return render_template("desk/posts.html", people=people, names=names)
