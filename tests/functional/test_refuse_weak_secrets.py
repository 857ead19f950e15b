"""Real processes of an enrolled county on PostgreSQL (the seeded template: demo accounts) refuse
to start outside demo mode — ``yiwang node run``, ``yiwang federation serve`` and ``yiwang
worker`` — with one message naming each weak secret and its fix, and a non-zero exit code; with
``YIWANG_DEMO=1`` the same node starts and says it is in demo mode."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

import pytest

from federation.demo import DEMO_ID_KEY
from tests.functional.test_server_audit_crash import _yiwang

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(pg_url, tmp_path):  # type: ignore[no-untyped-def]
    e = dict(os.environ, DATABASE_URL=pg_url, YIWANG_DATA_DIR=str(tmp_path / "data"))
    for k in ("CELERY_BROKER_URL", "YIWANG_ID_HASH_KEY", "YIWANG_DEMO"):
        e.pop(k, None)
    init = subprocess.run(_yiwang() + ["federation", "init", "--node-id", "330105", "--name", "拱墅区",
                                       "--parent", "330100"], env=e, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    return e


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_yiwang() + list(args), env=env, capture_output=True, text=True, timeout=180)


def test_node_run_refuses_a_missing_key_and_demo_accounts(env):  # type: ignore[no-untyped-def]
    p = _run(env, "node", "run", "--port", str(_port()), "--no-migrate")
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
    assert "refusing to start" in p.stderr and "YIWANG_ID_HASH_KEY is not set" in p.stderr
    assert "'admin'" in p.stderr and "yiwang staff set-password" in p.stderr and "Traceback" not in p.stderr
    assert "on http://" not in p.stdout  # it never served


@pytest.mark.parametrize("key", ["CHANGE-ME-federation-wide-id-hash-key", DEMO_ID_KEY])
def test_federation_serve_and_the_worker_refuse_the_shipped_keys(env, key):  # type: ignore[no-untyped-def]
    env = dict(env, YIWANG_ID_HASH_KEY=key, CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    for args in (("federation", "serve", "--listen", f"127.0.0.1:{_port()}"), ("worker", "--no-beat")):
        p = _run(env, *args)
        assert p.returncode == 3, (args, p.returncode, p.stderr[-2000:])
        assert "YIWANG_ID_HASH_KEY is the" in p.stderr and "demo password" in p.stderr, p.stderr[-2000:]


def test_in_demo_mode_the_same_node_starts_and_says_so(env, tmp_path):  # type: ignore[no-untyped-def]
    port = _port()
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(_yiwang() + ["node", "run", "--port", str(port), "--no-migrate", "--workers", "1"],
                                env=dict(env, YIWANG_DEMO="1"), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, log.read_text("utf-8", "replace")[-3000:]
                assert time.monotonic() < deadline, "the demo node did not come up"
                time.sleep(0.2)
        assert "DEMO MODE" in log.read_text("utf-8", "replace")
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
