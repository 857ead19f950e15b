"""Issue 10, item 11: the smaller holes, each tried the way a user or an attacker would, on SQLite
and PostgreSQL where a database is involved."""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from node.persistence.models import Case, Staff
from node.services import org, public
from node.services.context import SYSTEM
from tests.support import ID_NUMBER, SIGN_ITEM

pytestmark = pytest.mark.integration

STRONG = "Vq7!pasture-lantern"


def sign_in(api, username: str, password: str = STRONG) -> str:  # type: ignore[no-untyped-def]
    r = api.c.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 201, r.json
    api._tokens[username] = r.json["token"]
    return username


def staff_id(ctx, username: str) -> int:  # type: ignore[no-untyped-def]
    with ctx.factory() as s:
        return s.scalar(select(Staff.id).where(Staff.username == username))


# --- 1. rectifications: each reader sees only what concerns them -----------------------------

def _rated_badly(api, ctx, user: str | None) -> str:  # type: ignore[no-untyped-def]
    """A shop-sign case (城管办) submitted by ``user`` (None: online), concluded, rated 1."""
    if user is None:
        code = api.apply_online()
    else:
        r = api.post("/api/v1/cases", {"item_code": SIGN_ITEM, "materials": api.sign_materials(),
                                       "applicant": {"name": "周村民", "id_number": ID_NUMBER}}, user)
        assert r.status_code == 201, r.json
        code = r.json["code"]
    api.to_conclusion(code)
    ctx.run(None, public.evaluate_case, code, ID_NUMBER[-4:], 1, "态度差")
    return code


def test_each_role_lists_only_the_rectifications_that_concern_it(api, ctx):
    r = api.post("/api/v1/departments", {"code": "xc-bm", "name": "小河街道便民服务中心", "kind": "service_point"},
                 "admin")
    assert r.status_code == 201, r.json
    for username, point in (("agent-xc", r.json["id"]), ("agent-idle", None)):
        if point is None:
            point = api.post("/api/v1/departments", {"code": "hd-bm", "name": "湖墅街道便民服务中心",
                                                     "kind": "service_point"}, "admin").json["id"]
        r = api.post("/api/v1/staff", {"username": username, "name": "代办员", "password": STRONG, "role": "agent",
                                       "department_id": point}, "admin")
        assert r.status_code == 201, r.json
        sign_in(api, username)
    by_kq, by_xc, online = (_rated_badly(api, ctx, u) for u in ("agent-kq", "agent-xc", None))

    def seen(user: str) -> set[str]:
        r = api.get("/api/v1/rectifications", user)
        assert r.status_code == 200, r.json
        with ctx.factory() as s:
            codes = dict(s.execute(select(Case.id, Case.code)).tuples().all())
        return {codes[x["case_id"]] for x in r.json}

    everything = {by_kq, by_xc, online}
    for user in ("admin", "inspector", "clerk", "cgj-chief", "cgj-handler", "cgj-reviewer", "cgj-approver"):
        assert seen(user) == everything, user
    for user in ("jj-chief", "scjg-handler", "gh-approver"):
        assert seen(user) == set(), user
    assert seen("agent-kq") == {by_kq}
    assert seen("agent-xc") == {by_xc}
    assert seen("agent-idle") == set()
    assert api.get("/api/v1/rectifications").status_code == 401
    # the agent cannot close one either, not even its own point's
    (mine,) = api.get("/api/v1/rectifications", "agent-kq").json
    r = api.post(f"/api/v1/rectifications/{mine['id']}/close", {"note": "已处理"}, "agent-kq")
    assert r.status_code == 403 and "role" in r.json["errors"]["json"]


# --- 2. an admin cannot lock themselves (or the hall) out ------------------------------------

