"""Staff sign-in cannot be guessed at, and staff passwords cannot be trivial.

Wrong passwords count against the account (as typed, whether or not it exists) and against the
client; five lock the account, twenty the client (423, Retry-After); attempts are throttled
per account and per client (429); failures are audited. A new or changed password is refused
when it is short, contains the user name, repeats one character, is a run, or is common.
"""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from node.domain.errors import InvalidInput
from node.persistence.models import ApiToken, AuditEntry, Staff
from node.services import org
from node.services.context import SYSTEM
from tests.support import DEMO_PASSWORD
from tests.integration.test_lookup_throttling import assert_locked, node

pytestmark = pytest.mark.integration


def sign_in(api: Any, username: str, password: str, client: str = "198.51.100.20") -> Any:
    return api.c.post("/api/v1/auth/token", json={"username": username, "password": password},
                      environ_base={"REMOTE_ADDR": client})


def test_repeated_wrong_passwords_lock_the_account_for_a_while(api, ctx, clock):  # type: ignore[no-untyped-def]
    statuses = [sign_in(api, "clerk", f"guess-{i}").status_code for i in range(7)]
    assert statuses == [401] * 5 + [423] * 2, statuses
    r = sign_in(api, "clerk", DEMO_PASSWORD)
    assert_locked(r, field="username")  # the right password does not get through the lock
    assert "账号" in r.json["message"] and "this account" in r.json["message"]
    assert sign_in(api, "admin", DEMO_PASSWORD).status_code == 201  # other accounts are not locked
    clock.advance(minutes=16)
    assert sign_in(api, "clerk", DEMO_PASSWORD).status_code == 201
    ctx.link_now()
    with ctx.factory() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.table_name == "access_failures",
                                                       AuditEntry.op == "signin")))
    assert len(rows) == 5 and all(b"clerk" in r.payload and b"guess-" not in r.payload for r in rows)


def test_an_unknown_account_answers_and_locks_like_a_known_one(api):  # type: ignore[no-untyped-def]
    a, b = sign_in(api, "clerk", "wrong-one"), sign_in(api, "nobody-here", "wrong-one")
    assert (a.status_code, a.get_data()) == (b.status_code, b.get_data()) and a.status_code == 401
    for _ in range(4):
        sign_in(api, "clerk", "wrong-one"), sign_in(api, "nobody-here", "wrong-one")
    a, b = sign_in(api, "clerk", "wrong-one"), sign_in(api, "nobody-here", "wrong-one")
    assert a.status_code == b.status_code == 423
    assert a.json["errors"] == b.json["errors"] and a.json["message"] == b.json["message"]


def test_a_good_sign_in_starts_the_accounts_count_again(api):  # type: ignore[no-untyped-def]
    for _ in range(4):
        assert sign_in(api, "inspector", "nope-nope").status_code == 401
    assert sign_in(api, "inspector", DEMO_PASSWORD).status_code == 201
    for _ in range(4):
        assert sign_in(api, "inspector", "nope-nope").status_code == 401
    assert sign_in(api, "inspector", DEMO_PASSWORD).status_code == 201


def test_a_client_guessing_at_many_accounts_is_locked(ctx, clock, tmp_path):  # type: ignore[no-untyped-def]
    api, _ = node(str(ctx.settings.database_url), tmp_path, clock, lock_client_after=6)
    for i in range(6):
        assert sign_in(api, f"user{i}", "password-guess").status_code == 401
    r = sign_in(api, "admin", DEMO_PASSWORD)
    assert_locked(r, field="username")
    assert "网络地址" in r.json["message"]
    assert sign_in(api, "admin", DEMO_PASSWORD, client="203.0.113.5").status_code == 201


def test_sign_in_attempts_are_throttled_per_account_and_per_client(ctx, clock, tmp_path):  # type: ignore[no-untyped-def]
    api, _ = node(str(ctx.settings.database_url), tmp_path, clock, signin_account_limit="3/minute",
                  lock_after=1000)
    got = [sign_in(api, "clerk", DEMO_PASSWORD, client=f"192.0.2.{i}").status_code for i in range(4)]
    assert got == [201, 201, 201, 429]
    r = sign_in(api, "clerk", DEMO_PASSWORD, client="192.0.2.99")
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 60
    assert r.json["errors"] == {"json": {"username": [r.json["message"]]}} and "登录" in r.json["message"]
    api2, _ = node(str(ctx.settings.database_url), tmp_path, clock, signin_limit="2/minute", lock_client_after=1000)
    assert [sign_in(api2, u, DEMO_PASSWORD).status_code for u in ("admin", "inspector", "clerk")] == [201, 201, 429]


WEAK = [
    ("short-1", "8 到 256 个字符"),
    ("kq-clerk", "用户名"),  # the user name is kq-clerk
    ("my-kq-clerk-2026", "用户名"),
    ("aaaaaaaaaa", "重复"),
    ("abcdefghij", "连续"),
    ("98765432", "连续"),
    ("password1", "容易被猜到"),
    ("qwertyuiop", "容易被猜到"),
    ("1qaz2wsx3edc", "容易被猜到"),
    ("iloveyou2026", "容易被猜到"),
]


@pytest.mark.parametrize(("password", "why"), WEAK)
def test_weak_passwords_are_refused_naming_the_field_and_the_reason(api, password, why):  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/staff", {"username": "kq-clerk", "name": "李四", "password": password, "role": "clerk",
                                   "department_id": 1}, "admin")
    assert r.status_code == 422, r.json
    assert list(r.json["errors"]["json"]) == ["password"] and why in r.json["message"]
    assert " / " in r.json["message"]  # and in English


def test_a_strong_password_is_accepted_and_a_change_follows_the_same_policy(api, ctx):  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/staff", {"username": "kq-clerk", "name": "李四", "password": "Lantern-river-1987!",
                                   "role": "clerk", "department_id": 1}, "admin")
    assert r.status_code == 201, r.json
    assert sign_in(api, "kq-clerk", "Lantern-river-1987!").status_code == 201
    with pytest.raises(InvalidInput) as e:
        ctx.run(SYSTEM, org.set_password, "kq-clerk", "kq-clerk-1")
    assert e.value.field == "password"
    ctx.run(SYSTEM, org.set_password, "kq-clerk", "Copper-kettle-whistles-9")
    with ctx.factory() as s:
        staff_id = s.scalar(select(Staff.id).where(Staff.username == "kq-clerk"))
        assert s.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.staff_id == staff_id)) == 0
    assert sign_in(api, "kq-clerk", "Lantern-river-1987!").status_code == 401
    assert sign_in(api, "kq-clerk", "Copper-kettle-whistles-9").status_code == 201
