"""The applicant portal (public, 简体中文, phone first): the catalog and service guides, online
application with uploads and the one-time notice (一次性告知), and case tracking with the
applicant's actions (补正, 撤回, 好差评, 投诉).

Pages call ``node.services`` only, never the database directly. What the public does to a case is
proved, in every form, by the service code and the ID tail typed into that form (POSTed, never in
an address, never kept in the session), behind the throttle and the locks of
``node.services.guard`` — as the API does. So the answer to such a POST is the page itself (the
case as it now stands, the result next to the form that acted): a redirect could not show the case
without carrying the ID tail. An application, which needs no proof, is answered POST/redirect/GET.
"""
from __future__ import annotations

import re
from typing import Any, cast

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from node.api.auth import client_address
from node.domain import servicecode
from node.domain.errors import Conflict, DomainError, Locked, QuotaExceeded, WrongSecret
from node.domain.identity import ID_TYPES, validate_id
from node.domain.joint import check_form
from node.domain.lifecycle import Event
from node.services import catalog, guard, intake, org, public, uploads
from node.services import supervision_orders as sup
from node.services.views import public_view

from .errors import explain
from .vocab import EVENT_ZH, level_zh

bp = Blueprint("ui", __name__, template_folder="templates", static_folder="static", static_url_path="/static/ui")

KIND_ZH = {"immediate": "即办件", "promised": "承诺件", "joint": "联办件", "reported": "上报件"}
STATUS_ZH = {"submitted": "已申报，待受理", "in_progress": "办理中", "supplementing": "待补正材料",
             "concluded": "已办结", "refused": "不予受理", "withdrawn": "已撤回"}
RESULT_ZH = {"approved": "准予许可", "denied": "不予许可"}
FORM_ZH = {"original": "原件", "copy": "复印件", "original_and_copy": "原件及复印件"}
ID_TYPE_ZH = {"resident_id": "居民身份证", "uscc": "统一社会信用代码", "passport": "护照", "other": "其他证件"}
DECISION_ZH = {"all_must_approve": "各部门均准予许可方可办结（任一部门不予许可则整件不予许可）",
               "independent": "各部门分别作出决定，结果各自有效"}
PAGE_SIZE = 10
LAST4 = re.compile(r"^[0-9A-Za-z]{4}$")
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
PHONE = re.compile(r"^\+?\d{5,20}$")
TERMINAL = ("concluded", "refused", "withdrawn")


def _ctx():  # type: ignore[no-untyped-def]
    return current_app.extensions["yiwang"]


def days(n: int | None, immediate: bool = False) -> str:
    """A time limit as the public reads it: 即办 for an immediate item's zero days."""
    if n is None:
        return "—"
    if n == 0:
        return "即办" if immediate else "当场办理"
    return f"{n} 个工作日"


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"max_kb": _ctx().settings.max_upload_bytes // 1024, "KIND_ZH": KIND_ZH, "STATUS_ZH": STATUS_ZH, "RESULT_ZH": RESULT_ZH, "FORM_ZH": FORM_ZH,
            "EVENT_ZH": EVENT_ZH, "ID_TYPE_ZH": ID_TYPE_ZH, "DECISION_ZH": DECISION_ZH, "days": days,
            "hall": _ctx().settings.node_name, "level_zh": level_zh}


def _departments() -> dict[int, str]:
    return {d.id: d.name for d in _ctx().run(None, org.list_departments) if d.kind != "service_point"}


# ---------------------------------------------------------------- catalog and guide

