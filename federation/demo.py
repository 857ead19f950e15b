"""A federation on one machine: province 330000, city 330100 and districts 330105 (Gongshu) and
330106 (Xihu), each a real node (HTTP API process + federation process) on loopback ports with its
own SQLite database (or, given ``db_urls``, its own database at that SQLAlchemy URL, e.g. PostgreSQL:
``bench/linked.py``). Used by ``yiwang demo`` and by the functional tests: every process runs in
demo mode (``YIWANG_DEMO=1``: the demo key and the demo accounts are accepted)."""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from federation.identity import (
    enroll_child,
    init_identity,
    install_enrollment,
    load_identity,
    make_enrollment_request,
)
from federation.registry import (
    export_subtree_entries,
    import_subtree_entries,
    install_directory,
    publish_directory,
)
from node.domain.passwords import DEMO_PASSWORD

NODES = [("330000", "浙江省", None, "浙江省政务服务中心"), ("330100", "杭州市", "330000", "杭州市民中心"),
         ("330105", "拱墅区", "330100", "拱墅区行政服务中心"), ("330106", "西湖区", "330100", "西湖区行政服务中心")]
DEMO_ID_KEY = "yiwang-demo-federation-id-hash-key"


@dataclass
class NodeProc:
    node_id: str
    name: str
    parent_id: str | None
    hall: str
    data_dir: Path
    http_port: int
    grpc_port: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)  # type: ignore[type-arg]
    peers: str = ""  # where the nodes below listen (YIWANG_FEDERATION_PEERS)
    database_url: str | None = None  # DATABASE_URL of the node's processes; None: SQLite in data_dir

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def env(self) -> dict[str, str]:
        e = dict(os.environ)
        for k in ("DATABASE_URL", "CELERY_BROKER_URL"):
            e.pop(k, None)
        e.update(YIWANG_FEDERATION_PEERS=self.peers,
                 YIWANG_DATA_DIR=str(self.data_dir), YIWANG_NODE_ID=self.node_id, YIWANG_NODE_NAME=self.hall,
                 YIWANG_ID_HASH_KEY=os.environ.get("YIWANG_ID_HASH_KEY", DEMO_ID_KEY), PYTHONUNBUFFERED="1",
                 YIWANG_DEMO="1")
        if self.database_url:
            e["DATABASE_URL"] = self.database_url
        return e


