"""Joint cases and the one policy: a department acts only on its own part; the joint case itself is
worked at the hall's window; the joint item's department has no extra power over other parts.
Every route that touches a part, with users of another department (its chief included) and the
hall-wide roles, on SQLite and PostgreSQL: 403 naming the reason, the joint case unchanged."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from node.domain.errors import PermissionDenied
from node.domain.lifecycle import Actor, Event
from node.domain.roles import Role
from node.persistence.models import (
    Case,
    CasePart,
    CaseTransition,
    Extension,
    Staff,
    StageSignoff,
)
from node.services import cases
from tests.integration.test_joint_cases import (
    HOUSE,
    SIGN_BUNDLE,
    accept_bundle,
    part_codes,
)
from tests.support import ID_NUMBER, SIGN_FORM, SIGN_MATERIALS

OWN_PART = "acts only on its own part"


def snapshot(ctx: Any, joint_code: str) -> tuple[Any, ...]:
    """Everything a refusal must leave as it was: the joint case, its part rows, every part's state."""
    with ctx.factory() as s:
        jc = s.scalar(select(Case).where(Case.code == joint_code))
        rows = [(r.part_no, r.status, r.result, r.deadline) for r in
                s.scalars(select(CasePart).where(CasePart.joint_case_id == jc.id).order_by(CasePart.part_no))]
        parts = [(c.code, c.status, c.stage_index, c.version, c.assignee_id, c.extended_days) for c in
                 s.scalars(select(Case).where(Case.joint_case_id == jc.id).order_by(Case.id))]
        steps = s.scalar(select(func.count()).select_from(CaseTransition)) or 0
        ext = s.scalar(select(func.count()).select_from(Extension)) or 0
        return (jc.status, jc.version, jc.promised_deadline), rows, parts, steps, ext


def refused(r: Any, *words: str) -> None:
    assert r.status_code == 403, r.json
    for w in words:
        assert w in r.json["message"], r.json


def test_another_department_is_refused_on_every_route_of_a_part(api, ctx):
    j = accept_bundle(api)
    cgj, scjg, _jj, _gh = part_codes(j)  # the joint item is cgj's (区城管办)
    scjg_case = api.case(scjg)
    before = snapshot(ctx, j["code"])
    who = ("cgj-chief", "cgj-handler", "jj-chief", "gh-approver")
    for user in who:
        r = api.post(f"/api/v1/cases/{scjg}/transitions", {"event": "undertake", "version": scjg_case["version"],
                                                             "opinion": "越权"}, user)
        refused(r, OWN_PART, "part 2 of joint case", j["code"], "区市场监管局")
        assert r.json["errors"]["json"].keys() == {"code"}
        r = api.post(f"/api/v1/cases/{scjg}/transitions", {"event": "request_supplement", "reason": "越权",
                                                             "version": scjg_case["version"]}, user)
        refused(r, OWN_PART)
    with ctx.factory() as s:
        hid = s.scalar(select(Staff.id).where(Staff.username == "scjg-handler"))
    refused(api.post(f"/api/v1/cases/{scjg}/claim", {"staff_id": hid}, "cgj-chief"), OWN_PART)
    refused(api.post(f"/api/v1/cases/{scjg}/claim", {}, "cgj-handler"), OWN_PART)
    refused(api.post(f"/api/v1/cases/{scjg}/extensions", {"days": 3, "reason": "越权延期"}, "cgj-chief"), OWN_PART)
    refused(api.post(f"/api/v1/cases/{scjg}/extensions", {"days": 3, "reason": "越权延期"}, "jj-approver"), OWN_PART)
    # hall-wide roles do not work parts either (refused by role, not hidden)
    for user in ("admin", "inspector"):
        r = api.post(f"/api/v1/cases/{scjg}/transitions", {"event": "undertake", "version": scjg_case["version"],
                                                             "opinion": "越权"}, user)
        assert r.status_code == 403, r.json
        assert api.post(f"/api/v1/cases/{scjg}/extensions", {"days": 3, "reason": "x"}, user).status_code == 403
    assert snapshot(ctx, j["code"]) == before

    # an extension requested by the part's own department is decided by that department only
    r = api.post(f"/api/v1/cases/{scjg}/extensions", {"days": 3, "reason": "需现场核实"}, "scjg-handler")
    assert r.status_code in (200, 201), r.json
    eid = r.json["id"]
    before = snapshot(ctx, j["code"])
    for user in ("cgj-chief", "gh-approver"):
        refused(api.post(f"/api/v1/cases/{scjg}/extensions/{eid}/decision", {"approve": True}, user), OWN_PART)
    assert snapshot(ctx, j["code"]) == before
    r = api.post(f"/api/v1/cases/{scjg}/extensions/{eid}/decision", {"approve": True}, "scjg-approver")
    assert r.status_code == 200, r.json

    # its own department works it; the joint item's own part is worked by cgj as before
    api.fire(scjg, "undertake", "scjg-handler", opinion="符合条件")
    api.fire(cgj, "undertake", "cgj-handler", opinion="符合条件")
    assert {api.case(c)["stage"]["kind"] for c in (scjg, cgj)} == {"review"}