@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    q = (request.args.get("q") or "").strip()[:100]
    kind = request.args.get("kind") or ""
    kind = kind if kind in KIND_ZH else ""
    depts = _departments()
    try:
        dept = int(request.args.get("dept") or 0)
    except ValueError:
        dept = 0
    dept = dept if dept in depts else 0
    items = _ctx().run(None, catalog.list_items, q=q or None, department_id=dept or None)
    if kind:
        items = [v for v in items if v.kind == kind]
    pages = max(1, -(-len(items) // PAGE_SIZE))
    try:
        page = min(max(1, int(request.args.get("page") or 1)), pages)
    except ValueError:
        page = 1
    shown = items[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    args = {k: v for k, v in (("q", q), ("kind", kind), ("dept", dept or "")) if v}
    return render_template("index.html", items=shown, total=len(items), q=q, kind=kind, dept=dept, depts=depts,
                           page=page, pages=pages, args=args)


def _item_or_404(code: str):  # type: ignore[no-untyped-def]
    try:
        return _ctx().run(None, catalog.get_item, code)
    except DomainError:
        return None


def _not_found(code: str):  # type: ignore[no-untyped-def]
    return render_template("message.html", title="未找到事项", text=f"没有编码为 {code} 的事项。"), 404


@bp.get("/items/<code>")
def item(code: str):  # type: ignore[no-untyped-def]
    v = _item_or_404(code)
    if v is None:
        return _not_found(code)
    parts = []
    for p in v.parts or []:
        pv = _item_or_404(p["item_code"]) if not p.get("node") else None
        parts.append({"code": p["item_code"], "name": pv.name if pv is not None else p["item_code"],
                      "department": _departments().get(pv.department_id) if pv is not None else None,
                      "limit": days(pv.promised_limit_days, pv.kind == "immediate") if pv is not None else None})
    extra = {k: getattr(v, k) for k in ("address", "phone", "hours", "max_visits") if getattr(v, k, None)}
    return render_template("item.html", v=v, department=_departments().get(v.department_id), parts=parts,
                           extra=extra)


# ---------------------------------------------------------------- applying online



def _id_error_zh(message: str, id_type: str) -> str:
    if "check digit" in message or "check character" in message:
        return "证件号码校验位不符，可能输入有误，请逐位核对。"
    if "birth date" in message:
        return "身份证号码中的出生日期不是有效日期，请核对。"
    if id_type == "resident_id":
        return "居民身份证号码应为 18 位：前 17 位为数字，最后一位为数字或 X。"
    if id_type == "uscc":
        return "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、S、V、Z）。"
    return "证件号码应为 4–32 位字母、数字或“-”。"


def _file_error_zh(e: DomainError) -> str:
    if isinstance(e, QuotaExceeded):
        wait = max(1, -(-e.retry_after // 60))
        return f"本网络地址的上传次数或容量已达上限，请 {wait} 分钟后再试。"
    m = e.message
    if "empty" in m:
        return "文件是空的，请重新选择。"
    if "the limit is" in m:
        return f"文件过大，单个文件不能超过 {_ctx().settings.max_upload_bytes // 1024} KB。"
    return "文件无法识别或已损坏：请上传结构完整的 PDF、JPG、PNG 或 OFD 文件。"


def _problem_zh(problem: str) -> str:
    if "accepted:" in problem:
        return "文件格式不符，可接受：" + problem.split("accepted:", 1)[1].strip().replace(", ", "、") + "。"
    if "another application" in problem:
        return "该文件已用于其他申请，请为本申请重新上传。"
    if "another account" in problem:
        return "该文件由其他账号上传，请重新上传。"
    if "no upload" in problem:
        return "上传的文件已失效，请重新上传。"
    if "no such material" in problem:
        return "本事项不需要此材料。"
    if "conditional" in problem:
        return "不是本事项的视情形材料。"
    return problem


def _store_files(materials: list[dict[str, Any]], kept: dict[str, dict[str, str]],
                 errors: dict[str, str], prefix: str = "") -> int | None:
    """Each file chosen for a material is checked and stored by the uploads service, one unit of
    work each, charged to the client's address (the budget of ``POST /api/v1/uploads``): a file
    refused is named next to its material; the others are kept for the next step."""
    limit = _ctx().settings.max_upload_bytes
    retry_after = None
    for m in materials:
        f = request.files.get(f"{prefix}file_{m['code']}")
        if f is None or not f.filename:
            continue
        data = f.stream.read(limit + 1)
        try:
            up = _ctx().run(None, uploads.store_upload, f.filename, data, content_type=f.mimetype, client=client_address())
        except DomainError as e:
            errors[f"{prefix}m_{m['code']}"] = _file_error_zh(e)
            kept.pop(m["code"], None)
            if isinstance(e, QuotaExceeded):
                retry_after = e.retry_after
            continue
        kept[m["code"]] = {"id": up.id, "name": up.filename}
    return retry_after  # the seconds to wait when the client's upload budget is used up


def _kept_uploads(materials: list[dict[str, Any]], prefix: str = "") -> dict[str, dict[str, str]]:
    """The uploads this applicant made in an earlier step (the ids in the form: an upload id is its
    sender's token, given to nobody else)."""
    out = {}
    for m in materials:
        uid = (request.form.get(f"{prefix}up_{m['code']}") or "").strip()
        if UPLOAD_ID.match(uid):
            out[m["code"]] = {"id": uid, "name": (request.form.get(f"{prefix}upname_{m['code']}") or "")[:255]}
    return out


def _applicant(errors: dict[str, str]) -> dict[str, Any]:
    """The applicant's fields, checked as the API checks them (``ApplicantSchema``, ``validate_id``)."""
    a = {k: (request.form.get(k) or "").strip() for k in ("name", "id_type", "id_number", "phone", "org")}
    if not a["name"]:
        errors["name"] = "请填写申请人姓名或名称。"
    elif len(a["name"]) > 100:
        errors["name"] = "申请人姓名或名称不能超过 100 个字。"
    if a["id_type"] not in ID_TYPES:
        a["id_type"] = "resident_id"
    if not a["id_number"]:
        errors["id_number"] = "请填写证件号码。"
    else:
        try:
            a["id_number"] = validate_id(a["id_type"], a["id_number"])
        except DomainError as e:
            errors["id_number"] = _id_error_zh(e.message, a["id_type"])
    if a["phone"] and not PHONE.match(a["phone"]):
        errors["phone"] = "手机号码只能填写数字，例如 13800000000。"
    if len(a["org"]) > 200:
        errors["org"] = "单位名称不能超过 200 个字。"
    return a


def _prerequisites(v, errors: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:  # type: ignore[no-untyped-def]
    """The references the applicant entered for the item's prior approvals (前置审批): a license
    number or an earlier case's service code each, optional (the window enters it otherwise),
    verified at acceptance; checked as the service checks them (``parse_entry``)."""
    from node.domain.prerequisites import parse_entry

    out: list[dict[str, Any]] = []
    values: dict[str, str] = {}
    for i, p in enumerate(v.prerequisites or []):
        ref = (request.form.get(f"pre_{i}") or "").strip()[:40]
        values[f"pre_{i}"] = ref
        if not ref:
            continue
        try:
            servicecode.normalize(ref)
            entry = {"item_code": p["item_code"], "service_code": ref}
        except DomainError:
            entry = {"item_code": p["item_code"], "license_number": ref}
        try:
            parse_entry(entry, f"prerequisites[{len(out)}]")
        except DomainError:
            errors[f"pre_{i}"] = "证照编号为 4–40 位字母、数字或“-”，或填写原办件的统一服务监管码。"
            continue
        out.append({**entry, "_pos": i})
    return out, values


@bp.route("/items/<code>/apply", methods=["GET", "POST"])
def apply(code: str):  # type: ignore[no-untyped-def]
    v = _item_or_404(code)
    if v is None:
        return _not_found(code)
    if v.item.status != "active":
        return render_template("message.html", title="暂停受理", text=f"“{v.name}”目前暂停受理网上申请。"), 409
    if request.method == "GET":
        return render_template("portal/apply.html", v=v, a={"id_type": "resident_id"}, form={}, cond=[], kept={},
                               errors={}, notice=None, pre={})
    errors: dict[str, str] = {}
    a = _applicant(errors)
    form = {f["name"]: (request.form.get(f"f_{f['name']}") or "").strip()[:2000] for f in v.fields or []}
    try:
        check_form(v.fields, form)
    except DomainError as e:
        name = (e.field or "").removeprefix("form.")
        label = next((f["label"] for f in v.fields or [] if f["name"] == name), name)
        errors[f"f_{name}"] = f"请填写“{label}”。"
    for f in v.fields or []:  # every required field named at once, not only the first
        if f.get("required") and not form.get(f["name"]):
            errors[f"f_{f['name']}"] = f"请填写“{f['label']}”。"
    prereq, pre_values = _prerequisites(v, errors)
    conditional_codes = {m["code"] for m in v.materials if m.get("requirement") == "conditional"}
    cond = [c for c in dict.fromkeys(request.form.getlist("cond")) if c in conditional_codes]
    kept = _kept_uploads(v.materials)
    retry_after = _store_files(v.materials, kept, errors)
    refused_files = any(k.startswith("m_") for k in errors)  # (before the notice adds its own)
    materials = [{"material_code": c, "upload_id": u["id"]} for c, u in kept.items()]
    notice = _ctx().run(None, intake.check_completeness, v.item.code, materials, cond).as_dict()
    for p in notice["invalid"]:
        errors.setdefault(f"m_{p['material_code']}", _problem_zh(p["problem"]))
    for p in notice["missing"]:
        errors.setdefault(f"m_{p['material_code']}", "缺少此材料，请上传。")
    submitting = request.form.get("action") == "submit"
    if not submitting:  # checking the materials: a field not filled in yet is not an error yet
        errors = {k: m for k, m in errors.items() if k.startswith("m_") or not m.startswith("请填写")}
    if submitting and not errors and notice["complete"]:
        data = {"item_code": v.item.code, "materials": materials, "conditional_materials": cond, "form": form,
                "applicant": {"name": a["name"], "id_type": a["id_type"], "id_number": a["id_number"],
                              "phone": a["phone"] or None, "org": a["org"] or None}}
        if prereq:
            data["prerequisites"] = [{k: x for k, x in e.items() if k != "_pos"} for e in prereq]
        try:
            case_code = _ctx().run(None, intake.submit_case, data)
        except intake.IncompleteApplication as e:
            notice = cast(dict[str, Any], e.extra.get("notice") or notice)
            for p in notice["invalid"] + notice["missing"]:
                errors.setdefault(f"m_{p['material_code']}", _problem_zh(p.get("problem", "缺少此材料，请上传。")))
        except DomainError as e:
            key = {"applicant.name": "name", "applicant.id_number": "id_number", "applicant.phone": "phone"}.get(
                e.field or "", "_")
            pre = re.match(r"prerequisites\[(\d+)\]", e.field or "")
            if pre and int(pre.group(1)) < len(prereq):
                key = f"pre_{prereq[int(pre.group(1))]['_pos']}"
                errors[key] = "证照编号或监管码有误，请核对（也可留空，由窗口受理时核验）。"
                key = ""
            if key:
                errors[key] = "该事项暂停受理。" if isinstance(e, Conflict) else explain(e, with_field=False)
        else:
            session["submitted"] = {"code": case_code, "item": v.name, "item_code": v.item.code,
                                    "kind": v.kind, "promised": v.promised_limit_days}
            flash("申请已提交。", "ok")
            return redirect(url_for("ui.submitted"))
    # a check answers with its notice (200); a refused submission or file is 422; a used-up budget 429
    status = 429 if retry_after else 422 if submitting or refused_files else 200
    html = render_template("portal/apply.html", v=v, a=a, form=form, cond=cond, kept=kept, errors=errors, pre=pre_values,
                           notice=notice, other_errors=any(not k.startswith("m_") for k in errors))
    return html, status, {"Retry-After": str(retry_after)} if retry_after else {}


@bp.get("/applied")
def submitted():  # type: ignore[no-untyped-def]
    got = session.get("submitted")
    if not got:
        return redirect(url_for("ui.index"))
    return render_template("portal/submitted.html", s=got)


# ---------------------------------------------------------------- tracking and the applicant's actions

def _supplement_request(case) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
    """What the last supplement request asked for (told to the applicant by SMS too)."""
    if case.status != "supplementing":
        return None
    for t in reversed(case.transitions):
        if t.event == "request_supplement":
            return {"reason": t.reason, "missing": list((t.data or {}).get("missing") or [])}
    return {"reason": None, "missing": []}


def _lookup(uow, code, last4):  # type: ignore[no-untyped-def]
    case, lic, ev = public.lookup_case(uow, code, last4)
    view = public_view(case, lic, ev is not None)
    stage = 0 if case.status == "submitted" else case.stage_index  # submitted: waiting at acceptance
    view["plan"] = [{"name": s.get("name") or s["kind"], "limit": s["time_limit_days"],
                     "state": "done" if case.status == "concluded" or (stage is not None and i < stage)
                     else "current" if stage is not None and i == stage else "todo"}
                    for i, s in enumerate(case.item_version.stages)]
    view["supplement"] = _supplement_request(case)
    view["item_materials"] = list(case.item_version.materials or [])
    view["immediate"] = case.item_version.kind == "immediate"
    return view


def _locked_zh(e: Locked) -> str:
    wait = max(1, -(-e.retry_after // 60))
    return (f"查询过于频繁，请 {wait} 分钟后再试。" if e.status == 429 else
            f"该监管码（或您的网络地址）因多次核验失败已暂时锁定，请 {wait} 分钟后再试。")


def _guarded(code: str, use_case, *args: Any):  # type: ignore[no-untyped-def]
    targets = guard.lookup_targets(_ctx(), code, client_address())
    return guard.attempt(_ctx(), None, targets, use_case, code, *args, what="lookup", client=client_address())


def _track_page(case: dict[str, Any] | None, code: str, status: int = 200, error: str | None = None,
                errors: dict[str, str] | None = None, done: dict[str, str] | None = None,
                headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    html = render_template("track.html", case=case, code=code, error=error, errors=errors or {}, done=done or {})
    return html, status, headers or {}


@bp.route("/track", methods=["GET", "POST"])
def track():  # type: ignore[no-untyped-def]
    """The lookup form; the ID tail is posted (never in the address), behind the same throttle
    and locks as the API (``node.services.guard``)."""
    if request.method == "GET":
        return _track_page(None, (request.args.get("code") or "").strip()[:40])
    code = (request.form.get("code") or "").strip()[:40]
    last4 = (request.form.get("id_last4") or "").strip()
    if not code:
        return _track_page(None, "", 422, "请输入统一服务监管码。")
    try:
        code = servicecode.normalize(code)
        view = _guarded(code, _lookup, last4)
    except Locked as e:
        return _track_page(None, code, e.status, _locked_zh(e), headers={"Retry-After": str(e.retry_after)})
    except DomainError as e:
        msg = "统一服务监管码有误，请核对后重新输入。" if e.status == 422 else "未查到与该监管码和证件号后四位相符的办件。"
        return _track_page(None, code, e.status, msg)
    return _track_page(view, code)


ACTION_OK = {"supply": "补正材料已提交，办件继续办理。", "supply_part": "补正材料已提交，正在送达办理该事项的节点。",
             "withdraw": "申请已撤回。",
             "rate": "感谢您的评价！", "complain": "投诉已提交，监察部门将及时处理。"}


def _action(name: str, run, errors: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """One of the applicant's actions from the track page: the code and the ID tail proved again
    (throttled and locked as a lookup), ``run(uow, code, last4)`` then the case as it now stands,
    in one unit of work; the result or the error is shown next to the action's form."""
    errors = dict(errors or {})
    if "id_last4" in request.args:
        return _track_page(None, "", 422, "证件号后四位只能在表单中提交，不能放在网址中。")
    code = (request.form.get("code") or "").strip()[:40]
    last4 = (request.form.get("id_last4") or "").strip()
    try:
        code = servicecode.normalize(code)
    except DomainError:
        return _track_page(None, code, 422, "统一服务监管码有误，请核对后重新输入。")
    if not LAST4.match(last4):
        return _track_page(None, code, 422, "请输入证件号码的后四位（每次操作都需重新核验）。")
    if errors:  # the form's own mistakes: the case shown again (proved) with them next to the fields
        try:
            view = _guarded(code, _lookup, last4)
        except Locked as e:
            return _track_page(None, code, e.status, _locked_zh(e), headers={"Retry-After": str(e.retry_after)})
        except DomainError:
            return _track_page(None, code, 404, "未查到与该监管码和证件号后四位相符的办件。")
        return _track_page(view, code, 422, errors=errors)

    def use_case(uow, code, last4):  # type: ignore[no-untyped-def]
        out = run(uow, code, last4)
        view = _lookup(uow, code, last4)
        view["action_result"] = out
        return view

    try:
        view = _guarded(code, use_case, last4)
    except Locked as e:
        return _track_page(None, code, e.status, _locked_zh(e), headers={"Retry-After": str(e.retry_after)})
    except WrongSecret:
        return _track_page(None, code, 404, "监管码与证件号后四位不符，操作未执行。",
                           errors={f"{name}.last4": "证件号后四位与该办件不符。"})
    except DomainError as e:
        return _refused(name, code, last4, e)
    msg = ACTION_OK[name.rstrip("0123456789")]
    if name == "complain":
        msg = f"投诉已提交（编号 {view['action_result']}），监察部门将及时处理。"
    return _track_page(view, code, 200, done={name: msg})


def _refused(name: str, code: str, last4: str, e: DomainError):  # type: ignore[no-untyped-def]
    """The service refused the action (the proof was right): the case as it stands, the refusal
    next to the action's form, with the refusal's status code."""
    m = e.message
    if "rated already" in m:
        text = "该办件已评价过，每个办件只能评价一次。"
    elif "once it is concluded" in m:
        text = "办件办结后才能评价。"
    elif "supply the requested" in m:
        text = "请上传要求补正的材料。"
    elif "not acceptable" in m:
        found = cast(dict[str, Any], e.extra.get("notice") or {})
        text = "；".join(_problem_zh(p["problem"]) for p in found.get("invalid", [])) or "补正材料不符合要求。"
    elif e.field == "text" or "complaint" in m:
        text = "请填写投诉内容（不超过 2000 字）。"
    elif e.status == 409 or "cannot" in m or "not allowed" in m:
        text = "办件当前的状态不能进行此操作。"
    else:
        text = f"操作未成功（{e.field or name}）：{m}"
    try:
        view = _guarded(code, _lookup, last4)
    except DomainError:
        view = None
    return _track_page(view, code, e.status, errors={name: text})


@bp.post("/track/supply")
def supply():  # type: ignore[no-untyped-def]
    """补正: a file per material the request asked for (``s_file_<material code>``), stored by the
    uploads service, then the supply proved by the code and the ID tail."""
    part = request.form.get("part") or ""
    part_no = int(part) if part.isdigit() and 1 <= int(part) <= 64 else None
    name = f"supply_part{part_no}" if part_no else "supply"  # a part of a joint case worked at another node
    mats = [{"code": n.removeprefix("s_file_")[:40]} for n in request.files if n.startswith("s_file_")]
    kept: dict[str, dict[str, str]] = {}
    errors: dict[str, str] = {}
    if _store_files(mats, kept, errors, prefix="s_") or errors:
        return _action(name, None, {name: "；".join(errors.values())})
    materials = [{"material_code": c, "upload_id": u["id"]} for c, u in kept.items()]
    if not materials:
        return _action(name, None, {name: "请选择要补正的材料文件。"})
    if part_no:
        return _action(name, lambda uow, code, last4: public.applicant_part_supply(
            uow, code, last4, part_no, materials).status)
    return _action("supply", lambda uow, code, last4: public.applicant_transition(
        uow, code, last4, Event.SUPPLY, materials=materials).status)


@bp.post("/track/withdraw")
def withdraw():  # type: ignore[no-untyped-def]
    reason = (request.form.get("reason") or "").strip()[:2000] or None
    if request.form.get("confirm") != "yes":
        return _action("withdraw", None, {"withdraw.confirm": "请勾选确认后再撤回。"})
    return _action("withdraw", lambda uow, code, last4: public.applicant_transition(
        uow, code, last4, Event.WITHDRAW, reason=reason).status)


@bp.post("/track/rate")
def rate():  # type: ignore[no-untyped-def]
    errors = {}
    try:
        score = int(request.form.get("score") or 0)
    except ValueError:
        score = 0
    if not 1 <= score <= 5:
        errors["rate.score"] = "请选择 1 到 5 分。"
    comment = (request.form.get("comment") or "").strip() or None
    if comment and len(comment) > 2000:
        errors["rate.comment"] = "评价内容不能超过 2000 字。"
    return _action("rate", lambda uow, code, last4: public.evaluate_case(uow, code, last4, score, comment).score,
                   errors)


@bp.post("/track/complain")
def complain():  # type: ignore[no-untyped-def]
    text = (request.form.get("text") or "").strip()
    errors = {}
    if not text or len(text) > 2000:
        errors["complain.text"] = "请填写投诉内容（不超过 2000 字）。"
    return _action("complain", lambda uow, code, last4: sup.file_complaint(uow, code, last4, text).id, errors)
