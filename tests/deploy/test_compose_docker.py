"""deploy/compose.yaml for real: build the image, bring up PostgreSQL, Redis, the migration, the
API and the worker with pytest-docker, and wait for the API's /healthz.

Needs a Docker engine and Docker Compose v2. Without an engine the test SKIPS — also under
CI=true, unlike the database tests: the CI machine has no Docker engine by design, so its
absence there is expected, not a broken service. The static checks of the same files are in
test_manifests.py and run everywhere.

pytest-docker is used through its entry-point plugin (registered as ``docker`` when the package
is installed); it is not listed in ``pytest_plugins`` — registering it twice would break the
whole suite — and its fixtures are requested only after the engine check, so nothing here runs
``docker compose`` on a machine without one.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NO_ENGINE = "no Docker engine on this machine (CI runs without one)"


def _run(cmd: list[str], timeout: float = 30) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None


def docker_problem() -> str | None:
    """Why compose.yaml cannot be brought up here, or None."""
    if shutil.which("docker") is None:
        return f"{NO_ENGINE}: the docker CLI is not installed"
    r = _run(["docker", "info"])
    if r is None or r.returncode != 0:
        detail = "timed out" if r is None else f"exited {r.returncode}"
        return f"{NO_ENGINE}: `docker info` {detail}"
    if compose_command() is None:
        return "Docker Compose v2 is not installed (`docker compose version` failed)"
    return None


def compose_command() -> str | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        r = _run([*cmd, "version"])
        if r is not None and r.returncode == 0:
            return " ".join(cmd)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- pytest-docker's fixtures, pointed at deploy/compose.yaml ---------------------------------

@pytest.fixture(scope="session")
def compose_env_file(tmp_path_factory):  # type: ignore[no-untyped-def]
    """deploy/node.env.example with a free loopback port for the API and a test image tag."""
    from pytest_docker.plugin import get_docker_ip

    port = _free_port()
    # publish on loopback only, unless the engine is remote (DOCKER_HOST=tcp://...)
    published = f"127.0.0.1:{port}" if get_docker_ip() == "127.0.0.1" else str(port)
    lines = (DEPLOY / "node.env.example").read_text("utf-8").splitlines()
    overrides = {"YIWANG_HTTP_PORT": published, "YIWANG_IMAGE": f"yiwang:pytest-{os.getpid()}",
                 "YIWANG_ID_HASH_KEY": "compose-test-id-hash-key", "POSTGRES_PASSWORD": "compose-test"}
    out = [ln for ln in lines if ln.split("=", 1)[0] not in overrides]
    out += [f"{k}={v}" for k, v in overrides.items()]
    f = tmp_path_factory.mktemp("compose") / "node.env"
    f.write_text("\n".join(out) + "\n", "utf-8")
    return f, port


@pytest.fixture(scope="session")
def docker_compose_command(compose_env_file) -> str:  # type: ignore[no-untyped-def]
    # every compose call pytest-docker makes (up, port, down) reads the same settings
    return f'{compose_command() or "docker compose"} --env-file "{compose_env_file[0]}"'


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(DEPLOY / "compose.yaml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"yiwangtest{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    # Not `--wait`: the one-shot `migrate` exits by design; the test polls what it needs.
    return ["up --build -d"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down -v --remove-orphans"]


def _healthz(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def test_compose_node_comes_up_healthy(request) -> None:  # type: ignore[no-untyped-def]
    problem = docker_problem()  # before any fixture that would run docker compose is requested
    if problem:
        pytest.skip(problem)
    if not request.config.pluginmanager.hasplugin("docker"):
        pytest.skip("the pytest-docker plugin is not registered (pip install -e '.[test]')")
    _, port = request.getfixturevalue("compose_env_file")
    services = request.getfixturevalue("docker_services")
    docker_ip = request.getfixturevalue("docker_ip")
    url = f"http://{docker_ip}:{port}/healthz"
    services.wait_until_responsive(check=lambda: _healthz(url), timeout=240, pause=2)
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.loads(r.read())
    assert body == {"status": "ok", "node_id": "330105"}

    def states() -> dict[str, dict[str, str]]:
        out = services._docker_compose.execute("ps --all --format json").decode()
        rows = json.loads(out) if out.lstrip().startswith("[") else [json.loads(x) for x in out.splitlines() if x.strip()]
        return {row["Service"]: row for row in rows}

    services.wait_until_responsive(check=lambda: states().get("worker", {}).get("Health") == "healthy",
                                   timeout=180, pause=3)
    st = states()
    assert st["migrate"]["State"] == "exited" and st["migrate"]["ExitCode"] == 0
    assert st["api"]["Health"] == "healthy"
    assert "federation" not in st  # profile `federation`: started once the node is enrolled