def test_admin_cannot_deactivate_own_account_nor_the_last_admin(api, ctx):
    me = staff_id(ctx, "admin")
    r = api.patch(f"/api/v1/staff/{me}", {"active": False}, "admin")
    assert r.status_code == 409, r.json
    assert "own account" in r.json["errors"]["json"]["active"][0]
    assert api.get("/api/v1/auth/me", "admin").status_code == 200  # still active, nothing written

    r = api.post("/api/v1/staff", {"username": "admin2", "name": "第二管理员", "password": STRONG, "role": "admin"},
                 "admin")
    assert r.status_code == 201, r.json
    second = r.json["id"]
    sign_in(api, "admin2")
    assert api.patch(f"/api/v1/staff/{me}", {"active": False}, "admin2").status_code == 200
    # admin2 is now the only active admin: it cannot end itself, and nobody (not even the node's
    # own command line, acting as the system) deactivates the last admin
    r = api.patch(f"/api/v1/staff/{second}", {"active": False}, "admin2")
    assert r.status_code == 409 and "active" in r.json["errors"]["json"]
    from node.domain.errors import Conflict
    with pytest.raises(Conflict, match="last active hall admin"):
        ctx.run(SYSTEM, org.update_staff, second, active=False)
    with ctx.factory() as s:
        assert s.get(Staff, second).active
    # reactivating the first admin makes deactivating the second possible again
    assert api.patch(f"/api/v1/staff/{me}", {"active": True}, "admin2").status_code == 200
    assert api.patch(f"/api/v1/staff/{second}", {"active": False}, "admin2").status_code == 409  # own account
    assert ctx.run(SYSTEM, org.update_staff, second, active=False).active is False


def test_a_chief_cannot_deactivate_their_own_account(api, ctx):
    me = staff_id(ctx, "cgj-chief")
    r = api.patch(f"/api/v1/staff/{me}", {"active": False}, "cgj-chief")
    assert r.status_code == 409 and "own account" in r.json["errors"]["json"]["active"][0]
    assert api.patch(f"/api/v1/staff/{staff_id(ctx, 'cgj-handler-b')}", {"active": False}, "cgj-chief").status_code == 200


def test_two_admins_deactivating_each_other_at_once_leave_one_active(api, ctx):
    """Each request sees the other admin active before it writes; the lock on the active admins
    makes the second wait and then count again."""
    r = api.post("/api/v1/staff", {"username": "admin2", "name": "第二管理员", "password": STRONG, "role": "admin"},
                 "admin")
    second, first = r.json["id"], staff_id(ctx, "admin")
    sign_in(api, "admin2")
    api.h("admin")
    statuses: list[int] = []
    app = api.c.application

    def deactivate(user: str, target: int) -> None:
        c = app.test_client()
        statuses.append(c.patch(f"/api/v1/staff/{target}", json={"active": False}, headers=api.h(user)).status_code)

    ts = [threading.Thread(target=deactivate, args=a) for a in (("admin", second), ("admin2", first))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    with ctx.factory() as s:
        active = s.scalars(select(Staff.id).where(Staff.role == "admin", Staff.active.is_(True))).all()
    assert len(active) == 1
    assert sorted(statuses) in ([200, 401], [200, 409])  # the loser is refused, or was deactivated first


# --- 3. the SQLite database is private ------------------------------------------------------

def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture
def loose_umask():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)  # what most shells have: files 0644, directories 0755
    yield
    os.umask(old)


def test_db_upgrade_creates_the_database_0600_in_a_0700_data_dir(tmp_path, loose_umask):
    from node.cli import main

    data = tmp_path / "node" / "var"
    env = {"YIWANG_DATA_DIR": str(data), "DATABASE_URL": ""}
    r = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert r.exit_code == 0, r.output
    db = data / "yiwang.db"
    assert _mode(db) == 0o600 and _mode(data) == 0o700
    from node.persistence.db import make_engine

    eng = make_engine(f"sqlite:///{db}")
    with eng.begin() as c:  # a write: SQLite makes its -wal and -shm files now
        c.execute(text("CREATE TABLE t (x int)"))
        side = [p for p in (data / "yiwang.db-wal", data / "yiwang.db-shm") if p.exists()]
        assert side and all(_mode(p) == 0o600 for p in side), [(p, oct(_mode(p))) for p in side]
    eng.dispose()


def test_an_existing_world_readable_database_is_tightened_at_start(tmp_path, loose_umask):
    from node.cli import main

    data = tmp_path / "var"
    env = {"YIWANG_DATA_DIR": str(data), "DATABASE_URL": ""}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    db = data / "yiwang.db"
    for p in (db, data / "yiwang.db-wal", data / "yiwang.db-shm"):
        p.touch()
        os.chmod(p, 0o644)
    os.chmod(data, 0o755)
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    assert [_mode(p) for p in (db, data / "yiwang.db-wal", data / "yiwang.db-shm")] == [0o600] * 3
    assert _mode(data) == 0o700
    # the engine alone (what the API and the worker build) tightens it too
    os.chmod(db, 0o644)
    from node.persistence.db import make_engine

    make_engine(f"sqlite:///{db}").dispose()
    assert _mode(db) == 0o600
