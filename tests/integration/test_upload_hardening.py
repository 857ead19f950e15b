"""Uploads tried as an attacker would, through the API, on both backends: a 100 MiB flood, files
that are something else inside, another applicant's upload id, and the expiry of what nobody used
(real files on disk checked)."""
from __future__ import annotations

import io
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from node.config import Settings
from node.persistence.models import Case, CaseMaterial, Upload
from node.services.context import NodeContext
from node.services.uploads import purge_uploads
from tests.support import (
    ID_NUMBER,
    SIGN_ITEM,
    SIGN_MATERIALS,
    Client,
    material_bytes,
    minimal_ofd,
    minimal_pdf,
    tiny_image,
)

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"PE\x00\x00" + b"\x90" * 64


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    """The shipped upload limits (20 MiB a file, 64 MiB and 100 files an hour, 50 pending)."""
    return Settings.from_env({}, database_url=db_url, data_dir=tmp_path / "data", token_ttl_hours=24 * 365 * 5)


@pytest.fixture
def node(settings, clock):  # type: ignore[no-untyped-def]
    """Builds a node (context and API client) on the test database with some settings changed;
    several nodes on one database stand for several gunicorn workers."""
    from node.api import create_app

    made: list[NodeContext] = []

    def make(**changes: Any) -> tuple[NodeContext, Client]:
        c = NodeContext.build(replace(settings, **changes), clock=clock.now)
        c.dispatch_notifications = lambda ids: None  # type: ignore[method-assign]
        made.append(c)
        return c, Client(create_app(ctx=c).test_client())

    yield make
    for c in made:
        c.engine.dispose()


def _post(api: Client, data: bytes, name: str, addr: str = "127.0.0.1", user: str | None = None,
          headers: dict[str, str] | None = None) -> Any:
    return api.c.post("/api/v1/uploads", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data",
                      headers={**api.h(user), **(headers or {})}, environ_base={"REMOTE_ADDR": addr})


def _blobs(ctx: NodeContext) -> set[str]:
    root = ctx.settings.storage_dir
    return {p.name for p in root.glob("??/??/*") if not p.name.startswith(".")} if root.exists() else set()


def _rows(ctx: NodeContext) -> int:
    with ctx.factory() as s:
        return int(s.scalar(select(func.count()).select_from(Upload)) or 0)


def _apply(api: Client, ids: list[str], user: str | None = None) -> Any:
    mats = [{"material_code": m, "upload_id": i} for m, i in zip(SIGN_MATERIALS, ids, strict=True)]
    return api.post("/api/v1/public/applications", {"item_code": SIGN_ITEM, "materials": mats, "applicant": {
        "name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"}}, user)


def _upload_set(api: Client, tag: str, addr: str = "127.0.0.1") -> list[str]:
    out = []
    for m, k in SIGN_MATERIALS.items():
        r = _post(api, material_bytes(k, tag + m), f"{m}.{k}", addr)
        assert r.status_code == 201, r.json
        out.append(r.json["id"])
    return out


# ------------------------------------------------------------------------------------------- quota


def test_a_100_mib_flood_is_stopped_and_refused_files_are_not_stored(node, clock):
    ctx, api = node(max_upload_bytes=20 * MIB)
    files = [minimal_pdf(f"flood {i}", pad=20 * MIB - 1024) for i in range(5)]  # 5 x 20 MiB = 100 MiB
    answers = [_post(api, f, f"{i}.pdf") for i, f in enumerate(files)]
    assert [r.status_code for r in answers] == [201, 201, 201, 429, 429]  # 64 MiB an hour
    refused = answers[3]
    assert "file" in refused.json["errors"]["files"] and "quota" in refused.json["message"]
    assert 3000 < int(refused.headers["Retry-After"]) <= 3601
    assert refused.json["retry_after"] == int(refused.headers["Retry-After"])
    assert _rows(ctx) == 3 and len(_blobs(ctx)) == 3  # nothing of the refused ones on disk
    other = _post(api, minimal_pdf("someone else"), "a.pdf", addr="10.1.2.3")
    assert other.status_code == 201  # the budget is per client
    clock.advance(hours=1, seconds=1)
    assert _post(api, files[3], "3.pdf").status_code == 201  # a rolling hour