class Federation:
    def __init__(self, base: Path, http_base: int = 8000, grpc_base: int = 7000, nodes=NODES,  # type: ignore[no-untyped-def]
                 db_urls: dict[str, str] | None = None, http_workers: tuple[int, int] = (1, 8)) -> None:
        self.base = Path(base)
        self.http_workers = http_workers  # (processes, threads) of each node's gunicorn: one process on SQLite
        self.nodes = {n: NodeProc(n, name, parent, hall, self.base / n, http_base + i, grpc_base + i,
                                  database_url=(db_urls or {}).get(n))
                      for i, (n, name, parent, hall) in enumerate(nodes)}
        for n in self.nodes.values():
            below = [m for m in self.nodes.values() if m is not n and self._is_below(m.node_id, n.node_id)]
            n.peers = ",".join(f"{m.node_id}={m.grpc}" for m in below)
        self.checkpoint_every = 30.0

    def _is_below(self, node_id: str, ancestor: str) -> bool:
        p = self.nodes[node_id].parent_id
        while p is not None:
            if p == ancestor:
                return True
            p = self.nodes[p].parent_id
        return False

    def __getitem__(self, node_id: str) -> NodeProc:
        return self.nodes[node_id]

    # --- one-time set-up -------------------------------------------------------------------
    PREPARED = ".prepared"  # in base: identities, enrollment and directory done
    SEEDED = ".seeded"  # in a node's data dir: its schema and demo data done

    def prepare(self, password: str = DEMO_PASSWORD, parallel: bool = False,
                seeded: tuple[str, ...] | None = None,
                progress: Callable[[str], None] | None = None, cases: bool = False) -> None:
        """Identities, enrollment down the hierarchy, the directory, schemas and demo data
        (``parallel``: every node's schema and seed at once, each node's own steps in order;
        ``seeded``: only these nodes get the demo data, every node its schema). ``progress`` hears
        each step; ``cases``: every node also gets demo cases in every state
        (``yiwang seed demo-cases``). A preparation cut short (Ctrl-C, a crash) is redone by the next call: what a
        finished step leaves is marked (``.prepared``, a node's ``.seeded``), and a step found
        unmarked starts again from nothing."""
        say = progress or (lambda _m: None)
        # demo cases begin weeks back; a key signs only records made after it came to be, so the demo's
        # identities are made as of two months ago
        self.prepare_identities(say, since=timedelta(days=60) if cases else timedelta(0))
        steps = (["db", "upgrade"], ["seed", "demo", "--password", password])
        todo = [n for n in self.nodes.values() if not (n.data_dir / self.SEEDED).exists()]
        for n in todo:
            self._forget_database(n)
        if not parallel:
            for i, n in enumerate(todo, 1):
                for cmd in steps:
                    if cmd[0] == "seed" and seeded is not None and n.node_id not in seeded:
                        continue
                    say(f"[{i}/{len(todo)}] {n.node_id} {n.name}: "
                        + ("creating the database" if cmd[0] == "db" else "loading the demo hall (departments, "
                                                                          "accounts, items)"))
                    subprocess.run([sys.executable, "-m", "node.cli", *cmd], env=n.env(), check=True,
                                   stdout=subprocess.DEVNULL)
                if cases:
                    say(f"[{i}/{len(todo)}] {n.node_id} {n.name}: making demo cases in every state through its API")
                    subprocess.run([sys.executable, "-m", "node.cli", "seed", "demo-cases", "--password", password],
                                   env=n.env(), check=True, stdout=subprocess.DEVNULL)
                (n.data_dir / self.SEEDED).touch()
            return
        for cmd in steps:
            say(("creating the databases" if cmd[0] == "db" else "loading the demo data") + " of "
                + ", ".join(n.node_id for n in todo))
            procs = [(n, subprocess.Popen([sys.executable, "-m", "node.cli", *cmd], env=n.env(),
                                          stdout=subprocess.DEVNULL)) for n in todo
                     if cmd[0] != "seed" or seeded is None or n.node_id in seeded]
            failed = [n.node_id for n, p in procs if p.wait() != 0]
            if failed:
                raise subprocess.CalledProcessError(1, f"node.cli {' '.join(cmd[:2])} at {', '.join(failed)}")
        for n in todo:
            (n.data_dir / self.SEEDED).touch()

    def _forget_database(self, n: NodeProc) -> None:
        """An unfinished seed leaves a half-loaded SQLite database: remove it (and its files) so the
        node is seeded from nothing. A node on a server database (``db_urls``) is left as it is."""
        if n.database_url:
            return
        for name in ("yiwang.db", "yiwang.db-wal", "yiwang.db-shm", "yiwang.db-journal"):
            (n.data_dir / name).unlink(missing_ok=True)
        shutil.rmtree(n.data_dir / "materials", ignore_errors=True)

    def prepare_identities(self, say: Callable[[str], None] = lambda _m: None,
                           since: timedelta = timedelta(0)) -> None:
        """Each node's identity and enrollment as of ``since`` ago, the directory as of now."""
        signed_at = datetime.now(UTC)
        now = signed_at - since
        marker = self.base / self.PREPARED
        if not marker.exists():
            for n in self.nodes.values():  # nothing of an unfinished preparation is kept
                if n.data_dir.exists():
                    say(f"{n.data_dir}: an earlier preparation did not finish; starting it again")
                shutil.rmtree(n.data_dir, ignore_errors=True)
            say("creating each node's identity (Ed25519 signing key, TLS certificate), enrolling each node "
                "with its parent, publishing the directory")
            for n in self.nodes.values():
                init_identity(n.data_dir, n.node_id, n.name, n.parent_id, now=now)
            for n in self.nodes.values():
                if n.parent_id is None:
                    continue
                parent = load_identity(self.nodes[n.parent_id].data_dir)
                child = load_identity(n.data_dir)
                install_enrollment(n.data_dir, enroll_child(parent, make_enrollment_request(child), now), now=now)  # type: ignore[arg-type]
            province = load_identity(self.nodes["330000"].data_dir)
            for n in self.nodes.values():
                if n.parent_id == "330000":
                    import_subtree_entries(province, export_subtree_entries(load_identity(n.data_dir), now))  # type: ignore[arg-type]
            signed = publish_directory(province, signed_at)  # type: ignore[arg-type]
            for n in self.nodes.values():
                if n.parent_id is not None:
                    install_directory(load_identity(n.data_dir), signed)  # type: ignore[arg-type]
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()

    # --- processes --------------------------------------------------------------------------
    def start(self, node_id: str, what: str = "all") -> None:
        n = self.nodes[node_id]
        log = open(n.data_dir / f"{what}.log", "ab")
        if what in ("all", "http") and "http" not in n.procs:
            n.procs["http"] = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "node", "run", "--port", str(n.http_port), "--no-migrate",
                 "--workers", str(self.http_workers[0]), "--threads", str(self.http_workers[1])],
                env=n.env(), stdout=log, stderr=subprocess.STDOUT)
        if what in ("all", "fed") and "fed" not in n.procs:
            cmd = [sys.executable, "-m", "node.cli", "federation", "serve", "--listen", n.grpc,
                   "--checkpoint-every", str(self.checkpoint_every)]
            if n.parent_id:
                cmd += ["--parent", self.nodes[n.parent_id].grpc]
            n.procs["fed"] = subprocess.Popen(cmd, env=n.env(), stdout=log, stderr=subprocess.STDOUT)

    def start_all(self) -> None:
        for n in self.nodes:
            self.start(n)
        for n in self.nodes.values():
            wait_http(n.url + "/healthz")

    def kill(self, node_id: str, what: str = "fed", sig: int = signal.SIGKILL) -> None:
        p = self.nodes[node_id].procs.pop(what, None)
        if p is not None and p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=20)

    def stop_all(self) -> None:
        for n in self.nodes.values():
            for what in list(n.procs):
                self.kill(n.node_id, what, signal.SIGTERM)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.time() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.2)


