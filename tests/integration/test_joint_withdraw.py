"""Withdrawing a joint case (撤回): every part not yet concluded is withdrawn with it in one unit of
work, a part already concluded keeps its result, one notification; a part is never withdrawn
alone; a remote part is withdrawn by its owner (``part_withdraw``) through its own state machine;
a withdrawal racing the last part's conclusion on PostgreSQL: one wins, the other gets 409."""
from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from node.persistence.models import Case, CasePart
from node.services.addressed import send_message
from node.services.context import SYSTEM
from tests.integration.test_federation_grpc import county_api
from tests.integration.test_joint_cases import (
    PART_DEPTS,
    accept_bundle,
    notes,
    part_codes,
)
from tests.integration.test_linked_parts import (  # noqa: F401 - the fed fixture
    CITY,
    DISTRICT,
    accept,
    fed,
    linked_cases,
    publish_linked,
    remote_row,
    sent,
    sync,
)
from tests.support import ID_NUMBER, run_part

LAST4 = ID_NUMBER[-4:]


def withdraw(api: Any, code: str, expect: int = 200) -> Any:
    r = api.post(f"/api/v1/public/cases/{code}/withdrawal", {"id_last4": LAST4, "reason": "项目取消"})
    assert r.status_code == expect, r.json
    return r.json


def parts_of(ctx: Any, joint_code: str) -> list[tuple[int, str, str | None]]:
    with ctx.factory() as s:
        jid = s.scalar(select(Case.id).where(Case.code == joint_code))
        return [(r.part_no, r.status, r.result) for r in
                s.scalars(select(CasePart).where(CasePart.joint_case_id == jid).order_by(CasePart.part_no))]


def test_withdrawing_the_joint_case_withdraws_the_open_parts_and_keeps_the_concluded(api, ctx):
    j = accept_bundle(api)
    cgj, scjg, jj, gh = part_codes(j)
    run_part(api, cgj, "cgj")  # approved
    run_part(api, scjg, "scjg", deny=True)  # denied
    api.fire(jj, "undertake", "jj-handler", opinion="符合条件")
    api.fire(gh, "request_supplement", "gh-handler", reason="缺位置图",
             missing=[{"material_code": "site-plan", "name": "位置图"}])
    # a part is not withdrawn alone (by the applicant, with the right second factor): 409, nothing changed
    before = parts_of(ctx, j["code"])
    r = withdraw(api, jj, expect=409)
    assert "withdraw the joint case" in r["message"] and j["code"] in r["message"], r
    assert parts_of(ctx, j["code"]) == before and api.case(jj)["status"] == "in_progress"
    assert "withdraw" not in api.case(jj, "jj-handler")["allowed_events"]
    assert api.case(j["code"])["allowed_events"] == ["withdraw"]

    pub = withdraw(api, j["code"])
    assert pub["status"] == "withdrawn"
    done = api.case(j["code"])
    assert done["status"] == "withdrawn" and done["result"] is None
    assert parts_of(ctx, j["code"]) == [(1, "concluded", "approved"), (2, "concluded", "denied"),
                                        (3, "withdrawn", None), (4, "withdrawn", None)]
    assert [p["status"] for p in done["joint"]["parts"]] == ["concluded", "concluded", "withdrawn", "withdrawn"]
    assert api.case(jj)["status"] == "withdrawn" and api.case(gh)["status"] == "withdrawn"
    assert api.case(cgj)["result"] == "approved"  # a withdrawal is not a revocation
    # one notification for the joint case (saying which results stand), none per part
    ns = notes(ctx, j["code"])
    assert [n.template for n in ns] == ["submitted", "accepted", "joint_withdrawn"]
    assert "准予许可" in ns[-1].body and "不予许可" in ns[-1].body, ns[-1].body
    assert all(notes(ctx, c) == [] for c in (cgj, scjg, jj))
    assert [n.template for n in notes(ctx, gh)] == ["supplement"]  # only what the applicant had to act on
    # the timeline shows each part's withdrawal; nothing moves any more
    assert sum(s["event"] == "withdraw" for s in done["joint"]["timeline"]) == 3
    withdraw(api, j["code"], expect=409)
    api.fire(jj, "review", "jj-reviewer", expect=409)


def test_a_concluded_joint_case_is_not_withdrawn(api, ctx):
    j = accept_bundle(api)
    for code, dept in zip(part_codes(j), PART_DEPTS):
        run_part(api, code, dept)
    assert api.case(j["code"])["status"] == "concluded"
    withdraw(api, j["code"], expect=409)
    assert api.case(j["code"])["result"] == "approved"


