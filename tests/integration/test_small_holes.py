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


# --- 4. security headers on pages, API and errors ------------------------------------------

def _csp(r) -> dict[str, str]:  # type: ignore[no-untyped-def]
    out = {}
    for part in r.headers["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_every_response_carries_the_security_headers(api):
    responses = {
        "page": api.get("/"), "item page": api.get(f"/items/{SIGN_ITEM}"), "track page": api.get("/track"),
        "missing page": api.get("/items/NOPE-0000"), "api": api.get("/api/v1/departments"),
        "api error": api.get("/api/v1/cases"), "not found": api.get("/nowhere"), "spec": api.get("/api/openapi.json"),
        "liveness": api.get("/healthz"),
    }
    for what, r in responses.items():
        assert r.headers["X-Frame-Options"] == "DENY", what
        assert r.headers["X-Content-Type-Options"] == "nosniff", what
        assert r.headers["Referrer-Policy"] in ("no-referrer", "same-origin"), what
        assert _csp(r)["frame-ancestors"] == "'none'", what
        assert "no-store" in r.headers["Cache-Control"], what
    page = _csp(responses["page"])
    assert page["default-src"] == page["script-src"] == page["style-src"] == "'self'"
    assert "'unsafe-inline'" not in responses["page"].headers["Content-Security-Policy"]
    assert _csp(responses["api"])["default-src"] == "'none'"


def test_pages_have_no_inline_style_or_script_and_their_stylesheet_is_served(api):
    """With style-src 'self' an inline <style> would be dropped by the browser: the pages link a
    stylesheet the node serves, and no page carries inline code."""
    import re

    code = api.apply_online()
    for url in ("/", f"/items/{SIGN_ITEM}", "/track", f"/track?code={code}&id_last4=002X"):
        html = api.get(url).get_data(as_text=True)
        assert not re.search(r"<style|<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=", html, re.IGNORECASE), url
        hrefs = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert hrefs, url
    css = api.get(hrefs[0])
    assert css.status_code == 200 and css.mimetype == "text/css" and b"body{" in css.data
    assert css.headers["X-Content-Type-Options"] == "nosniff"


# --- 5. liveness stays cheap; readiness asks the database and the broker ---------------------

def _closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _app(settings, clock, **overrides):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from node.api import create_app
    from node.services.context import NodeContext

    c = NodeContext.build(replace(settings, **overrides), clock=clock.now)
    c.dispatch_notifications = lambda ids: None
    return create_app(ctx=c), c


def test_readiness_is_ok_when_the_database_and_the_broker_answer(settings, clock):
    app, c = _app(settings, clock, broker_url="redis://127.0.0.1:6379/0")
    r = app.test_client().get("/readyz")
    assert r.status_code == 200, r.json
    assert r.json["status"] == "ok" and r.json["checks"] == {"database": "ok", "broker": "ok"}
    c.engine.dispose()


def test_readiness_names_a_broker_on_a_closed_port(settings, clock):
    app, c = _app(settings, clock, broker_url=f"redis://127.0.0.1:{_closed_port()}/0")
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.json["status"] == "unavailable"
    assert r.json["checks"]["database"] == "ok"
    assert "refused" in r.json["checks"]["broker"].lower(), r.json
    assert app.test_client().get("/healthz").status_code == 200  # liveness does not ask
    c.engine.dispose()


def test_readiness_gives_up_on_a_broker_that_never_answers(settings, clock):
    """A port that accepts the connection and never says a word: the check's deadline answers."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    app, c = _app(settings, clock, broker_url=f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
    try:
        t = time.monotonic()
        r = app.test_client().get("/readyz")
        took = time.monotonic() - t
        assert r.status_code == 503 and r.json["checks"]["broker"] != "ok", r.json
        assert r.json["checks"]["database"] == "ok"
        assert took < 6, took
    finally:
        silent.close()
        c.engine.dispose()


def test_readiness_names_a_broken_database_while_liveness_stays_up(settings, clock):
    """PostgreSQL: the node's database is dropped under it; SQLite: its file is overwritten."""
    app, c = _app(settings, clock)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    if settings.database_url.startswith("postgresql"):
        from tests.conftest import _pg_exec

        name = settings.database_url.rsplit("/", 1)[1]
        _pg_exec(f"DROP DATABASE {name} WITH (FORCE)")
        r = client.get("/readyz")
        assert r.status_code == 503, r.json
        assert r.json["status"] == "unavailable" and name in r.json["checks"]["database"], r.json
        assert "broker" in r.json["checks"]  # says it is not configured rather than leaving it out
    else:
        c.engine.dispose()
        path = Path(settings.database_url.split("///", 1)[1])
        for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            side.unlink(missing_ok=True)
        path.write_bytes(b"this is not a database" * 100)
        r = client.get("/readyz")
        assert r.status_code == 503 and "not a database" in r.json["checks"]["database"], r.json
    live = client.get("/healthz")
    assert live.status_code == 200 and live.json["status"] == "ok"
    c.engine.dispose()
    if settings.database_url.startswith("postgresql"):
        _pg_exec(f"CREATE DATABASE {name}")  # the fixture drops it again


# --- 6. the unified social credit code's check character ------------------------------------

def test_uscc_check_character_is_verified(api, ctx):
    from stdnum.cn import uscc

    body = "91330105MA2CXXXX0"
    good = body + uscc.calc_check_digit(body)
    wrong = body + ("0" if good[-1] != "0" else "1")
    letters = "N2330105MA2CXXXX0"  # registration authority N (agriculture): a letter, which stdnum's validate refuses
    letters += uscc.calc_check_digit(letters)

    def apply(number: str):  # type: ignore[no-untyped-def]
        return api.post("/api/v1/public/applications", {
            "item_code": SIGN_ITEM, "materials": api.sign_materials(),
            "applicant": {"name": "杭州某某餐饮有限公司", "id_type": "uscc", "id_number": number}})

    r = apply(wrong)
    assert r.status_code == 422, r.json
    assert "check character" in r.json["errors"]["json"]["applicant.id_number"][0]
    r = apply(good.lower())
    assert r.status_code == 201, r.json
    assert api.case(r.json["code"])["applicant"]["id_number"].startswith(good[:3])
    assert apply(letters).status_code == 201
    r = apply("91330105MA2CXXXXO")  # 17 characters and an O
    assert r.status_code == 422 and "18 characters" in r.json["errors"]["json"]["applicant.id_number"][0]


# --- 7. the OpenAPI document states what the server checks ---------------------------------

CODE_PATHS = ("/api/v1/cases/{code}", "/api/v1/cases/{code}/transitions", "/api/v1/cases/{code}/claim",
              "/api/v1/cases/{code}/extensions", "/api/v1/public/cases/{code}/lookup", "/api/v1/public/cases/{code}/supply",
              "/api/v1/public/cases/{code}/withdrawal", "/api/v1/public/cases/{code}/evaluation",
              "/api/v1/library/cases/{code}/detail")
UNIQUE = {("CaseCreate", "materials"): "upload_id", ("CaseCreate", "conditional_materials"): None,
          ("WindowCaseCreate", "materials"): "upload_id", ("CompletenessArgs", "materials"): "upload_id",
          ("CompletenessArgs", "conditional_materials"): None, ("CaseTransition", "materials"): "upload_id",
          ("Supply", "materials"): "upload_id", ("ItemCreate", "materials"): "code", ("LicenseCompare", "numbers"): None}


@pytest.fixture
def spec(api):  # type: ignore[no-untyped-def]
    r = api.get("/api/openapi.json")
    assert r.status_code == 200
    return r.json


def _resolve(spec, schema):  # type: ignore[no-untyped-def]
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _request_schemas(spec):  # type: ignore[no-untyped-def]
    """Every schema a request carries (bodies, query and path parameters), walked into nested ones."""
    todo: list[tuple[str, dict]] = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method == "parameters":
                continue
            for p in op.get("parameters", []) + ops.get("parameters", []):
                todo.append((f"{method} {path} {p['in']}:{p['name']}", p["schema"]))
            for media in op.get("requestBody", {}).get("content", {}).values():
                todo.append((f"{method} {path} body", media["schema"]))
    seen: set[int] = set()
    while todo:
        where, s = todo.pop()
        s = _resolve(spec, s)
        if id(s) in seen:
            continue
        seen.add(id(s))
        yield where, s
        for name, sub in s.get("properties", {}).items():
            todo.append((f"{where}.{name}", sub))
        for key in ("items", "additionalProperties"):
            if isinstance(s.get(key), dict):
                todo.append((f"{where}[]", s[key]))


def test_spec_states_the_service_code_format(spec):
    import re

    from node.domain import servicecode

    for path in CODE_PATHS:
        params = [p for op in spec["paths"][path].values() if isinstance(op, dict) for p in op.get("parameters", [])]
        params += spec["paths"][path].get("parameters", [])
        (code,) = {json_key(p) for p in params if p["name"] == "code"}
        pattern = dict(code)["pattern"]
        real = servicecode.make_code("330105", __import__("datetime").date(2026, 3, 2), "8K3MQP2X")
        assert re.fullmatch(pattern, real) and re.fullmatch(pattern, real.replace("-", "").lower()), path
        for bad in ("330105-260302-8K3M-QP2X", "33010-260302-8K3M-QP2X-7", "330105-260302-8K3M-QP2U-7", "x"):
            assert not re.fullmatch(pattern, bad), (path, bad)


def json_key(p):  # type: ignore[no-untyped-def]
    return tuple(sorted((k, v) for k, v in p["schema"].items() if isinstance(v, (str, int))))


def test_spec_states_no_nul_and_a_bound_for_every_string_a_request_carries(spec):
    import re

    strings = [(w, s) for w, s in _request_schemas(spec) if s.get("type") == "string"]
    assert len(strings) > 50
    for where, s in strings:
        if "enum" in s or s.get("format") in ("date", "date-time", "binary"):
            continue
        assert "pattern" in s, where
        assert not re.fullmatch(s["pattern"], "ab\x00c"), where  # NUL is refused: the spec says so
        if " path:" not in where:  # a path segment is bounded by the URL; bodies and queries by the spec
            assert "maxLength" in s or re.search(r"\{\d+(,\d+)?\}\$$|\{\d+\}", s["pattern"]), where


def test_spec_states_which_lists_take_no_duplicates(spec):
    schemas = spec["components"]["schemas"]
    for (schema, field), key in UNIQUE.items():
        prop = schemas[schema]["properties"][field]
        assert prop["uniqueItems"] is True, (schema, field)
        assert prop.get("x-unique-by") == key, (schema, field)


def test_each_stated_rule_of_the_application_is_enforced(api, spec):
    """For each property of the applicant and the application, a value that breaks the rule the
    spec states (length, enum, pattern, uniqueness) is refused with 422 naming that field."""
    import re

    materials = api.sign_materials()  # one set for all: a refused application binds nothing

    def valid() -> dict:
        return {"item_code": SIGN_ITEM, "materials": list(materials), "conditional_materials": [],
                "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678", "org": "某公司"}}

    def breaking(s: dict) -> list[object]:
        out: list[object] = []
        if "maxLength" in s:
            out.append("x" * (s["maxLength"] + 1))
        if "minLength" in s and s["minLength"] > 0:
            out.append("")
        if "enum" in s:
            out.append("no-such-value")
        if "pattern" in s:
            out += [c for c in ("bad!\x00", "12\x00") if not re.fullmatch(s["pattern"], c)][:1]
        return out

    tried = 0
    case_create = _resolve(spec, spec["components"]["schemas"]["CaseCreate"])
    applicant = _resolve(spec, case_create["properties"]["applicant"])
    for name, s in applicant["properties"].items():
        for value in breaking(s):
            body = valid()
            body["applicant"][name] = value
            r = api.post("/api/v1/public/applications", body)
            assert r.status_code == 422, (name, value, r.json)
            assert name in r.json["errors"]["json"].get("applicant", {}) or \
                f"applicant.{name}" in r.json["errors"]["json"], (name, value, r.json)
            tried += 1
    for name in ("item_code",):
        for value in breaking(case_create["properties"][name]):
            body = valid()
            body[name] = value
            r = api.post("/api/v1/public/applications", body)
            assert r.status_code == 422 and name in r.json["errors"]["json"], (name, value, r.json)
            tried += 1
    assert tried >= 8
    # uniqueness, as stated
    body = valid()
    body["materials"].append(dict(body["materials"][0]))
    r = api.post("/api/v1/public/applications", body)
    assert r.status_code == 422 and "materials" in r.json["errors"]["json"], r.json
    assert "twice" in str(r.json["errors"]["json"]["materials"])
    body = valid()
    body["conditional_materials"] = ["biz-license", "biz-license"]
    r = api.post("/api/v1/public/applications", body)
    assert r.status_code == 422 and "conditional_materials" in r.json["errors"]["json"], r.json