def test_the_joint_case_is_accepted_and_withdrawn_at_the_window_only(api, ctx):
    body = {"item_code": SIGN_BUNDLE, "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"},
            "form": SIGN_FORM, "accept": True,
            "materials": [{"material_code": m, "upload_id": api.upload(k, m)} for m, k in SIGN_MATERIALS.items()]}
    with ctx.factory() as s:
        cases_before = s.scalar(select(func.count()).select_from(Case))
    # the joint item's chief accepting at submission would accept every other department's part
    r = api.post("/api/v1/cases", body, "cgj-chief")
    refused(r, "one window")
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == cases_before  # nothing half written
    # submitted (not accepted): the chief may not accept it later either, the window does
    j = accept_bundle(api, accept=False)
    assert j["status"] == "submitted"
    for user in ("cgj-chief", "cgj-handler"):
        r = api.post(f"/api/v1/cases/{j['code']}/transitions", {"event": "accept", "version": j["version"]}, user)
        refused(r, "one window")
    r = api.post(f"/api/v1/cases/{j['code']}/transitions", {"event": "accept", "version": j["version"]}, "scjg-chief")
    assert r.status_code == 404, r.json  # another department's joint case: not in its tenancy at all
    with ctx.factory() as s:
        jid = s.scalar(select(Case.id).where(Case.code == j["code"]))
        assert s.scalar(select(func.count()).select_from(CasePart).where(CasePart.joint_case_id == jid)) == 0
    j = api.fire(j["code"], "accept", "clerk")
    assert j["status"] == "in_progress" and len(j["joint"]["parts"]) == 4
    before = snapshot(ctx, j["code"])
    # withdrawal is the applicant's (the public route); a department's chief calling the service is refused
    with ctx.factory() as s:
        chief = s.scalar(select(Staff).where(Staff.username == "cgj-chief"))
        actor = Actor("staff", chief.id, Role.CHIEF, chief.department_id)
    with pytest.raises(PermissionDenied, match="one window"):
        ctx.run(actor, cases.transition_case, j["code"], Event.WITHDRAW, None, reason="越权撤回")
    assert snapshot(ctx, j["code"]) == before


def test_a_joint_stage_of_a_part_is_signed_by_its_listed_departments_only(api, ctx):
    kinds = {"application": "pdf", "id": "pdf", "household": "pdf", "village-opinion": "pdf", "site-plan": "pdf"}
    j = accept_bundle(api, HOUSE, form={}, kinds=kinds)
    town, planning = part_codes(j)
    api.fire(planning, "undertake", "gh-handler", opinion="材料齐全")
    url = f"/api/v1/cases/{planning}/stages/2/signoffs"
    before = snapshot(ctx, j["code"])
    for user in ("cgj-chief", "scjg-reviewer", "admin"):
        assert api.post(url, {"opinion": "越权"}, user).status_code == 403
    assert snapshot(ctx, j["code"]) == before
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(StageSignoff)) == 0
    # the town (listed) signs the planning department's part, but does not work it otherwise
    assert api.post(url, {"opinion": "现场踏勘符合村庄规划"}, "kq-reviewer").status_code == 201
    c = api.case(planning)
    refused(api.post(f"/api/v1/cases/{planning}/transitions", {"event": "send_back", "reason": "x",
                                                                "version": c["version"]}, "kq-chief"), OWN_PART)
    refused(api.post(f"/api/v1/cases/{town}/transitions", {"event": "undertake", "opinion": "x",
                                                            "version": api.case(town)["version"]}, "gh-chief"),
            OWN_PART, "part 1")