def test_a_remote_part_is_withdrawn_by_its_owner_and_reported_back(fed):  # type: ignore[no-untyped-def]  # noqa: F811
    publish_linked(fed)
    district, city = county_api(fed, DISTRICT), county_api(fed, CITY)
    j = accept(district)
    sync(fed, DISTRICT, rounds=2)  # dispatched, accepted at the city, progress back
    [lc] = linked_cases(fed)
    assert lc.status == "in_progress"
    # the linked case at the city is a part too: its applicant cannot withdraw it there alone
    r = city.post(f"/api/v1/public/cases/{lc.code}/withdrawal", {"id_last4": LAST4})
    assert r.status_code == 409, r.json
    withdraw(district, j["code"])
    view = district.case(j["code"])
    assert view["status"] == "withdrawn"
    local, remote = view["joint"]["parts"]
    assert local["status"] == "withdrawn"
    assert remote["status"] == "in_progress"  # until the owner reports its withdrawal
    assert sent(fed, DISTRICT, "part_withdraw") == [("sent", None)]
    sync(fed, DISTRICT, rounds=2)  # up: the city withdraws its case; down: the ack and the result
    [lc] = linked_cases(fed)
    assert lc.status == "withdrawn"
    assert city.case(lc.code, "gh-handler")["transitions"][-1]["event"] == "withdraw"  # its own state machine
    assert sent(fed, DISTRICT, "part_withdraw") == [("acked", None)]
    assert sent(fed, CITY, "part_result")[-1] == ("acked", None)
    row = remote_row(fed, j["code"])
    assert row.status == "withdrawn" and row.result is None and row.remote_info["event"] == "withdraw"
    assert district.case(j["code"])["status"] == "withdrawn"
    # a second withdrawal request for the ended part changes nothing there
    fed.ctxs[DISTRICT].run(SYSTEM, send_message, CITY, "part_withdraw", {"reason": "x"}, subject=j["code"], part=2)
    sync(fed, DISTRICT, rounds=2)
    assert sent(fed, DISTRICT, "part_withdraw")[-1] == ("acked", None)
    [lc] = linked_cases(fed)
    steps = city.case(lc.code, "gh-handler")["transitions"]
    assert lc.status == "withdrawn" and sum(t["event"] == "withdraw" for t in steps) == 1


def test_a_withdrawal_racing_the_last_part_conclusion_one_wins(pg_url, tmp_path, clock):
    """PostgreSQL: the applicant withdraws while the clerk concludes the last open part. Both lock
    the part before the joint case, so one waits for the other: exactly one succeeds, the other
    gets 409, and the joint case agrees with its parts."""
    from node.api import create_app
    from node.config import Settings
    from node.domain.errors import Conflict, IllegalTransition
    from node.domain.lifecycle import Actor, Event
    from node.domain.roles import Role
    from node.persistence.models import Staff
    from node.services import cases, public
    from node.services.context import NodeContext
    from tests.support import Client

    ctx = NodeContext.build(Settings.from_env({}, database_url=pg_url, data_dir=tmp_path / "d",
                                              token_ttl_hours=24 * 365), clock=clock.now)
    ctx.dispatch_notifications = lambda ids: None
    winners: dict[str, int] = {"withdraw": 0, "conclude": 0}
    try:
        api = Client(create_app(ctx=ctx).test_client())
        with ctx.factory() as s:
            clerk = Actor("staff", s.scalar(select(Staff.id).where(Staff.username == "clerk")), Role.CLERK)
        applicant = Actor("applicant")
        for _ in range(4):
            j = accept_bundle(api)
            codes = part_codes(j)
            for code, dept in zip(codes[:3], PART_DEPTS[:3]):
                run_part(api, code, dept)
            api.fire(codes[3], "undertake", "gh-handler", opinion="ok")
            api.fire(codes[3], "review", "gh-reviewer")
            api.fire(codes[3], "approve", "gh-approver")
            start = threading.Barrier(2)
            outcome: dict[str, str] = {}

            def run(name: str, fn: Any, start: Any = start, outcome: dict[str, str] = outcome) -> None:
                start.wait()
                try:
                    fn()
                    outcome[name] = "ok"
                except (Conflict, IllegalTransition) as e:
                    assert e.status == 409
                    outcome[name] = "409"
                except BaseException as e:  # noqa: BLE001
                    outcome[name] = repr(e)

            threads = [
                threading.Thread(target=run, args=("conclude", lambda last=codes[3]: ctx.run(
                    clerk, cases.transition_case, last, Event.CONCLUDE, None))),
                threading.Thread(target=run, args=("withdraw", lambda code=j["code"]: ctx.run(
                    applicant, public.applicant_transition, code, LAST4, Event.WITHDRAW, reason="取消"))),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(outcome.values()) == ["409", "ok"], outcome
            won = next(k for k, v in outcome.items() if v == "ok")
            winners[won] += 1
            done = api.case(j["code"])
            rows = parts_of(ctx, j["code"])
            if won == "conclude":
                assert done["status"] == "concluded" and done["result"] == "approved"
                assert rows == [(n, "concluded", "approved") for n in (1, 2, 3, 4)]
                assert [n.template for n in notes(ctx, j["code"])][-1] == "joint_concluded"
            else:
                assert done["status"] == "withdrawn"
                assert rows == [(1, "concluded", "approved"), (2, "concluded", "approved"),
                                (3, "concluded", "approved"), (4, "withdrawn", None)]
                assert api.case(codes[3])["status"] == "withdrawn"
                assert [n.template for n in notes(ctx, j["code"])][-1] == "joint_withdrawn"
            templates = [n.template for n in notes(ctx, j["code"])]
            assert templates.count("joint_concluded") + templates.count("joint_withdrawn") == 1
    finally:
        ctx.engine.dispose()
    assert sum(winners.values()) == 4