def test_the_file_budget_and_the_pending_cap(node):
    _, api = node(upload_quota_files=6, upload_max_pending=5)
    ids = _upload_set(api, "a")
    r = _post(api, minimal_pdf("sixth"), "x.pdf")
    assert r.status_code == 429 and "no application uses" in r.json["message"]
    assert int(r.headers["Retry-After"]) > 0
    assert _apply(api, ids).status_code == 201  # using them frees the pending cap
    assert _post(api, minimal_pdf("sixth"), "x.pdf").status_code == 201
    r = _post(api, minimal_pdf("seventh"), "y.pdf")
    assert r.status_code == 429 and "files in the last hour" in r.json["message"]


def test_staff_have_a_larger_budget_per_account(node):
    _, api = node(upload_quota_files=2, staff_upload_quota_files=4)
    assert [_post(api, minimal_pdf(f"p{i}"), "a.pdf").status_code for i in range(3)] == [201, 201, 429]
    assert [_post(api, minimal_pdf(f"c{i}"), "a.pdf", user="clerk").status_code for i in range(5)] == \
        [201, 201, 201, 201, 429]
    assert _post(api, minimal_pdf("h"), "a.pdf", user="cgj-handler").status_code == 201  # another account


def test_a_forwarded_address_counts_only_from_a_trusted_proxy(node):
    _, api = node(upload_quota_files=1)
    assert _post(api, minimal_pdf("a"), "a.pdf").status_code == 201
    spoofed = _post(api, minimal_pdf("b"), "a.pdf", headers={"X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status_code == 429  # the client cannot name itself
    _, behind = node(upload_quota_files=1, trusted_proxies=("127.0.0.1",))
    for client in ("203.0.113.10", "203.0.113.11"):
        r = _post(behind, minimal_pdf(client), "a.pdf", headers={"X-Forwarded-For": f"6.6.6.6, {client}"})
        assert r.status_code == 201
    again = _post(behind, minimal_pdf("c"), "a.pdf", headers={"X-Forwarded-For": "203.0.113.10"})
    assert again.status_code == 429


def test_the_budget_holds_across_workers_uploading_at_once(node):
    """Four nodes on one database (as four gunicorn workers), sixteen uploads at once, budget 5."""
    workers = [node(upload_quota_files=5)[1] for _ in range(4)]
    codes: list[int] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        r = _post(workers[i % 4], minimal_pdf(f"race {i}"), "a.pdf", addr="198.51.100.7")
        with lock:
            codes.append(r.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201] * 5 + [429] * 11


# --------------------------------------------------------------------------------------- structure


@pytest.mark.parametrize("name,data,words", [
    ("申请表.pdf", b"%PDF-1.4\n" + EXE, "cannot be read"),
    ("申请表.pdf", b"%PDF-1.7\n<html><body><script>alert(document.cookie)</script></body></html>", "cannot be read"),
    ("申请表.pdf", minimal_pdf("ok") + EXE, "not part of a PDF"),
    ("申请表.pdf", minimal_pdf("ok", extra=b"<html><script>alert(1)</script></html>\n"), "not part of a PDF"),
    ("申请表.pdf", minimal_pdf("ok", catalog=b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "),
     "active content"),
    ("合同.ofd", minimal_ofd({"setup.exe": EXE}), "programs"),
    ("合同.ofd", minimal_ofd({"Doc_0/Res/a.xml": EXE}), "program"),
    ("合同.ofd", minimal_ofd({"Doc_0/Res/big.dat": b"\x00" * (40 * MIB)}), "zip bomb"),
    ("合同.ofd", minimal_ofd({"../../../../tmp/x.xml": b"<a/>"}), "outside the package"),
    ("scan.png", tiny_image("png", "p") + b"garbage after the end", "follows the end"),
    ("photo.png", minimal_pdf("not a picture"), "named as"),
    ("evil.exe", minimal_pdf("ok"), ".exe"),
])
def test_files_that_are_something_else_are_refused_and_nothing_is_kept(node, name, data, words):
    ctx, api = node()
    r = _post(api, data, name)
    assert r.status_code == 422, r.json
    assert words in r.json["errors"]["files"]["file"][0] and words in r.json["message"]
    assert _rows(ctx) == 0 and _blobs(ctx) == set()


def test_every_accepted_kind_is_stored_with_its_detected_type(node):
    ctx, api = node()
    for name, data, kind in (("a.pdf", minimal_pdf("a"), "pdf"), ("b.jpg", tiny_image("jpg"), "jpg"),
                             ("c.png", tiny_image("png"), "png"), ("d.ofd", minimal_ofd(), "ofd")):
        r = _post(api, data, name)
        assert r.status_code == 201 and r.json["file_type"] == kind
        assert ctx.store.get(r.json["digest"]) == data


# ----------------------------------------------------------------------------------------- binding


def test_an_upload_serves_one_application_only(node):
    ctx, api = node()
    mine = _upload_set(api, "mine")
    assert _apply(api, mine).status_code == 201
    attacker = _apply(api, mine)  # naming ids another application already uses
    assert attacker.status_code == 422
    problems = {i["field"]: i["problem"] for i in attacker.json["notice"]["invalid"]}
    assert set(problems) == {f"materials[{i}].upload_id" for i in range(5)}
    assert all("already part of another application" in p for p in problems.values())
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(CaseMaterial).where(CaseMaterial.binds)
                        .execution_options(all_tenants=True)) == 5


def test_two_applications_racing_for_the_same_uploads_one_wins(node):
    _, api = node()
    ids = _upload_set(api, "race")
    workers = [node()[1] for _ in range(4)]
    codes: list[int] = []

    def send(i: int) -> None:
        codes.append(_apply(workers[i], ids).status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(201) == 1
    assert all(c in (409, 422) for c in codes if c != 201)


def test_a_staff_upload_serves_that_account_only(node):
    _, api = node()
    r = _post(api, minimal_pdf("clerk's scan"), "a.pdf", user="clerk")
    ids = _upload_set(api, "rest")
    ids[0] = r.json["id"]
    refused = _apply(api, ids)  # the public naming a clerk's upload
    assert refused.status_code == 422
    assert "another account" in refused.json["notice"]["invalid"][0]["problem"]


def test_a_supplement_binds_its_upload_and_cannot_take_another_case_s(node):
    ctx, api = node()
    other = _upload_set(api, "other")
    assert _apply(api, other).status_code == 201
    code = api.apply_online()
    api.fire(code, "accept", "clerk")
    api.fire(code, "request_supplement", "cgj-handler", reason="效果图不清晰",
             missing=[{"material_code": "design", "name": "店招店牌设计效果图"}])
    url = f"/api/v1/public/cases/{code}/supply"
    taken = api.post(url, {"id_last4": "002x", "materials": [{"material_code": "design", "upload_id": other[2]}]})
    assert taken.status_code == 422
    assert "already part of another application" in taken.json["notice"]["invalid"][0]["problem"]
    fresh = api.upload(tag="v2")
    assert api.post(url, {"id_last4": "002x", "materials": [{"material_code": "design", "upload_id": fresh}]}
                    ).status_code == 200
    with ctx.factory() as s:
        bound_to = s.scalar(select(Case.code).join(CaseMaterial, CaseMaterial.case_id == Case.id)
                            .where(CaseMaterial.upload_id == fresh, CaseMaterial.binds)
                            .execution_options(all_tenants=True))
    assert bound_to == code


def test_upload_ids_are_random_tokens(node):
    _, api = node()
    ids = [_post(api, minimal_pdf(f"t{i}"), "a.pdf").json["id"] for i in range(3)]
    assert all(len(i) == 32 and int(i, 16) for i in ids)
    assert len({i[:8] for i in ids}) == 3  # no common prefix, no counter


# ------------------------------------------------------------------------------------------ expiry


def _age_files(ctx: NodeContext, hours: float) -> None:
    """Blob files age on the real clock (their mtime); the test moves the node's clock, so it ages
    them to match."""
    t = time.time() - hours * 3600
    for p in ctx.settings.storage_dir.glob("??/??/*"):
        os.utime(p, (t, t))


def _pending(api: Client, n: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        r = _post(api, minimal_pdf(f"never used {i}"), "a.pdf")
        out.append((r.json["id"], r.json["digest"]))
    return out


def test_expiry_removes_only_unbound_uploads_and_their_files(node, clock):
    ctx, api = node()
    used = _upload_set(api, "used")
    assert _apply(api, used).status_code == 201
    unused = _pending(api, 3)
    twin = _post(api, minimal_pdf("usedapplication"), "a.pdf").json  # same content as a bound upload
    with ctx.factory() as s:
        used_digests = set(s.scalars(select(Upload.digest).where(Upload.id.in_(used))))
    assert twin["digest"] in used_digests
    clock.advance(hours=23)
    _age_files(ctx, 23)
    assert purge_uploads(ctx).rows == 0  # not old enough yet
    clock.advance(hours=2)
    _age_files(ctx, 25)
    report = purge_uploads(ctx)
    assert report.rows == 4 and report.blobs == 3
    with ctx.factory() as s:
        left = set(s.scalars(select(Upload.id)))
    assert left == set(used)
    assert _blobs(ctx) == used_digests  # the twin's file is kept: a bound upload has the same content
    for d in used_digests:
        assert ctx.store.exists(d)
    for _, d in unused:
        assert not ctx.store.exists(d)
    again = purge_uploads(ctx)
    assert (again.rows, again.blobs) == (0, 0)  # idempotent


def test_a_crash_between_the_row_delete_and_the_file_delete_leaves_nothing_referenced_missing(node, clock,
                                                                                             monkeypatch):
    ctx, api = node()
    used = _upload_set(api, "kept")
    assert _apply(api, used).status_code == 201
    unused = _pending(api, 2)
    clock.advance(hours=25)
    _age_files(ctx, 25)

    def crash(digest: str, untouched_since: float) -> bool:
        raise SystemExit("killed")

    monkeypatch.setattr(ctx.store, "remove", crash)
    with pytest.raises(SystemExit):
        purge_uploads(ctx)
    monkeypatch.undo()
    with ctx.factory() as s:
        rows = list(s.execute(select(Upload.id, Upload.digest)))
    assert {r.id for r in rows} == set(used)  # the rows went (committed) ...
    assert all(ctx.store.exists(r.digest) for r in rows)  # ... nothing referenced is missing
    assert all(ctx.store.exists(d) for _, d in unused)  # the orphans are still on disk
    report = purge_uploads(ctx)  # the next run sweeps them
    assert (report.rows, report.blobs) == (0, 2)
    assert not any(ctx.store.exists(d) for _, d in unused)


def test_a_file_touched_by_a_new_upload_is_not_removed_under_it(node, clock):
    ctx, api = node()
    old = _pending(api, 1)[0]
    clock.advance(hours=25)
    _age_files(ctx, 25)
    fresh = _post(api, minimal_pdf("never used 0"), "a.pdf").json  # same content, uploaded just now
    assert fresh["digest"] == old[1]
    report = purge_uploads(ctx)
    assert report.rows == 1 and ctx.store.exists(old[1])


def test_the_purge_runs_from_beat_and_from_the_command_line(node, clock, monkeypatch, settings):
    from node.cli import main
    from node.tasks.celery_app import make_celery
    from node.tasks.names import PURGE_UPLOADS
    from node.tasks.uploads import purge_now

    ctx, api = node()
    _pending(api, 2)
    _age_files(ctx, 48)
    app = make_celery(replace(settings, broker_url="memory://"))
    assert any(e["task"] == PURGE_UPLOADS for e in app.conf.beat_schedule.values()) and PURGE_UPLOADS in app.tasks
    # what the task runs builds its node on the real clock: the uploads (dated on the test clock, months ago) are old
    assert "purged 2 expired uploads and 2 stored files" in purge_now(settings)
    _pending(api, 1)
    _age_files(ctx, 48)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("YIWANG_DATA_DIR", str(Path(settings.data_dir)))
    out = CliRunner().invoke(main, ["uploads", "purge"])
    assert out.exit_code == 0, out.output
    assert "purged 1 expired uploads and 1 stored files" in out.output
    assert _rows(ctx) == 0 and _blobs(ctx) == set()


# --------------------------------------------------------------------------------------- migration


def test_the_migration_binds_uploads_existing_cases_use_to_the_first_of_them(node, db_url, clock):
    from sqlalchemy import create_engine, text

    from node.persistence.migrate import downgrade, upgrade

    ctx, api = node()
    first = _upload_set(api, "legacy")
    assert _apply(api, first).status_code == 201
    second = _upload_set(api, "second")
    assert _apply(api, second).status_code == 201
    ctx.engine.dispose()
    downgrade(db_url, "0005")
    eng = create_engine(db_url)
    with eng.begin() as c:  # before the rule, a second case could name the first case's upload
        case_ids = [r[0] for r in c.execute(text("select id from cases order by id"))]
        c.execute(text("update case_materials set upload_id = :u where case_id = :c and material_code = 'id'"),
                  {"u": first[1], "c": case_ids[1]})
    eng.dispose()
    upgrade(db_url)
    with ctx.factory() as s:
        bindings = dict(list(s.execute(select(CaseMaterial.upload_id, CaseMaterial.case_id).where(CaseMaterial.binds)
                                       .execution_options(all_tenants=True)).tuples()))
    assert bindings[first[1]] == case_ids[0]  # the first case that used it
    assert set(bindings) == set(first) | set(second) - {second[1]}
    reuse = _apply(api, first)
    assert reuse.status_code == 422
    clock.advance(hours=25)
    report = purge_uploads(ctx)  # only the upload the edit left unused goes
    with ctx.factory() as s:
        assert report.rows == 1 and s.get(Upload, second[1]) is None
