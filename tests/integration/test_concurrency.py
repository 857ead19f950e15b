"""Read-modify-writes that two people can do at once: one wins, the others get 409 -- on
PostgreSQL (row locks, several writers) exactly as on SQLite (one writer). Each race goes through
the real API from several threads released together."""
from __future__ import annotations

import threading
from typing import Any, Callable

import pytest
from sqlalchemy import func, select

from node.persistence.models import Evaluation, Extension, Rectification
from tests.support import ID_NUMBER, Client

pytestmark = pytest.mark.integration


def race(app: Any, calls: list[Callable[[Client], Any]]) -> list[int]:
    """Run ``calls`` at once, each with its own client; their status codes, in order."""
    clients = [Client(app.test_client()) for _ in calls]
    gate = threading.Barrier(len(calls))
    out: list[int] = [0] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            gate.wait()
            out[i] = calls[i](clients[i]).status_code
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return out


def warm(api: Client, *users: str) -> Callable[[Client], Client]:
    """Tokens signed in once, shared by the racing clients (sign-in is not what races)."""
    for u in users:
        api.h(u)
    return lambda c: (c._tokens.update(api._tokens), c)[1]


def count(ctx: Any, stmt: Any) -> int:
    with ctx.factory() as s:
        return int(s.scalar(stmt) or 0)


def in_progress(api: Client) -> str:
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    return code


def test_concurrent_extension_requests_leave_one_pending(api, app, ctx):
    code = in_progress(api)
    share = warm(api, "cgj-handler", "cgj-reviewer", "cgj-chief", "cgj-approver", "cgj-handler-b")
    users = ["cgj-handler", "cgj-reviewer", "cgj-chief", "cgj-approver", "cgj-handler-b"]
    codes = race(app, [lambda c, u=u: share(c).post(f"/api/v1/cases/{code}/extensions",
                                                     {"days": 3, "reason": "需现场踏勘"}, u) for u in users])
    assert sorted(codes) == [201, 409, 409, 409, 409], codes
    assert count(ctx, select(func.count()).select_from(Extension).where(Extension.status == "pending")) == 1


def test_approving_and_rejecting_one_extension_at_once(api, app, ctx):
    code = in_progress(api)
    r = api.post(f"/api/v1/cases/{code}/extensions", {"days": 5, "reason": "需补充专家论证"}, "cgj-handler")
    assert r.status_code == 201
    ext = r.json["id"]
    before = api.case(code)["promised_deadline"]
    share = warm(api, "cgj-approver", "cgj-chief")
    url = f"/api/v1/cases/{code}/extensions/{ext}/decision"
    codes = race(app, [lambda c: share(c).post(url, {"approve": True}, "cgj-approver"),
                       lambda c: share(c).post(url, {"approve": False, "note": "不予延期"}, "cgj-chief")])
    assert sorted(codes) == [200, 409], codes
    with ctx.factory() as s:
        status = s.get(Extension, ext).status
    approved = codes[0] == 200
    assert status == ("approved" if approved else "rejected")
    after = api.case(code)
    assert (after["promised_deadline"] != before) == approved and after["extended_days"] == (5 if approved else 0)


def concluded_and_rated_badly(api: Client) -> str:
    code = api.apply_online()
    api.to_conclusion(code)
    r = api.post(f"/api/v1/public/cases/{code}/evaluation", {"id_last4": ID_NUMBER[-4:], "score": 1,
                                                             "comment": "太慢"})
    assert r.status_code == 201, r.json
    return code


def test_two_closes_of_one_rectification(api, app, ctx):
    concluded_and_rated_badly(api)
    (rect,) = api.get("/api/v1/rectifications?status=open", "cgj-chief").json
    share = warm(api, "cgj-chief", "admin")
    url = f"/api/v1/rectifications/{rect['id']}/close"
    codes = race(app, [lambda c: share(c).post(url, {"note": "已约谈承办人"}, "cgj-chief"),
                       lambda c: share(c).post(url, {"note": "已整改"}, "admin")])
    assert sorted(codes) == [200, 409], codes
    with ctx.factory() as s:
        r = s.get(Rectification, rect["id"])
        assert r.status == "closed" and r.note == ("已约谈承办人" if codes[0] == 200 else "已整改")


def test_two_ratings_of_one_case(api, app, ctx):
    code = api.apply_online()
    api.to_conclusion(code)
    url = f"/api/v1/public/cases/{code}/evaluation"
    codes = race(app, [lambda c, s=s: c.post(url, {"id_last4": ID_NUMBER[-4:], "score": s}) for s in (5, 1, 3)])
    assert sorted(codes) == [201, 409, 409], codes
    assert count(ctx, select(func.count()).select_from(Evaluation)) == 1


def test_the_same_transition_twice_at_once(api, app, ctx):
    code = in_progress(api)
    share = warm(api, "cgj-handler", "cgj-handler-b")
    url = f"/api/v1/cases/{code}/transitions"
    version = api.case(code)["version"]  # both saw the same case
    codes = race(app, [lambda c, u=u: share(c).post(url, {"event": "undertake", "opinion": "同意", "version": version}, u)
                       for u in ("cgj-handler", "cgj-handler-b")])
    assert sorted(codes) == [200, 409], codes
    hist = [t["event"] for t in api.case(code)["transitions"]]
    assert hist == ["submit", "accept", "undertake"]


def test_two_handlers_claim_one_case_at_once(api, app, ctx):
    code = in_progress(api)
    share = warm(api, "cgj-handler", "cgj-handler-b")
    url = f"/api/v1/cases/{code}/claim"
    codes = race(app, [lambda c, u=u: share(c).post(url, {}, u) for u in ("cgj-handler", "cgj-handler-b")])
    assert sorted(codes) == [200, 409], codes
    me = {u: api.get("/api/v1/auth/me", u).json["id"] for u in ("cgj-handler", "cgj-handler-b")}
    winner = "cgj-handler" if codes[0] == 200 else "cgj-handler-b"
    assert api.case(code)["assignee_id"] == me[winner]
