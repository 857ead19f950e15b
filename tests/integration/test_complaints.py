"""Complaints (投诉) from the public to the node's inspectors, tracked to a conclusion and counted per
department; disputes between a joint case's departments (争议协调) raised by a part's chief and
resolved by coordination with a recorded decision. SQLite and PostgreSQL (the ``api`` fixture)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from node.persistence.models import Complaint, Dispute, Notification
from tests.integration.test_joint_cases import accept_bundle
from tests.support import ID_NUMBER

pytestmark = pytest.mark.integration
C = "/api/v1/supervision/complaints"
D = "/api/v1/supervision/disputes"


def count(ctx: Any, model: Any) -> int:
    with ctx.factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_complaint_is_filed_by_the_applicant_handled_and_concluded(api, ctx):  # type: ignore[no-untyped-def]
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    # wrong ID tail: the same refusal as an unknown code, nothing written
    r = api.post(C, {"code": code, "id_last4": "9999", "text": "办理太慢"})
    assert r.status_code == 404, r.json
    r = api.post(C, {"code": code, "id_last4": ID_NUMBER[-4:], "text": ""})
    assert r.status_code == 422 and "text" in r.json["errors"]["json"]
    assert count(ctx, Complaint) == 0
    r = api.post(C, {"code": code, "id_last4": ID_NUMBER[-4:], "text": "窗口多次要求补交同一材料"})
    assert r.status_code == 201 and r.json["state"] == "received", r.json
    cid = r.json["id"]
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Notification)
                        .where(Notification.template == "complaint_received")) >= 1
    # only inspectors handle complaints
    assert api.get(C, "cgj-chief").status_code == 403
    assert api.post(f"{C}/{cid}/handling", None, "cgj-chief").status_code == 403
    listed = api.get(C, "inspector").json
    assert [(x["id"], x["state"], x["case_code"]) for x in listed] == [(cid, "received", code)]
    assert api.post(f"{C}/{cid}/handling", None, "inspector").json["state"] == "handling"
    assert api.post(f"{C}/{cid}/handling", None, "inspector").status_code == 409
    r = api.post(f"{C}/{cid}/conclusion", {"finding": "maybe", "conclusion": "x"}, "inspector")
    assert r.status_code == 422 and "finding" in r.json["errors"]["json"]
    r = api.post(f"{C}/{cid}/conclusion", {"finding": "substantiated", "conclusion": "情况属实，已责令整改"},
                 "inspector")
    assert r.status_code == 200 and r.json["state"] == "concluded" and r.json["finding"] == "substantiated"
    r = api.post(f"{C}/{cid}/conclusion", {"finding": "partly", "conclusion": "再次"}, "inspector")
    assert r.status_code == 409
    counts = api.get(f"{C}/counts", "inspector").json["departments"]
    assert counts == {"cgj": {"received": 1, "concluded": 1, "substantiated": 1}}
    assert api.get(f"{C}/{cid + 1}/handling", "inspector").status_code in (404, 405)
    assert api.post(f"{C}/{cid + 1}/handling", None, "inspector").status_code == 404


def test_dispute_between_a_joint_cases_departments_is_resolved_by_coordination(api, ctx):  # type: ignore[no-untyped-def]
    j = accept_bundle(api)
    jc = j["code"]
    # a handler, or a chief of a department with no part of it, cannot raise one
    r = api.post(D, {"joint_code": jc, "part_no": 1, "text": "意见不一致"}, "cgj-handler")
    assert r.status_code == 403 and "part_no" in r.json["errors"]["json"], r.json
    r = api.post(D, {"joint_code": jc, "part_no": 1, "text": "意见不一致"}, "gh-chief")
    assert r.status_code == 403  # part 1 is cgj's
    r = api.post(D, {"joint_code": jc, "part_no": 9, "text": "意见不一致"}, "cgj-chief")
    assert r.status_code == 422 and "part_no" in r.json["errors"]["json"]
    r = api.post(D, {"joint_code": j["joint"]["parts"][0]["code"], "part_no": 1, "text": "x"}, "cgj-chief")
    assert r.status_code == 404 and "joint_code" in r.json["errors"]["json"]
    assert count(ctx, Dispute) == 0
    r = api.post(D, {"joint_code": jc, "part_no": 4, "text": "规划与城管对设置位置意见不一致"}, "gh-chief")
    assert r.status_code == 201 and r.json["state"] == "open" and len(r.json["other_departments"]) == 3, r.json
    did = r.json["id"]
    assert [x["id"] for x in api.get(D, "gh-chief").json] == [did]
    assert api.post(f"{D}/{did}/resolution", {"decision": "按规划意见"}, "gh-chief").status_code == 403
    r = api.post(f"{D}/{did}/resolution", {"decision": "经协调，按规划部门意见设置于二层以下"}, "inspector")
    assert r.status_code == 200 and r.json["state"] == "resolved" and r.json["decided_by"], r.json
    assert api.post(f"{D}/{did}/resolution", {"decision": "再议"}, "admin").status_code == 409
