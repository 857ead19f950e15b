"""Joint site inspection (联合踏勘) on the desk: the co-signing department finds the other
department's case under 会签, sees what it needs (applicant masked), signs with an opinion (an
empty one named at its field); the owning department signs on its own case page and the case moves
on; a department the stage does not list gets the same 404 as for any other department's case."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from node.persistence.models import AuditEntry, Staff

from tests.integration.test_joint_cases import HOUSE, accept_bundle, part_codes
from tests.support import csrf_of, ui_sign_in

pytestmark = pytest.mark.integration
KINDS = {"application": "pdf", "id": "pdf", "household": "pdf", "village-opinion": "pdf", "site-plan": "pdf"}


def staff(app, username):  # type: ignore[no-untyped-def]
    c = app.test_client()
    ui_sign_in(c, username)
    return c


def test_the_listed_departments_sign_the_joint_inspection_from_the_desk(app, api):
    j = accept_bundle(api, HOUSE, form={}, kinds=KINDS)
    _town, planning = part_codes(j)
    assert staff(app, "kq-reviewer").get(f"/staff/cases/{planning}").status_code == 404  # not at the stage yet
    api.fire(planning, "undertake", "gh-handler", opinion="材料齐全")
    assert api.case(planning, "gh-handler")["stage"]["kind"] == "joint_inspection"

    kq = staff(app, "kq-reviewer")  # the town's reviewer: the planning bureau's case, listed for 联合踏勘
    queue = kq.get("/staff/desk?tab=cosign").get_data(as_text=True)
    assert planning in queue and "会签（1）" in queue and "张三明" not in queue and "张*明" in queue
    page = kq.get(f"/staff/cases/{planning}").get_data(as_text=True)
    assert "联合踏勘（会签）" in page and "待会签" in page and "规划拱墅分局" in page and "张三明" not in page
    r = kq.post(f"/staff/cases/{planning}/signoffs/2", data={"csrf_token": csrf_of(page), "opinion": "  "})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'aria-describedby="opinion-2-err"' in html and "字段：opinion" in html
    assert api.case(planning)["signoffs"] == []  # nothing written
    assert kq.post(f"/staff/cases/{planning}/signoffs/2", data={"opinion": "同意"}).status_code == 400  # no CSRF
    r = kq.post(f"/staff/cases/{planning}/signoffs/2", data={"csrf_token": csrf_of(page),
                                                              "opinion": "现场踏勘符合村庄规划"})
    assert r.status_code == 302
    page = kq.get(f"/staff/cases/{planning}").get_data(as_text=True)
    assert "会签意见已提交" in page and "现场踏勘符合村庄规划" in page and "提交会签意见" not in page
    assert planning not in kq.get("/staff/desk?tab=cosign").get_data(as_text=True)
    assert api.case(planning)["stage"]["kind"] == "joint_inspection"  # the planning bureau has not signed

    for outsider in ("cgj-reviewer", "kq-handler"):  # not listed / listed, but not the stage's role
        assert staff(app, outsider).get(f"/staff/cases/{planning}").status_code == 404
    assert "会签" not in staff(app, "cgj-reviewer").get("/staff/desk").get_data(as_text=True)

    gh = staff(app, "gh-reviewer")  # the owning department: on its own case page
    page = gh.get(f"/staff/cases/{planning}").get_data(as_text=True)
    assert "联合踏勘（会签）" in page and "现场踏勘符合村庄规划" in page and "提交会签意见" in page
    r = gh.post(f"/staff/cases/{planning}/signoffs/2", data={"csrf_token": csrf_of(page), "opinion": "同意"})
    assert r.status_code == 302
    c = api.case(planning)
    assert c["stage"]["kind"] == "approve"
    assert [(s["department"], s["opinion"]) for s in c["signoffs"]] == [("kq", "现场踏勘符合村庄规划"), ("gh", "同意")]


def test_a_co_signer_reads_the_materials_it_reviews_and_no_one_else_does(app, api, ctx):
    j = accept_bundle(api, HOUSE, form={}, kinds=KINDS)
    _town, planning = part_codes(j)
    mats = api.case(planning, "gh-handler")["materials"]  # the joint case's one material set, shared by its parts
    assert [m["digest"] for m in mats] == [m["digest"] for m in j["materials"]]
    digest = mats[0]["digest"]
    r = staff(app, "gh-handler").get(f"/staff/cases/{planning}/materials/{digest}")  # the part's own department
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    kq = staff(app, "kq-reviewer")
    assert kq.get(f"/staff/cases/{planning}/materials/{digest}").status_code == 404  # not at the joint stage yet
    api.fire(planning, "undertake", "gh-handler", opinion="材料齐全")

    page = kq.get(f"/staff/cases/{planning}").get_data(as_text=True)
    assert f"/staff/cases/{planning}/materials/{digest}" in page and mats[0]["filename"] in page
    r = kq.get(f"/staff/cases/{planning}/materials/{digest}")
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and "inline" in r.headers["Content-Disposition"]
    r = api.c.get(f"/api/v1/cases/{planning}/materials/{digest}", headers=api.h("kq-reviewer"))  # the API alike
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    assert kq.get(f"/staff/cases/{planning}/materials/{'0' * 64}").status_code == 404  # not one of the case's

    for outsider in ("cgj-reviewer", "kq-handler"):  # not listed / listed, but not the stage's role
        assert staff(app, outsider).get(f"/staff/cases/{planning}/materials/{digest}").status_code == 404
        assert api.c.get(f"/api/v1/cases/{planning}/materials/{digest}",
                         headers=api.h(outsider)).status_code == 404
    with ctx.factory() as s:  # every read on record, by whom
        reads = s.scalars(select(AuditEntry.actor).where(AuditEntry.op == "material")).all()
        kq_id = s.scalar(select(Staff.id).where(Staff.username == "kq-reviewer"))
        gh_id = s.scalar(select(Staff.id).where(Staff.username == "gh-handler"))
    assert reads == [f"staff:{gh_id}"] + [f"staff:{kq_id}"] * 2
