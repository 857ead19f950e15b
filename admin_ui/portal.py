"""The applicant portal (public, 简体中文): the service guide and case progress lookup.

Pages call ``node.services`` only, never the database directly.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from node.domain import servicecode
from node.domain.errors import DomainError, Locked
from node.domain.masking import mask_id_number, mask_name, mask_phone
from node.services import catalog, guard, public

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static", static_url_path="/static/ui")

KIND_ZH = {"immediate": "即办件", "promised": "承诺件", "joint": "联办件", "reported": "上报件"}
STATUS_ZH = {"submitted": "已申报，待受理", "in_progress": "办理中", "supplementing": "待补正材料",
             "concluded": "已办结", "refused": "不予受理", "withdrawn": "已撤回"}
RESULT_ZH = {"approved": "准予许可", "denied": "不予许可"}
FORM_ZH = {"original": "原件", "copy": "复印件", "original_and_copy": "原件及复印件"}
EVENT_ZH = {"submit": "提交申请", "accept": "受理", "refuse": "不予受理", "undertake": "承办", "review": "审核",
            "approve": "批准", "conclude": "办结", "deny": "不予许可", "send_back": "退回", "withdraw": "撤回",
            "request_supplement": "要求补正", "supply": "补正材料", "record_paper_result": "录入纸质办理结果"}


def _ctx():  # type: ignore[no-untyped-def]
    return current_app.extensions["yiwang"]


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"KIND_ZH": KIND_ZH, "STATUS_ZH": STATUS_ZH, "RESULT_ZH": RESULT_ZH, "FORM_ZH": FORM_ZH,
            "EVENT_ZH": EVENT_ZH, "hall": _ctx().settings.node_name}


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    q = (request.args.get("q") or "").strip()[:100] or None
    return render_template("index.html", items=_ctx().run(None, catalog.list_items, q=q), q=q or "")


@bp.get("/items/<code>")
def item(code: str):  # type: ignore[no-untyped-def]
    try:
        v = _ctx().run(None, catalog.get_item, code)
    except DomainError:
        return render_template("message.html", title="未找到事项", text=f"没有编码为 {code} 的事项。"), 404
    return render_template("item.html", v=v)


@bp.route("/track", methods=["GET", "POST"])
def track():  # type: ignore[no-untyped-def]
    """The lookup form; the ID tail is posted (never in the address), behind the same throttle
    and locks as the API (``node.services.guard``)."""
    if request.method == "GET":
        return render_template("track.html", case=None, error=None, code=(request.args.get("code") or "").strip())
    code = (request.form.get("code") or "").strip()
    last4 = (request.form.get("id_last4") or "").strip()
    if not code:
        return render_template("track.html", case=None, error="请输入统一服务监管码。", code=""), 422
    client = (request.remote_addr or "unknown")[:128]
    try:
        code = servicecode.normalize(code)
        targets = guard.lookup_targets(_ctx(), code, client)
        view = guard.attempt(_ctx(), None, targets, _lookup, code, last4, what="lookup", client=client)
    except Locked as e:
        wait = max(1, -(-e.retry_after // 60))
        msg = (f"查询过于频繁，请 {wait} 分钟后再试。" if e.status == 429 else
               f"该监管码（或您的网络地址）因多次核验失败已暂时锁定，请 {wait} 分钟后再试。")
        return (render_template("track.html", case=None, error=msg, code=code), e.status,
                {"Retry-After": str(e.retry_after)})
    except DomainError as e:
        msg = "统一服务监管码有误，请核对后重新输入。" if e.status == 422 else "未查到与该监管码和证件号后四位相符的办件。"
        return render_template("track.html", case=None, error=msg, code=code), e.status
    return render_template("track.html", case=view, error=None, code=code)


def _lookup(uow, code, last4):  # type: ignore[no-untyped-def]
    case, lic, ev = public.lookup_case(uow, code, last4)
    return _track_view(case, lic, ev)


def _track_view(case, lic, ev):  # type: ignore[no-untyped-def]
    stages = case.item_version.stages
    view = {"code": case.code, "item": case.item_version.name, "status": case.status, "result": case.result,
            "name": mask_name(case.applicant_name), "id": mask_id_number(case.applicant_id_number),
            "phone": mask_phone(case.applicant_phone or ""), "promised": case.promised_deadline,
            "stage": (stages[case.stage_index].get("name") or stages[case.stage_index]["kind"])
            if case.stage_index is not None else None,
            "license": lic, "rated": ev is not None,
            "progress": [(t.occurred_at, t.event) for t in case.transitions]}
    return view

