"""The real server (gunicorn, two workers) of an enrolled node on PostgreSQL, killed with SIGKILL in
the middle of a stream of submissions: every submission that was answered 201 is in the database
with its audit entries and its signed federation record, and what the dead server had queued but
not sealed or linked yet is handled by the next server -- the audit chain and the signed log stay
gapless and intact."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from node.config import Settings
from node.services.context import NodeContext
from tests.support import (
    ID_NUMBER,
    SIGN_ITEM,
    SIGN_MATERIALS,
    material_bytes,
    more_upload_sets,
)

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def _yiwang() -> list[str]:
    exe = shutil.which("yiwang", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "node.cli"]


def _post(url: str, body: bytes, ctype: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                _yiwang() + ["node", "run", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "2",
                             "--threads", "4", "--no-migrate"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):
                    return
            except OSError:
                assert self.proc.poll() is None, log.read_text("utf-8", "replace")[-3000:]
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)  # the arbiter and its workers, mid-request
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)


def _upload(base: str, code: str, kind: str) -> str:
    boundary = "----yiwangtest"
    data = material_bytes(kind, code)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{code}.{kind}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    st, out = _post(base + "/api/v1/uploads", body, f"multipart/form-data; boundary={boundary}")
    assert st == 201, out
    return str(out["id"])


def test_a_killed_server_loses_no_submission_and_its_queued_audit_entries_are_linked_later(pg_url, tmp_path):
    env = dict(os.environ, DATABASE_URL=pg_url, YIWANG_DATA_DIR=str(tmp_path / "data"),
               YIWANG_DEMO="1")  # the seeded template's demo accounts, no ID hash key: a demo node
    env.pop("CELERY_BROKER_URL", None)  # notifications delivered in-process to the log gateway
    log = tmp_path / "server.log"
    init = subprocess.run(_yiwang() + ["federation", "init", "--node-id", "330105", "--name", "拱墅区",
                                       "--parent", "330100"], env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr  # a federation identity: case events are signed records
    server = Server(env, log)
    try:
        uploaded = {c: _upload(server.base, c, k) for c, k in SIGN_MATERIALS.items()}
        node = NodeContext.build(Settings.from_env(env))
        try:  # an upload serves one application: a set for each submission
            sets = more_upload_sets(node, uploaded, 400)
        finally:
            node.engine.dispose()
        bodies = iter([json.dumps({"item_code": SIGN_ITEM, "materials": m,
                                   "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"}},
                                  ensure_ascii=False).encode() for m in sets])
        take = threading.Lock()
        answered: list[str] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                with take:
                    body = next(bodies, None)
                if body is None:
                    return
                try:
                    st, out = _post(server.base + "/api/v1/public/applications", body, "application/json")
                except OSError:  # the server died under this request: no answer, no promise made
                    return
                if st == 201:
                    answered.append(out["code"])

        clients = [threading.Thread(target=client) for _ in range(8)]
        for t in clients:
            t.start()
        deadline = time.monotonic() + 30
        while len(answered) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()
        stop.set()
        for t in clients:
            t.join(30)
        assert len(answered) >= 150, log.read_text("utf-8", "replace")[-3000:]
    finally:
        server.stop()

    eng = create_engine(pg_url)
    try:
        with eng.connect() as c:
            codes = {r[0] for r in c.execute(text("select code from cases where code = any(:c)"), {"c": answered})}
            assert codes == set(answered)  # every answered submission is there
            left_queued = c.execute(text("select (select count(*) from audit_queue) + "
                                         "(select count(*) from fed_queue)")).scalar_one()

        again = Server(env, log)  # a new server; its first commit wakes its linker
        try:
            _upload(again.base, "after-restart", "pdf")
            deadline = time.monotonic() + 30
            while True:
                with eng.connect() as c:
                    if c.execute(text("select (select count(*) from audit_queue) + "
                                      "(select count(*) from fed_queue)")).scalar_one() == 0:
                        break
                assert time.monotonic() < deadline, f"{left_queued} queued entries were never linked"
                time.sleep(0.1)
        finally:
            again.stop()

        with eng.connect() as c:
            head_seq = c.execute(text("select seq from audit_head where id = 1")).scalar_one()
            seqs = [r[0] for r in c.execute(text("select seq from audit_log order by seq"))]
            case_ids = {str(r[0]) for r in c.execute(text("select id from cases"))}
            audited = {r[0] for r in c.execute(text(
                "select row_key from audit_log where table_name = 'cases' and op = 'insert'"))}
            fed_seqs = [r[0] for r in c.execute(text("select seq from fed_records where origin = '330105' order by seq"))]
            fed_head = c.execute(text("select seq from fed_heads where origin = '330105'")).scalar_one()
            in_library = {r[0] for r in c.execute(text("select service_code from lib_cases where origin = '330105'"))}
        assert seqs == list(range(1, head_seq + 1))  # gapless
        assert case_ids <= audited  # every case's creation is in the chain, including the last ones
        assert fed_seqs == list(range(1, fed_head + 1)) and fed_head >= len(answered)  # gapless signed log
        assert set(answered) <= in_library  # every answered submission was sealed and applied
    finally:
        eng.dispose()
    out = subprocess.run(_yiwang() + ["audit", "verify"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"audit chain intact: {head_seq} entries" in out.stdout