# --- after the start: what only a running federation can show ------------------------------------

def _call(url: str, method: str, path: str, body: object = None, token: str | None = None) -> Any:
    import json
    import urllib.error

    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url + path, method=method, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {path} at {url}: {e.code} {e.read()[:300].decode('utf-8', 'replace')}") from None


def _token(url: str, user: str, password: str) -> str:
    got = _call(url, "POST", "/api/v1/auth/token", {"username": user, "password": password})
    return str(got["token"])


def ask_for_a_remote_material(fed: Federation, say: Callable[[str], None] = lambda _m: None,
                              password: str = DEMO_PASSWORD, timeout: float = 90) -> str | None:
    """The city's planning department asks for a material on the oldest cross-level case's city part
    (through the nodes' APIs, as gh-handler would), so the demo shows a remote part waiting for the
    applicant -- who supplies it on the district's track page. Done once: a federation where a city
    part has been asked for, or worked, is left as it is. Returns the joint case's code, or None."""
    for node in fed.nodes.values():
        parent = fed.nodes.get(node.parent_id or "")
        if parent is None or parent.parent_id is None:  # districts (below a city) only
            continue
        clerk = _token(node.url, "clerk", password)
        items = [i for i in _call(node.url, "GET", "/api/v1/catalog/items") if i.get("kind") == "joint"]
        for item in items:
            parts = _call(node.url, "GET", f"/api/v1/catalog/items/{item['code']}").get("parts") or []
            remote = [k for k, p in enumerate(parts) if p.get("node") == parent.node_id]
            if not remote:
                continue
            cases = _call(node.url, "GET", f"/api/v1/cases?item_code={item['code']}&page_size=50", token=clerk)
            codes = sorted((c["submitted_at"] or "", c["code"]) for c in cases["items"])
            if not codes:
                continue
            code = codes[0][1]
            deadline = time.monotonic() + timeout
            for tries in itertools.count():
                view = _call(node.url, "GET", f"/api/v1/cases/{code}", token=clerk)
                part = view["joint"]["parts"][remote[0]]
                if part.get("status") == "supplementing" or (part.get("link") or {}).get("state") == "received":
                    break
                if tries == 0:
                    say(f"{node.node_id}: waiting for {code}'s part to reach {parent.node_id} ...")
                if time.monotonic() > deadline:
                    say(f"{node.node_id}: {code}'s city part has not arrived within {timeout:.0f}s; left as it is")
                    return None
                time.sleep(0.5)
            linked = part.get("code")  # the linked case's code at the city, once it was received
            if part.get("status") == "supplementing" or not linked:
                return code
            handler = _token(parent.url, "gh-handler", password)
            case = _call(parent.url, "GET", f"/api/v1/cases/{linked}", token=handler)
            worked = [t for t in case["transitions"] if t["event"] not in ("submit", "accept")]
            if case["status"] != "in_progress" or worked:
                return None  # worked at the city already
            own = _call(parent.url, "GET", f"/api/v1/catalog/items/{case['item_code']}")
            required = [m for m in own["materials"] if m.get("requirement") == "required"]
            if not required:
                return None
            m = next((m for m in required if m["code"] in ("design", "site-plan")), required[-1])
            _call(parent.url, "POST", f"/api/v1/cases/{linked}/transitions",
                  {"event": "request_supplement", "version": case["version"],
                   "reason": f"所附{m['name']}不清晰，无法核对设置位置和尺寸，请重新上传清晰的{m['name']}",
                   "missing": [{"material_code": m["code"], "name": m["name"]}]}, handler)
            say(f"{parent.node_id} gh-handler asked for a material on {linked} (part {remote[0] + 1} of {code}): "
                f"the applicant supplies it on {node.url}/track")
            return code
    return None