def test_other_stated_rules_are_enforced(api):
    up = api.upload()
    twice = [{"material_code": "application", "upload_id": up}, {"material_code": "id", "upload_id": up}]
    r = api.post(f"/api/v1/catalog/items/{SIGN_ITEM}/completeness-check", {"materials": twice})
    assert r.status_code == 422 and "materials" in r.json["errors"]["json"], r.json
    r = api.post("/api/v1/library/licenses/comparison", {"numbers": ["A-1", "A-1"]}, "inspector")
    assert r.status_code == 422 and "numbers" in r.json["errors"]["json"], r.json
    mat = {"code": "application", "name": "申请表"}
    r = api.post("/api/v1/items", {"code": "330105-XK-NEW-001", "name": "新事项", "kind": "immediate",
                                   "materials": [mat, dict(mat)], "stages": [{"kind": "accept", "role": "clerk"}]},
                 "admin")
    assert r.status_code == 422 and "materials" in r.json["errors"]["json"], r.json
    r = api.post("/api/v1/items", {"code": "lower-case-code", "name": "新事项", "kind": "immediate",
                                   "stages": [{"kind": "accept", "role": "clerk"}]}, "admin")
    assert r.status_code == 422 and "code" in r.json["errors"]["json"], r.json
    # the service-code pattern: a malformed code is a 422 naming `code` on every path that takes one
    for r in (api.get("/api/v1/cases/not-a-code", "clerk"),
              api.post("/api/v1/public/cases/not-a-code/evaluation", {"id_last4": "002X", "score": 5}),
              api.get("/api/v1/library/cases/not-a-code/detail?purpose=核查", "inspector")):
        assert r.status_code == 422 and "code" in r.json["errors"]["json"], r.json
    # NUL in a query string and in a body
    r = api.get("/api/v1/catalog/items?q=a%00b")
    assert r.status_code == 422 and "q" in r.json["errors"]["query"], r.json
    r = api.post("/api/v1/rectifications/1/close", {"note": "done\u0000"}, "admin")
    assert r.status_code == 422 and "note" in r.json["errors"]["json"], r.json
