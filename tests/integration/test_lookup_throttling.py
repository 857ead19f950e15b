"""The public lookup's second factor (the ID number's last 4 characters) cannot be guessed.

What an attacker did: 1,022 requests in 13 s found the tail of a known code. Now each wrong
tail counts against the code and the client; five lock the code (423, Retry-After) in the
database — for every app instance sharing it —, the requests themselves are throttled (429) per
client and per code (in Redis when the broker is Redis), failures are audited, and an unknown
code answers exactly like a wrong tail. The tail travels only in a POST body.
"""
from __future__ import annotations

import os
import statistics
import time
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from node.api import create_app
from node.config import Settings
from node.domain import servicecode
from node.persistence.models import AccessLock, AuditEntry
from node.services.context import NodeContext
from tests.support import ID_NUMBER, Client

pytestmark = pytest.mark.integration

RIGHT = ID_NUMBER[-4:]
REDIS = os.environ.get("YIWANG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def node(db_url: str, tmp_path: Any, clock: Any, **settings: Any) -> tuple[Client, NodeContext]:
    """An app instance of the node whose database is ``db_url`` (several may share it)."""
    s = Settings.from_env({}, database_url=db_url, data_dir=tmp_path / "data", token_ttl_hours=24 * 365,
                          **settings)
    ctx = NodeContext.build(s, clock=clock.now)
    ctx.dispatch_notifications = lambda ids: None
    return Client(create_app(ctx=ctx).test_client()), ctx


def lookup(api: Client, code: str, tail: str, client: str = "198.51.100.7") -> Any:
    return api.c.post(f"/api/v1/public/cases/{code}/lookup", json={"id_last4": tail},
                      environ_base={"REMOTE_ADDR": client})


def wrong_tails() -> list[str]:
    return [f"{i:04d}" for i in range(10000) if f"{i:04d}" != RIGHT]


def unknown_code() -> str:
    return servicecode.make_code("330105", date(2026, 3, 2), servicecode.random_part())


def assert_locked(r: Any, field: str = "code") -> None:
    assert r.status_code == 423, (r.status_code, r.json)
    assert int(r.headers["Retry-After"]) > 0
    assert r.json["errors"]["json"] == {field: [r.json["message"]]}
    assert "锁定" in r.json["message"] and "locked" in r.json["message"]


def test_a_brute_force_of_the_id_tail_is_stopped_locked_and_audited(api, ctx, clock):  # type: ignore[no-untyped-def]
    code = api.apply_online()
    answers = [lookup(api, code, t) for t in wrong_tails()[:7]]
    statuses = [r.status_code for r in answers]
    assert statuses[:5] == [404] * 5 and set(statuses[5:]) == {423}, statuses
    assert_locked(answers[5])
    assert 14 * 60 < int(answers[5].headers["Retry-After"]) <= 15 * 60 + 1
    # the right tail does not get through the lock either: the lock is not an oracle
    assert_locked(lookup(api, code, RIGHT))
    clock.advance(minutes=16)
    r = lookup(api, code, RIGHT)
    assert r.status_code == 200 and r.json["code"] == code
    ctx.link_now()
    with ctx.factory() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.table_name == "access_failures")))
    assert len(rows) == 5  # every counted failure is in the audit chain, the locked ones were never tried
    payload = rows[-1].payload.decode()
    assert code in payload and "198.51.100.7" in payload and '"locked":["code"]' in payload
    assert all(t not in r.payload.decode() for r in rows for t in wrong_tails()[:5])  # guesses are not stored


def test_an_unknown_code_and_a_wrong_tail_answer_alike(app, ctx, clock, tmp_path):  # type: ignore[no-untyped-def]
    api, _ = node(str(ctx.settings.database_url), tmp_path, clock, lookup_limit="1000/minute",
                  lookup_code_limit="1000/minute", lock_client_after=1000)
    real = [api.apply_online() for _ in range(6)]
    fake = [unknown_code() for _ in range(6)]
    t_real, t_fake = [], []
    for c_real, c_fake in zip(real, fake):
        for codes, times in ((c_real, t_real), (c_fake, t_fake)):
            start = time.perf_counter()
            r = lookup(api, codes, "0000")
            times.append(time.perf_counter() - start)
            assert r.status_code == 404
    a, b = lookup(api, real[0], "1111"), lookup(api, fake[0], "1111")
    assert (a.status_code, a.get_data()) == (b.status_code, b.get_data())
    assert a.json["errors"] == {"json": {"code": ["no case with this code and ID number"]}}
    assert {k: v for k, v in a.headers if k != "Date"} == {k: v for k, v in b.headers if k != "Date"}
    # both are counted and locked alike, so a lock does not tell that a code exists
    for _ in range(3):
        lookup(api, real[0], "2222"), lookup(api, fake[0], "2222")
    a, b = lookup(api, real[0], RIGHT), lookup(api, fake[0], RIGHT)
    assert a.status_code == b.status_code == 423
    assert a.json["errors"] == b.json["errors"] and a.json["message"] == b.json["message"]
    ratio = statistics.median(t_real) / statistics.median(t_fake)
    assert 1 / 3 < ratio < 3, (t_real, t_fake)  # same writes either way: no fast path for unknown codes


def test_a_right_tail_still_works_for_another_code_while_one_is_locked(api):  # type: ignore[no-untyped-def]
    locked, other = api.apply_online(), api.apply_online()
    for t in wrong_tails()[:5]:
        lookup(api, locked, t)
    assert_locked(lookup(api, locked, RIGHT))
    r = lookup(api, other, RIGHT)
    assert r.status_code == 200 and r.json["code"] == other
    assert_locked(lookup(api, locked, RIGHT, client="203.0.113.9"))  # the code is locked, whoever asks


def test_wrong_tails_at_supply_withdrawal_and_rating_count_towards_the_same_lock(api):  # type: ignore[no-untyped-def]
    code = api.apply_online()
    base = f"/api/v1/public/cases/{code}"
    attempts = [("/withdrawal", {"reason": "x"}), ("/evaluation", {"score": 5}), ("/supply", {"materials": [
        {"material_code": "id", "upload_id": api.upload()}]}), ("/withdrawal", {}), ("/lookup", {})]
    for (path, body), tail in zip(attempts, wrong_tails()):
        r = api.c.post(base + path, json={"id_last4": tail, **body})
        assert r.status_code == 404, (path, r.json)
    assert_locked(api.c.post(base + "/withdrawal", json={"id_last4": RIGHT}))
    assert_locked(lookup(api, code, RIGHT))
    assert api.case(code)["status"] == "submitted"  # nothing was withdrawn


def test_the_tail_travels_only_in_a_post_body(api):  # type: ignore[no-untyped-def]
    code = api.apply_online()
    assert api.c.get(f"/api/v1/public/cases/{code}?id_last4={RIGHT}").status_code in (404, 405)
    r = api.c.post(f"/api/v1/public/cases/{code}/lookup?id_last4={RIGHT}", json={"id_last4": RIGHT})
    assert r.status_code == 422 and r.json["errors"] == {"query": {"id_last4": [r.json["message"]]}}
    r = api.c.post(f"/api/v1/public/cases/{code}/withdrawal?id_last4={RIGHT}", json={"id_last4": RIGHT})
    assert r.status_code == 422 and "id_last4" in r.json["errors"]["query"]
    assert api.case(code)["status"] == "submitted"
    spec = api.c.get("/api/openapi.json").json
    ops = spec["paths"]["/api/v1/public/cases/{code}/lookup"]
    assert set(ops) - {"parameters"} == {"post"} and {"423", "429"} <= set(ops["post"]["responses"])
    assert not any(p.get("name") == "id_last4" for path in spec["paths"].values() for op in path.values()
                   if isinstance(op, dict) for p in op.get("parameters", []))


def test_requests_are_throttled_per_client_and_per_code(ctx, clock, tmp_path):  # type: ignore[no-untyped-def]
    api, _ = node(str(ctx.settings.database_url), tmp_path, clock, lookup_limit="3/minute",
                  lookup_code_limit="1000/minute", lock_client_after=1000)
    code = api.apply_online()
    for _ in range(3):
        assert lookup(api, code, RIGHT).status_code == 200
    r = lookup(api, code, RIGHT)
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
    assert r.json["errors"] == {"json": {"code": [r.json["message"]]}}
    assert "频繁" in r.json["message"] and "too many" in r.json["message"]
    assert lookup(api, code, RIGHT, client="203.0.113.50").status_code == 200  # another client is not slowed

    api2, _ = node(str(ctx.settings.database_url), tmp_path, clock, lookup_limit="1000/minute",
                   lookup_code_limit="2/minute", lock_after=1000)
    other = api2.apply_online()
    assert [lookup(api2, other, "0000", client=f"192.0.2.{i}").status_code for i in range(4)] == [404, 404, 429, 429]


def test_a_client_guessing_at_many_codes_is_locked(ctx, clock, tmp_path):  # type: ignore[no-untyped-def]
    api, _ = node(str(ctx.settings.database_url), tmp_path, clock, lock_client_after=4)
    mine = api.apply_online()
    for _ in range(4):
        assert lookup(api, unknown_code(), "0000").status_code == 404
    assert_locked(lookup(api, mine, RIGHT))  # this client is locked, for every code
    assert lookup(api, mine, RIGHT, client="203.0.113.77").status_code == 200


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS).ping()
    except redis.RedisError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but Redis is not reachable at {REDIS}: {e}")
        pytest.skip(f"Redis not reachable at {REDIS}: {e}")
    return REDIS


def test_the_lock_and_the_throttle_hold_across_app_instances(ctx, clock, tmp_path, redis_url):  # type: ignore[no-untyped-def]
    """Two app instances (two gunicorn workers, two replicas) on one database and one Redis: the
    lock is a row both read; the throttle's count is in Redis; a third built later (a restart)
    still sees the lock."""
    url = str(ctx.settings.database_url)
    a, _ = node(url, tmp_path, clock, broker_url=redis_url)
    b, _ = node(url, tmp_path, clock, broker_url=redis_url)
    code = a.apply_online()
    tails = wrong_tails()
    assert [lookup(x, code, t).status_code for x, t in zip((a, b, a, b, a), tails)] == [404] * 5
    assert_locked(lookup(b, code, RIGHT))
    assert_locked(lookup(a, code, RIGHT))
    restarted, _ = node(url, tmp_path, clock, broker_url=redis_url)
    assert_locked(lookup(restarted, code, RIGHT))
    with ctx.factory() as s:
        assert s.get(AccessLock, ("code", code)).locked_until is not None

    c, _ = node(url, tmp_path, clock, broker_url=redis_url, lookup_code_limit="4/minute")
    d, _ = node(url, tmp_path, clock, broker_url=redis_url, lookup_code_limit="4/minute")
    other = c.apply_online()  # the count of requests per code is shared through Redis
    assert [lookup(x, other, RIGHT, client=f"192.0.2.{i}").status_code
            for i, x in enumerate((c, d, c, d, c, d))] == [200, 200, 200, 200, 429, 429]


def test_the_track_page_is_behind_the_same_lock(api):  # type: ignore[no-untyped-def]
    code = api.apply_online()
    for t in wrong_tails()[:3]:
        r = api.c.post("/track", data={"code": code, "id_last4": t}, environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert r.status_code == 404 and "未查到" in r.get_data(as_text=True)
    for t in wrong_tails()[3:5]:  # the API and the page count together
        assert lookup(api, code, t).status_code == 404
    r = api.c.post("/track", data={"code": code, "id_last4": RIGHT}, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert r.status_code == 423 and int(r.headers["Retry-After"]) > 0
    page = r.get_data(as_text=True)
    assert "锁定" in page and "分钟后再试" in page and "张*明" not in page
