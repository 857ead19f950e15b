"""Federation sync benchmark: a county's signed log pushed to its city and on to the province.

Three real nodes on this machine — county 330105 (拱墅区), city 330100 (杭州市), province 330000
(浙江省) — each with its own fresh PostgreSQL database (the county too) and its federation
identity enrolled down the hierarchy exactly as ``yiwang demo`` does it (mTLS, signed directory).
The city and the province, and the county's uplink, run as ``yiwang federation serve`` processes.

The county's log is produced by the project's own code, without going through the HTTP API. The
county's database holds the demo hall (``node.seed.load_demo``, as ``yiwang seed demo``). The bench
generates case lifecycles in bulk (about 2,000 cases open at once): each case a ``Case`` of one of
the hall's items (service code from ``node.domain.servicecode``, a resident ID checked by
``node.domain.identity``, five material digests), moved through the state machine
(``node.domain.lifecycle.decide``, deadlines by ``node.domain.deadlines``, a license on approval)
and each event recorded as the services record it (``Work.case_event`` -> the node's event sink,
the federation's ``SignedLog``: masked name and ID, keyed hashes, license digest). A chunk of
events is one unit of work (``NodeContext.uow``): queued with its commit (on PostgreSQL the events
are committed to the queue with the change) and sealed, chained, added to the Merkle tree, inserted and applied
to the county's own library right after it (``SignedLog.seal_queued``).

Phases (one run):

1. baseline   ``openssl speed ed25519`` verifies/s on one core, and Python ``cryptography``'s.
2. generate   N records appended at the county (records/s of the append path).
3. hop 1      county -> city alone (the city has no uplink yet): records/s verified and stored,
              from the city's head over time.
4. hop 2      city -> province alone (the county's uplink stopped).
5. pipeline   city and province reset; county -> city -> province all at once.
6. steady     records appended at ``--rate``/s (chunks every 100 ms) with everything running: lag
              from the county's commit to the record being visible at the city and at the province
              (heads polled every ``--poll`` s).
7. outage     the city is killed for ``--outage`` s while the county keeps appending at the same
              rate; then restarted, and the backlog drained while arrivals continue. Catch-up rate =
              records applied per second from the first record after the restart until the lag is
              back within the target; compared with the arrival rate.
8. check      every node holds the same log (head, Merkle frontier, counts), no alert was raised.

Uplinks push batches of ``--batch-size`` records (default 5000, the server's ``MAX_BATCH`` and the
default of ``yiwang federation serve``; smaller batches cost a fixed share per batch — pass
``--batch-size 1000`` to measure that). Every process reports the CPU it spent per phase, with what the rest of the
machine used meanwhile: on a shared machine the rates are only as good as the idle cores.

    python bench/sync.py                  # full run: 200,000 records, 60 s steady, 60 s outage
    python bench/sync.py --outage 600     # with the real 10-minute outage
    python bench/sync.py --quick          # smoke run (20,000 records, short phases)

Environment: ``YIWANG_BENCH_PG_URL`` (an admin connection to PostgreSQL, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). The bench creates
``yiwang_bench_sync_<node>_<pid>`` databases and drops them at the end. The targets are
informational: PASS/MISS is printed, the exit status is 0 unless the run itself failed.
"""
from __future__ import annotations

import argparse
import bisect
import functools
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import create_engine, select, text

# The project's code the bench is built from (public functions; keep this list working).
from federation.demo import Federation
from federation.inbox import verify_signature
from federation.plugin import attach
from node.config import Settings
from node.domain.identity import resident_id_check, validate_id
from node.domain.items import StageDef
from node.domain import deadlines
from node.domain.lifecycle import Actor, Event, Result, Status, decide, responsible_roles
from node.domain.roles import Role
from node.domain.servicecode import make_code, random_part
from node.persistence.migrate import upgrade
from node.persistence.models import Case, CaseMaterial, Department, License, Staff
from node.seed import load_demo
from node.services.cases import state_of
from node.services.catalog import list_items, stage_defs
from node.services.context import NodeContext, Work
from node.services.org import list_departments

TARGET_HOP = 5000.0  # records/s verified and stored, per hop
TARGET_LAG_P99 = 2.0  # seconds, county commit -> visible at the province, at the steady rate
TARGET_CATCHUP = 3.0  # catch-up rate / arrival rate

PROVINCE, CITY, COUNTY = "330000", "330100", "330105"
NODES = [(PROVINCE, "浙江省", None, "浙江省政务服务中心"), (CITY, "杭州市", PROVINCE, "杭州市民中心"),
         (COUNTY, "拱墅区", CITY, "拱墅区行政服务中心")]
TICK = 0.1  # seconds between appended chunks at the fixed rate


def _say(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------------------------
# CPU accounting (Linux /proc): what each process and the machine spent during a phase

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / _HZ
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / _HZ, sum(v[:8]) / _HZ


# --------------------------------------------------------------------------------------------------
# baselines


def openssl_verifies(seconds: int) -> tuple[float, str]:
    """``openssl speed -seconds S ed25519`` (one process: one core); returns (verifies/s, version)."""
    exe = shutil.which("openssl")
    if exe is None:
        return float("nan"), "openssl not found"
    version = subprocess.run([exe, "version"], capture_output=True, text=True).stdout.strip()
    p = subprocess.run([exe, "speed", "-seconds", str(seconds), "ed25519"], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if "Ed25519" in line:
            nums = re.findall(r"[\d.]+", line.split(")", 1)[-1])
            if len(nums) >= 4:
                return float(nums[3]), version
    return float("nan"), version + " (unparsed output)"


def python_verifies(seconds: float) -> float:
    """Ed25519 verifies/s through ``federation.inbox.verify_signature`` (the receivers' check)."""
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    body = os.urandom(700)  # about a record's size
    sig = key.sign(body)
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(500):
            if not verify_signature(pub, sig, body):
                raise AssertionError("verification failed")
        n += 500
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt


# --------------------------------------------------------------------------------------------------
# PostgreSQL


def _pg_exec(admin_url: str, *sql: str) -> None:
    eng = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as c:
            for q in sql:
                c.execute(text(q))
    finally:
        eng.dispose()


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as a psycopg connection string."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def fresh_database(admin_url: str, name: str) -> str:
    _pg_exec(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    return url


# --------------------------------------------------------------------------------------------------
# identities: init, enrollment down the hierarchy, the province's signed directory (as ``yiwang demo``)


def make_identities(base: Path) -> dict[str, Path]:
    """The nodes' federation identities under ``base/<node>``, made by ``federation.demo.Federation``."""
    fed = Federation(base, nodes=NODES)
    fed.prepare_identities()
    return {n: fed[n].data_dir for n, *_ in NODES}


# --------------------------------------------------------------------------------------------------
# the county's case events: bulk-generated case lifecycles, every event built by the project's code


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文辉鹏飞婷雪琳晨宇浩然子轩梓涵欣怡思远嘉豪俊杰佳颖志强海燕晓东春梅"
ORGS = ["杭州{}餐饮管理有限公司", "杭州{}建设工程有限公司", "杭州{}广告传媒有限公司", "杭州{}商贸有限公司",
        "{}便利店", "杭州{}渣土运输有限公司"]
REGIONS = ["330105", "330106", "330102", "330110", "330108", "110105", "320102"]
REASONS = {"request_supplement": "请补正：房屋产权人同意设置的证明未加盖公章",
           "refuse": "申请事项不属于本机关职权范围",
           "deny": "设置位置不符合户外广告设置规划",
           "extension": "需现场勘验，延长审查期限"}
EXTENSION_DAYS = 5


def _id_number(rng: random.Random) -> str:
    """A resident ID number with its check digit, validated as intake validates it."""
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return validate_id("resident_id", body + resident_id_check(body))


SCRIPTED_STAGES = (["accept", "conclude"], ["accept", "undertake", "review", "approve", "conclude"])


def _script(rng: random.Random, n_stages: int) -> list[str]:
    """The events a case will see, in order: mostly straight through, a few refused, sent for
    supplement, denied or extended; 40% of the ended ones rated."""
    if n_stages == 2:  # immediate items: accept, conclude
        events = ["submit", "accept", "conclude"]
    else:
        events = ["submit", "accept", "undertake", "review", "approve", "conclude"]
        r = rng.random()
        if r < 0.03:
            events = ["submit", "refuse"]
        elif r < 0.10:
            events = ["submit", "accept", "request_supplement", "supply", "undertake", "review", "approve",
                      "conclude"]
        elif r < 0.13:
            events = ["submit", "accept", "undertake", "review", "approve", "deny"]
        elif r < 0.16:
            events = ["submit", "accept", "undertake", "extension", "review", "approve", "conclude"]
    if events[-1] in ("conclude", "deny") and rng.random() < 0.4:
        events.append("evaluation")
    return events


@dataclass
class SimCase:
    case: Case  # as the services hold it for the signed record (never added to a session)
    stages: list[StageDef]  # its item's
    events: list[str]  # what is still to happen to it, from ``step``
    step: int = 0


class CaseStream:
    """Interleaved case lifecycles (about 2,000 cases open at once) in the county's demo hall.

    Each case is a ``Case`` of one of the hall's published items, moved through the project's
    state machine (``node.domain.lifecycle.decide``, by a staff member of a responsible role) and
    recorded through the unit of work's ``case_event`` -- the node's event sink, the federation's
    ``SignedLog``, as the services record them -- so the masking, keyed hashes, material digests
    and license digests are the project's own; deadlines follow ``node.domain.deadlines``."""

    def __init__(self, ctx: NodeContext, seed: int = 20260302, open_cases: int = 2000) -> None:
        self.rng = random.Random(seed)
        self.calendar = ctx.calendar()
        # The items whose cases the script below knows how to walk: immediate ones (accept, conclude) and
        # the five standard stages; joint items and items with other stages (a joint site inspection ...) are
        # not simulated.
        self.items = [(v, st) for v in ctx.run(None, list_items) if (st := stage_defs(v))
                      and [str(d.kind) for d in st] in SCRIPTED_STAGES and v.kind != "joint"]
        self.dept_codes = {d.id: d.code for d in ctx.run(None, list_departments)}
        self.staff: dict[tuple[str, int | None], list[int]] = {}  # (role, department) -> ids
        self.by_role: dict[str, list[int]] = {}
        with ctx.factory() as s:
            for sid, role, dept in s.execute(select(Staff.id, Staff.role, Staff.department_id).order_by(Staff.id)):
                self.staff.setdefault((role, dept), []).append(sid)
                self.by_role.setdefault(role, []).append(sid)
        self.open: list[SimCase] = []
        self.open_cases = open_cases

    def _staff(self, role: Role, dept: int) -> Actor:
        """A staff member of ``role``: of the case's department if it has one, else any (the
        hall-wide window clerks, the service point's agent)."""
        ids = self.staff.get((role.value, dept)) or self.by_role[role.value]
        return Actor("staff", self.rng.choice(ids), role, dept)

    def _digest(self) -> str:
        return self.rng.getrandbits(256).to_bytes(32, "big").hex()

    def _new_case(self, today: date) -> SimCase:
        rng = self.rng
        v, stages = rng.choice(self.items)
        person = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        org = rng.choice(ORGS).format("".join(rng.choice(GIVEN) for _ in range(2))) if rng.random() < 0.5 else None
        case = Case(code=make_code(COUNTY, today, random_part()), department_id=v.department_id,
                    item_version_id=v.id, item_code=v.item.code,
                    channel=rng.choices(["online", "window", "agent"], [70, 25, 5])[0], processing="online",
                    applicant_name=person, applicant_id_type="resident_id", applicant_id_number=_id_number(rng),
                    applicant_org=org, status="submitted", stage_index=None, paused_days=0, extended_days=0,
                    version=1)
        case.item_version = v
        case.materials = [CaseMaterial(department_id=v.department_id, digest=self._digest()) for _ in range(5)]
        return SimCase(case, stages, _script(rng, len(stages)))

    def emit(self, uow: Work, now: datetime) -> None:
        """The next event of one of the open cases, recorded in ``uow``."""
        rng = self.rng
        if len(self.open) < self.open_cases:
            i = len(self.open)
            self.open.append(self._new_case(now.date()))
        else:
            i = rng.randrange(len(self.open))
        sim = self.open[i]
        event = sim.events[sim.step]
        sim.step += 1
        if sim.step == len(sim.events):  # closed: the last open case takes its place
            self.open[i] = self.open[-1]
            self.open.pop()
        case = sim.case
        kw: dict[str, Any] = {}
        if event == "submit":  # as intake records it: the applicant online, else the clerk or the agent
            actor = None if case.channel == "online" else self._staff_for_channel(case)
        elif event == "evaluation":  # as public.evaluate_case records it
            actor, kw["evaluation_score"] = None, rng.choices([5, 4, 3, 2, 1], [70, 18, 7, 3, 2])[0]
        elif event == "extension":  # as cases.decide_extension records an approved one
            actor = self._chief(case)
            self._extend(case)
            kw.update(reason=REASONS[event], extension_days=EXTENSION_DAYS)
        else:  # as cases.apply_transition records it
            actor, kw["reason"] = self._transition(sim, event, now.date()), REASONS.get(event)
        uow.case_event(case, event, occurred_at=now, actor=actor.label if actor else "applicant",
                       actor_role=actor.role.value if actor is not None and actor.role else None, **kw)

    def _staff_for_channel(self, case: Case) -> Actor:
        return self._staff(Role.CLERK if case.channel == "window" else Role.AGENT, case.department_id)

    def _chief(self, case: Case) -> Actor:
        return self._staff(Role.CHIEF, case.department_id)

    def _transition(self, sim: SimCase, event: str, on: date) -> Actor:
        """Move the case through ``decide`` (by a staff member of a responsible role, or the
        applicant); its deadlines, result and license follow. Returns the actor."""
        case, ev = sim.case, Event(event)
        before = state_of(case)
        if ev == Event.SUPPLY:
            actor = Actor("applicant")
            case.materials.append(CaseMaterial(department_id=case.department_id, digest=self._digest()))
        else:
            actor = self._staff(min(responsible_roles(before, sim.stages, ev) - {Role.CHIEF}), case.department_id)
        d = decide(before, sim.stages, ev, actor, reason=REASONS.get(event))
        case.status = d.after.status.value
        case.stage_index = d.after.stage_index
        case.resume_status = d.after.resume_status.value if d.after.resume_status else None
        case.resume_stage_index = d.after.resume_stage_index
        v = case.item_version
        deadlines.after_decision(deadlines.Clock.of(case), d, on, self.calendar, v.legal_limit_days,
                                 v.promised_limit_days).write_to(case)
        if d.after.status == Status.CONCLUDED:
            case.result = d.result.value if d.result else None
            if d.result == Result.APPROVED and v.issues_license:
                self._issue_license(case, on)
        return actor

    def _extend(self, case: Case) -> None:
        deadlines.extended(deadlines.Clock.of(case), EXTENSION_DAYS, self.calendar).write_to(case)

    def _issue_license(self, case: Case, on: date) -> None:
        v = case.item_version
        number = f"{COUNTY}-{self.dept_codes[case.department_id].upper()}-{on:%Y}-" + random_part()
        until = on + timedelta(days=v.license_validity_days) if v.license_validity_days else None
        case.license = License(number=number, department_id=case.department_id, name=v.license_name or v.name,
                               holder_name=case.applicant_org or case.applicant_name,
                               holder_id_number=case.applicant_id_number, valid_from=on, valid_until=until,
                               status="valid")


class County:
    """The county's node in-process: the demo hall on its own database, its log appended by units
    of work as the services' are (events recorded while the transaction is open, queued at its
    commit by the ``SignedLog``'s commit hook) and sealed right after by its ``seal_queued``."""

    def __init__(self, url: str, data_dir: Path, id_key: bytes) -> None:
        hall = next(h for n, _name, _parent, h in NODES if n == COUNTY)
        self.ctx = NodeContext.build(Settings.from_env({}, database_url=url, data_dir=data_dir, node_id=COUNTY,
                                                       node_name=hall))
        for _ in load_demo(self.ctx, secrets.token_urlsafe(12)):  # the hall of `yiwang seed demo`
            pass
        if self.ctx.signer is None:  # the federation plugin gave the context its ports from the identity
            raise SystemExit(f"{COUNTY} has no federation identity in {data_dir}")
        attach(self.ctx, self.ctx.signer, id_key)
        self.ctx.link_queued = lambda: None  # no linker at commit: append() seals right after it
        self.stream = CaseStream(self.ctx)
        self.commits: list[tuple[float, int, int]] = []  # (monotonic commit time, first seq, last seq)

    @property
    def head(self) -> int:
        return self.commits[-1][2] if self.commits else 0

    def append(self, n: int) -> tuple[float, int, int]:
        now = self.ctx.clock()
        with self.ctx.uow(now=now) as uow:
            # Held for the transaction: the event builder's look-up of the case's department then
            # hits the session's (weak) identity map instead of querying once per event.
            departments = uow.session.scalars(select(Department)).all()  # noqa: F841
            for _ in range(n):
                self.stream.emit(uow, now)
            uow.commit()  # PostgreSQL: the events committed to the queue with the transaction
        first = self.head + 1
        assert self.ctx.events is not None
        sealed = self.ctx.events.seal_queued(self.ctx.factory, now)
        assert sealed == n, f"{sealed} of {n} events sealed"
        c = (time.monotonic(), first, first + n - 1)
        self.commits.append(c)
        return c

    def commit_time(self, seq: int) -> float:
        """When record ``seq`` was committed at the county."""
        i = bisect.bisect_left(self.commits, seq, key=lambda c: c[2])
        return self.commits[i][0]

    def seq_at(self, t: float) -> int:
        """The county's head at monotonic time ``t``."""
        i = bisect.bisect_right(self.commits, t, key=lambda c: c[0])
        return self.commits[i - 1][2] if i else 0

    def close(self) -> None:
        self.ctx.engine.dispose()


# --------------------------------------------------------------------------------------------------
# federation processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class FedNode:
    node_id: str
    hall: str
    parent: "FedNode | None"
    data_dir: Path
    db_url: str
    id_key: str
    batch_size: int
    checkpoint_every: float
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None
    cpu_done: float = 0.0  # CPU seconds of earlier (stopped) processes of this node

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "federation.log"

    def env(self) -> dict[str, str]:
        e = dict(os.environ)
        e.pop("CELERY_BROKER_URL", None)
        e.update(YIWANG_DATA_DIR=str(self.data_dir), DATABASE_URL=self.db_url, YIWANG_NODE_ID=self.node_id,
                 YIWANG_NODE_NAME=self.hall, YIWANG_ID_HASH_KEY=self.id_key, PYTHONUNBUFFERED="1",
                 YIWANG_DEMO="1")  # the demo hall's data: demo mode (node.services.secrets)
        return e

    def start(self, uplink: bool) -> None:
        assert self.proc is None or self.proc.poll() is not None
        cmd = [sys.executable, "-m", "node.cli", "federation", "serve", "--listen", self.addr,
               "--batch-size", str(self.batch_size), "--checkpoint-every", str(self.checkpoint_every)]
        if uplink and self.parent is not None:
            cmd += ["--parent", self.parent.addr]
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {' '.join(cmd[1:])}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.node_id}'s federation process exited with {self.proc.returncode}:\n"
                                 + self.tail())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{self.node_id} did not listen on {self.addr} within 60 s") from None
                time.sleep(0.05)

    def cpu(self) -> float:
        return self.cpu_done + (proc_cpu(self.proc.pid) if self.proc is not None and self.proc.poll() is None else 0.0)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            self.cpu_done += proc_cpu(p.pid)
            p.send_signal(sig)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.proc = None

    def tail(self, n: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------------
# watching the receivers' heads


class HeadPoller(threading.Thread):
    """Polls ``fed_heads`` of the county's origin at each receiver; keeps (time, seq) at every
    change. The time is taken after the query returned: an upper bound of when the record became
    visible (resolution: the poll interval)."""

    def __init__(self, urls: dict[str, str], interval: float) -> None:
        super().__init__(daemon=True)
        self.urls = urls
        self.interval = interval
        self.samples: dict[str, list[tuple[float, int]]] = {n: [(time.monotonic(), 0)] for n in urls}
        self._halt = threading.Event()
        self.error: BaseException | None = None

    def reset(self, node: str) -> None:
        self.samples[node] = [(time.monotonic(), 0)]

    def head(self, node: str) -> int:
        return self.samples[node][-1][1]

    def run(self) -> None:
        conns: dict[str, Any] = {}
        try:
            while not self._halt.is_set():
                for n, u in self.urls.items():
                    try:
                        if n not in conns:
                            conns[n] = psycopg.connect(_libpq(u), autocommit=True, connect_timeout=5)
                        row = conns[n].execute("SELECT seq FROM fed_heads WHERE origin = %s", (COUNTY,)).fetchone()
                    except psycopg.Error:
                        # the database is being recreated and migrated (the pipeline phase): poll it later
                        c = conns.pop(n, None)
                        if c is not None:
                            c.close()
                        continue
                    seq = row[0] if row else 0
                    if seq != self.samples[n][-1][1]:
                        self.samples[n].append((time.monotonic(), seq))
                self._halt.wait(self.interval)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            self.error = e
        finally:
            for c in conns.values():
                c.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def arrival(self, node: str, seq: int) -> float | None:
        """When ``seq`` was first seen at ``node``."""
        s = self.samples[node]
        i = bisect.bisect_left(s, seq, key=lambda x: x[1])
        return s[i][0] if i < len(s) else None

    def wait_for(self, node: str, seq: int, timeout: float, what: str) -> float:
        deadline = time.monotonic() + timeout
        while self.head(node) < seq:
            if self.error is not None:
                raise self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: {node} reached #{self.head(node)} of #{seq} within {timeout:g} s")
            time.sleep(0.02)
        return self.arrival(node, seq)  # type: ignore[return-value]

    def rate(self, node: str, since: float, upto_seq: int) -> tuple[float, float, int, float]:
        """From the first change after ``since`` to the arrival of ``upto_seq``: (records/s, seconds,
        records, seconds from ``since`` to the first change)."""
        s = [x for x in self.samples[node] if x[0] >= since]
        end = self.arrival(node, upto_seq)
        if not s or end is None:
            return float("nan"), float("nan"), 0, float("nan")
        t0, q0 = s[0]
        before = [x for x in self.samples[node] if x[0] < since]
        q_start = before[-1][1] if before else 0
        dt = end - t0
        return ((upto_seq - q0) / dt if dt > 0 else float("nan")), dt, upto_seq - q_start, t0 - since


# --------------------------------------------------------------------------------------------------
# phases


@dataclass
class CpuWindow:
    label: str
    nodes: list[FedNode]
    pg_pids: Callable[[], list[int]]
    start: dict[str, float] = field(default_factory=dict)
    pg_start: dict[int, float] = field(default_factory=dict)
    t0: float = 0.0
    m0: tuple[float, float] = (0.0, 0.0)
    b0: float = 0.0

    def __enter__(self) -> "CpuWindow":
        self.start = {n.node_id: n.cpu() for n in self.nodes}
        self.pg_start = {p: proc_cpu(p) for p in self.pg_pids()}
        self.m0 = machine_cpu()
        t = os.times()
        self.b0 = t.user + t.system
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.monotonic() - self.t0
        self.used = {n.node_id: n.cpu() - self.start[n.node_id] for n in self.nodes}
        self.pg = sum(proc_cpu(p) - self.pg_start.get(p, 0.0) for p in self.pg_pids())
        t = os.times()
        self.bench = t.user + t.system - self.b0
        m1 = machine_cpu()
        self.busy = m1[0] - self.m0[0]
        self.total = m1[1] - self.m0[1]

    def per_record(self, receiver: str, label: str, n: int) -> str:
        """The receiver's CPU per record (its process ran before the phase: no start-up in it)."""
        us = self.used[receiver] / n * 1e6
        return (f"    CPU per record: {label} process {us:,.0f} us (signature checks run beside the writes, on "
                f"another core), postgres {self.pg / n * 1e6:,.0f} us (all three databases)")

    def line(self) -> str:
        names = {PROVINCE: "province", CITY: "city", COUNTY: "county"}
        parts = [f"{names[k]} {v:.1f}" for k, v in self.used.items() if v > 0.05]
        ours = sum(self.used.values()) + self.pg + self.bench
        other = max(0.0, self.busy - ours)
        cores = self.total / self.wall if self.wall > 0 else float("nan")
        return (f"    cpu-s over {self.wall:.1f} s: {', '.join(parts) or '-'}, postgres {self.pg:.1f}, "
                f"bench {self.bench:.1f}; machine busy {self.busy:.1f} of {self.total:.1f} "
                f"({cores:.0f} cores), other processes ~{other:.1f}")


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not xs:
        return float("nan")
    ys = sorted(xs)
    k = max(0, min(len(ys) - 1, int(round(p / 100 * len(ys) + 0.5)) - 1))
    return ys[k]


def lags(county: County, poller: HeadPoller, node: str, lo: int, hi: int) -> list[float]:
    """Per-record lag (s): first seen at ``node`` minus committed at the county, for seq lo..hi."""
    out: list[float] = []
    for t_c, a, b in county.commits:
        if b < lo or a > hi:
            continue
        for seq in range(max(a, lo), min(b, hi) + 1):
            t = poller.arrival(node, seq)
            out.append(float("inf") if t is None else t - t_c)
    return out


class FixedRate:
    """Appends ``rate`` records/s at the county in chunks every ``TICK`` s (open loop: a late chunk
    is appended as soon as possible, the schedule does not slip)."""

    def __init__(self, county: County, rate: float) -> None:
        self.county = county
        self.chunk = max(1, int(round(rate * TICK)))
        self.interval = self.chunk / rate
        self.t0 = time.monotonic()
        self.k = 0
        self.late_max = 0.0

    def step(self) -> None:
        """Wait for the next tick and append one chunk."""
        t = self.t0 + self.k * self.interval
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self.late_max = max(self.late_max, -delay)
        self.county.append(self.chunk)
        self.k += 1


def _fmt(x: float, nd: int = 0) -> str:
    return "-" if x != x else f"{x:,.{nd}f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --------------------------------------------------------------------------------------------------
# the run: arguments, set-up, one function per phase, the report, clean-up


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python bench/sync.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000, help="records in the county's log before the hops")
    ap.add_argument("--chunk", type=int, default=1000, help="records per append transaction while generating")
    ap.add_argument("--rate", type=float, default=500.0, help="records/s arriving in the steady and outage phases")
    ap.add_argument("--steady", type=float, default=60.0, help="seconds of the steady-rate lag phase")
    ap.add_argument("--outage", type=float, default=60.0, help="seconds the city is down (600 = the 10-minute figure)")
    ap.add_argument("--poll", type=float, default=0.02, help="seconds between head polls (lag resolution)")
    ap.add_argument("--batch-size", type=int, default=5000,
                    help="records per pushed batch: 'federation serve --batch-size' (default 5000, the "
                         "server's MAX_BATCH)")
    ap.add_argument("--checkpoint-every", type=float, default=30.0, help="seconds between checkpoints of each uplink")
    ap.add_argument("--openssl-seconds", type=int, default=3)
    ap.add_argument("--skip-pipeline", action="store_true", help="skip the concurrent pipeline phase")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20,000 records, 10 s steady, 15 s outage")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (identities, logs)")
    ap.add_argument("--pg-url", default=os.environ.get("YIWANG_BENCH_PG_URL",
                                                       "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                    help="admin connection used to create and drop the bench databases")
    args = ap.parse_args(argv)
    if args.quick:
        args.records = min(args.records, 20_000)
        args.steady, args.outage, args.openssl_seconds = 10.0, 15.0, 1
    return args


@dataclass
class Run:
    """What the phases share: the arguments, the nodes, the county, the head poller and the figures."""

    args: argparse.Namespace
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="yiwang-bench-sync-")))
    id_key: str = field(default_factory=lambda: secrets.token_hex(16))
    dbs: dict[str, str] = field(default_factory=lambda: {n: f"yiwang_bench_sync_{n}_{os.getpid()}" for n, *_ in NODES})
    urls: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, FedNode] = field(default_factory=dict)
    county: County | None = None
    poller: HeadPoller | None = None
    n_total: int = 0  # the county's head after the generate phase: what each hop moves
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def fed(self) -> list[FedNode]:
        return [self.nodes[COUNTY], self.nodes[CITY], self.nodes[PROVINCE]]

    def pg_pids(self) -> list[int]:
        """The PostgreSQL backends serving the bench's databases."""
        with psycopg.connect(_libpq(self.args.pg_url), autocommit=True) as c:
            return [r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)",
                                            (list(self.dbs.values()),))]

    def window(self, label: str, nodes: list[FedNode] | None = None) -> CpuWindow:
        return CpuWindow(label, self.fed if nodes is None else nodes, self.pg_pids)


def baseline(run: Run) -> None:
    """1. Ed25519 verifies/s: openssl on one core, and the receivers' own check."""
    secs = run.args.openssl_seconds
    ossl, version = openssl_verifies(secs)
    pyv = python_verifies(min(3.0, float(secs)))
    run.report.update(openssl=ossl, python=pyv)
    _say(f"baseline: openssl speed -seconds {secs} ed25519 ({version}): "
         f"{_fmt(ossl)} verifies/s on one core; Python cryptography (federation.inbox.verify_signature): "
         f"{_fmt(pyv)} verifies/s")


def set_up(run: Run) -> None:
    """Identities, fresh databases, the nodes' processes (not started) and the county in-process."""
    args = run.args
    _say(f"setup: identities for {', '.join(n for n, *_ in NODES)} (enrolled, signed directory) in a temp dir; "
         f"PostgreSQL databases {', '.join(run.dbs.values())}")
    _say("demo mode (YIWANG_DEMO=1) for the nodes' processes: the demo hall's data on throw-away databases")
    dirs = make_identities(run.tmp)
    for n, *_ in NODES:
        run.urls[n] = fresh_database(args.pg_url, run.dbs[n])
    for n, _name, parent, hall in NODES:
        run.nodes[n] = FedNode(n, hall, run.nodes[parent] if parent else None, dirs[n], run.urls[n], run.id_key,
                               args.batch_size, args.checkpoint_every)
    run.county = County(run.urls[COUNTY], dirs[COUNTY], run.id_key.encode())


def generate(run: Run) -> None:
    """2. The county's log: ``--records`` records, ``--chunk`` per transaction."""
    args, county = run.args, run.county
    assert county is not None
    _say(f"generate: {args.records:,} records at the county (PostgreSQL), {args.chunk} per transaction, "
         f"through the unit of work and SignedLog.seal_queued (queue, then seal, chain, tree, insert, "
         f"apply to the county's library)")
    with run.window("generate", []) as w:
        t0 = time.monotonic()
        left = args.records
        while left > 0:
            county.append(min(args.chunk, left))
            left -= min(args.chunk, left)
        gen_dt = time.monotonic() - t0
    run.report["append"] = args.records / gen_dt
    _say(f"    {args.records:,} records in {gen_dt:.1f} s: {run.report['append']:,.0f} records/s appended")
    _say(w.line())
    run.n_total = county.head
    run.poller = HeadPoller({CITY: run.urls[CITY], PROVINCE: run.urls[PROVINCE]}, args.poll)
    run.poller.start()


def _hop(run: Run, key: str, sender: str, receiver: str, name: str) -> None:
    """Start the sender's uplink and time until the receiver holds every record."""
    poller = run.poller
    assert poller is not None
    with run.window(key) as w:
        since = time.monotonic()
        run.nodes[sender].start(uplink=True)
        poller.wait_for(receiver, run.n_total, 3600, key)
    r, dt, n, startup = poller.rate(receiver, since, run.n_total)
    run.report[key] = r
    _say(f"    {n:,} records verified and stored at the {name} in {dt:.1f} s after the first batch "
         f"({startup:.1f} s to start and connect): {r:,.0f} records/s")
    _say(w.line())
    _say(w.per_record(receiver, name, n))


def hop1(run: Run) -> None:
    """3. County -> city alone (the city has no uplink yet)."""
    _say(f"hop 1: county -> city, {run.n_total:,} records (the city has no uplink; batches of {run.args.batch_size})")
    run.nodes[CITY].start(uplink=False)
    _hop(run, "hop1", COUNTY, CITY, "city")
    run.nodes[COUNTY].stop()


def hop2(run: Run) -> None:
    """4. City -> province alone (the county's uplink stopped)."""
    _say(f"hop 2: city -> province, {run.n_total:,} records (the county's uplink stopped)")
    run.nodes[PROVINCE].start(uplink=False)
    run.nodes[CITY].stop()
    _hop(run, "hop2", CITY, PROVINCE, "province")


def pipeline(run: Run) -> None:
    """5. City and province reset; county -> city -> province at once (leaves every uplink running)."""
    nodes, poller, n_total = run.nodes, run.poller, run.n_total
    assert poller is not None
    _say(f"pipeline: city and province databases recreated; county -> city -> province at once, "
         f"{n_total:,} records")
    nodes[CITY].stop()
    nodes[PROVINCE].stop()
    for n in (CITY, PROVINCE):
        fresh_database(run.args.pg_url, run.dbs[n])
        poller.reset(n)
    nodes[PROVINCE].start(uplink=False)
    nodes[CITY].start(uplink=True)
    with run.window("pipeline") as w:
        since = time.monotonic()
        nodes[COUNTY].start(uplink=True)
        poller.wait_for(PROVINCE, n_total, 3600, "pipeline")
    rc, _, _, first = poller.rate(CITY, since, n_total)
    end = poller.arrival(PROVINCE, n_total)
    assert end is not None  # wait_for saw it arrive
    e2e = n_total / (end - (since + first))
    run.report["pipeline"] = e2e
    _say(f"    city {rc:,.0f} records/s; all {n_total:,} at the province {end - since - first:.1f} s after the "
         f"first reached the city: {e2e:,.0f} records/s end to end")
    _say(w.line())


def steady(run: Run) -> None:
    """6. ``--rate`` records/s for ``--steady`` s with everything running: the lag of each hop."""
    args, county, poller, report = run.args, run.county, run.poller, run.report
    assert county is not None and poller is not None
    _say(f"steady: {args.rate:g} records/s at the county for {args.steady:g} s ({int(args.rate * TICK)} every "
         f"{TICK * 1000:.0f} ms), everything running; heads polled every {args.poll * 1000:.0f} ms")
    lo = county.head + 1
    with run.window("steady") as w:
        fr = FixedRate(county, args.rate)
        while time.monotonic() - fr.t0 < args.steady:
            fr.step()
        hi = county.head
        poller.wait_for(PROVINCE, hi, 120, "steady drain")
    l_city = lags(county, poller, CITY, lo, hi)
    l_prov = lags(county, poller, PROVINCE, lo, hi)
    l_hop2 = [b - a for a, b in zip(l_city, l_prov)]
    report.update(lag_city=(pct(l_city, 50), pct(l_city, 99), max(l_city)),
                  lag_hop2=(pct(l_hop2, 50), pct(l_hop2, 99), max(l_hop2)),
                  lag_prov=(pct(l_prov, 50), pct(l_prov, 99), max(l_prov)))
    _say(f"    {hi - lo + 1:,} records; appends up to {fr.late_max * 1000:.0f} ms behind schedule")
    for label, key in (("county -> city", "lag_city"), ("city -> province", "lag_hop2"),
                       ("county -> province", "lag_prov")):
        p50, p99, mx = report[key]
        _say(f"    lag {label:<19} p50 {p50 * 1000:7.0f} ms   p99 {p99 * 1000:7.0f} ms   max {mx * 1000:7.0f} ms")
    _say(w.line())


def outage(run: Run) -> None:
    """7. The city killed for ``--outage`` s while the county keeps appending; restarted; the
    catch-up rate of the city and the province until the lag is back within the target."""
    args, county, poller, nodes = run.args, run.county, run.poller, run.nodes
    assert county is not None and poller is not None
    _say(f"outage: the city killed (SIGKILL) for {args.outage:g} s while the county appends {args.rate:g} "
         f"records/s; then restarted, arrivals continuing, until the lag is back within {TARGET_LAG_P99:g} s")
    nodes[CITY].stop(signal.SIGKILL)
    fr = FixedRate(county, args.rate)
    t_down = fr.t0
    while time.monotonic() - t_down < args.outage:
        fr.step()
    with run.window("catch-up") as w:
        t_restart = time.monotonic()
        base = {n: poller.head(n) for n in (CITY, PROVINCE)}
        backlog = county.head - base[PROVINCE]
        nodes[CITY].start(uplink=True)
        caught = _catch_up(run, fr, t_restart)
        poller.wait_for(PROVINCE, county.head, 120, "final drain")
    t_end = max(caught.values())
    arrived = (county.seq_at(t_end) - county.seq_at(t_restart)) / (t_end - t_restart)
    _say(f"    backlog at restart {backlog:,} records ({args.outage:g} s x {args.rate:g}/s); appends up to "
         f"{fr.late_max * 1000:.0f} ms behind schedule, {arrived:,.0f} records/s arrived during the catch-up")
    for n, label in ((CITY, "city"), (PROVINCE, "province")):
        s = [x for x in poller.samples[n] if x[0] > t_restart]
        t_first = s[0][0] if s else float("nan")
        done = caught[n]
        applied = max(q for t, q in poller.samples[n] if t <= done) - base[n]
        rate = applied / (done - t_first) if done > t_first else float("nan")
        run.report[f"catchup_{label}"] = rate
        _say(f"    {label:<8} first record {t_first - t_restart:5.1f} s after the restart, caught up after "
             f"{done - t_restart:5.1f} s: {applied:,} records at {rate:,.0f} records/s = "
             f"{rate / args.rate:.1f}x the arrival rate")
    _say(w.line())


def _catch_up(run: Run, fr: FixedRate, t_restart: float) -> dict[str, float]:
    """Keep appending at the fixed rate until the city and the province each hold everything
    committed ``TARGET_LAG_P99`` s ago; returns when each got there."""
    county, poller = run.county, run.poller
    assert county is not None and poller is not None
    caught: dict[str, float] = {}
    limit = t_restart + max(300.0, 5 * run.args.outage)
    while len(caught) < 2:
        fr.step()
        now = time.monotonic()
        for n in (CITY, PROVINCE):
            if n not in caught and now - t_restart > 1.0:
                if poller.head(n) >= county.seq_at(now - TARGET_LAG_P99):
                    caught[n] = now
        if now > limit:
            raise TimeoutError(f"no catch-up within {limit - t_restart:.0f} s (heads: city "
                               f"{poller.head(CITY)}, province {poller.head(PROVINCE)}, county {county.head})")
    return caught


def end_check(run: Run) -> None:
    """8. Every node holds the same log of the county (head, Merkle frontier, count) and the same
    library (digests of cases and licenses); no alert was raised anywhere."""
    def one(c: Any, sql: str, *params: Any) -> tuple[Any, ...]:
        row = c.execute(sql, params or None).fetchone()
        assert row is not None, sql
        return tuple(row)

    heads = {}
    for n in (COUNTY, CITY, PROVINCE):
        with psycopg.connect(_libpq(run.urls[n]), autocommit=True) as c:
            h = one(c, "SELECT seq, frontier FROM fed_heads WHERE origin = %s", COUNTY)
            cnt = one(c, "SELECT count(*) FROM fed_records WHERE origin = %s", COUNTY)[0]
            alerts = one(c, "SELECT count(*) FROM alerts")[0]
            libc = one(c, "SELECT count(*), md5(string_agg(concat_ws(':', service_code, origin, status, "
                          "last_event, record_seq, record_hash, concluded_at), ',' ORDER BY service_code)) "
                          "FROM lib_cases")
            libl = one(c, "SELECT count(*), md5(string_agg(concat_ws(':', number, service_code, status, "
                          "digest, record_seq), ',' ORDER BY number)) FROM lib_licenses")
            heads[n] = (h[0], h[1], cnt, alerts, libc[0], libl[0], libc[1], libl[1])
    same = len({h[:3] + h[4:] for h in heads.values()}) == 1
    no_alerts = all(h[3] == 0 for h in heads.values())
    agree = ("hold the same log (head, Merkle frontier, count) and library (digest of cases and licenses)"
             if same else "DIFFER: " + repr(heads))
    alerted = "no alerts" if no_alerts else "ALERTS: " + repr({n: h[3] for n, h in heads.items()})
    _say(f"check: county log #{heads[COUNTY][0]:,}, {heads[COUNTY][4]:,} cases, {heads[COUNTY][5]:,} licenses; "
         f"city and province {agree}; {alerted}")


def summary(run: Run) -> None:
    """The figures against their targets, as a table."""
    args, report = run.args, run.report
    _say()
    rows = [
        ("county append (in-process)", f"{report['append']:,.0f} records/s", "", ""),
        ("hop 1 county -> city", f"{report['hop1']:,.0f} records/s",
         f">= {TARGET_HOP:,.0f}/s", _verdict(report["hop1"] >= TARGET_HOP)),
        ("hop 2 city -> province", f"{report['hop2']:,.0f} records/s",
         f">= {TARGET_HOP:,.0f}/s", _verdict(report["hop2"] >= TARGET_HOP)),
    ]
    if "pipeline" in report:
        rows.append(("pipeline, both hops at once", f"{report['pipeline']:,.0f} records/s", "", ""))
    rows += [
        ("lag p99 county -> city", f"{report['lag_city'][1] * 1000:,.0f} ms", "", ""),
        ("lag p99 city -> province", f"{report['lag_hop2'][1] * 1000:,.0f} ms", "", ""),
        ("lag p50 county -> province", f"{report['lag_prov'][0] * 1000:,.0f} ms", "", ""),
        ("lag p99 county -> province", f"{report['lag_prov'][1] * 1000:,.0f} ms",
         f"<= {TARGET_LAG_P99 * 1000:,.0f} ms", _verdict(report["lag_prov"][1] <= TARGET_LAG_P99)),
        (f"catch-up city ({args.outage:g} s outage)", f"{report['catchup_city']:,.0f} records/s "
         f"= {report['catchup_city'] / args.rate:.1f}x", f">= {TARGET_CATCHUP:g}x",
         _verdict(report["catchup_city"] >= TARGET_CATCHUP * args.rate)),
        ("catch-up province", f"{report['catchup_province']:,.0f} records/s "
         f"= {report['catchup_province'] / args.rate:.1f}x", f">= {TARGET_CATCHUP:g}x",
         _verdict(report["catchup_province"] >= TARGET_CATCHUP * args.rate)),
        ("openssl ed25519 verify, 1 core", f"{report['openssl']:,.0f} verifies/s", "", ""),
        ("Python cryptography verify", f"{report['python']:,.0f} verifies/s", "", ""),
    ]
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    _say(f"{'figure':<{w1}}  {'measured':>{w2}}  {'target':<10}  result")
    _say("-" * (w1 + w2 + 22))
    for a, b, c, d in rows:
        _say(f"{a:<{w1}}  {b:>{w2}}  {c:<10}  {d}")
    ossl = report["openssl"]
    if ossl == ossl:  # not NaN: openssl was found
        _say(f"hop rates as a share of openssl verifies/s on one core ({ossl:,.0f}): hop 1 {report['hop1'] / ossl:.2f}, "
             f"hop 2 {report['hop2'] / ossl:.2f}"
             + (f", pipeline {report['pipeline'] / ossl:.2f}" if "pipeline" in report else ""))
    _say(f"run: {args.records:,} records, batches of {args.batch_size}, steady {args.steady:g} s at "
         f"{args.rate:g}/s, outage {args.outage:g} s, checkpoints every {args.checkpoint_every:g} s; "
         f"county, city and province on PostgreSQL")


def show_logs(run: Run) -> None:
    """The tail of each node's federation log, on stderr (the run failed)."""
    for n in run.nodes.values():
        t = n.tail()
        if t:
            print(f"--- {n.node_id} federation log (tail) ---\n{t}", file=sys.stderr)


def clean_up(run: Run, ok: bool) -> None:
    """Stop the poller and the processes, close the county, drop the databases; keep the
    temporary directory if asked to or if the run failed."""
    steps: list[tuple[str, Callable[[], None]]] = []
    if run.poller is not None:
        steps.append(("poller", run.poller.stop))
    steps += [(f"{n.node_id} process", n.stop) for n in run.nodes.values()]
    if run.county is not None:
        steps.append(("county engine", run.county.close))
    steps += [(name, functools.partial(_pg_exec, run.args.pg_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
              for name in run.dbs.values()]
    for what, fn in steps:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - clean up the rest regardless
            print(f"warning: cleaning up {what}: {type(e).__name__}: {e}", file=sys.stderr)
    if run.args.keep or not ok:
        _say(f"kept {run.tmp} (identities, federation logs)")
    else:
        shutil.rmtree(run.tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    run = Run(parse_args(argv))
    _say(f"yiwang federation sync bench — {os.cpu_count()} CPUs, Python {platform.python_version()}, "
         f"all nodes and PostgreSQL on this machine")
    ok = False
    try:
        baseline(run)
        set_up(run)
        generate(run)
        hop1(run)
        hop2(run)
        if run.args.skip_pipeline:
            run.nodes[COUNTY].start(uplink=True)  # the city's uplink runs since hop 2
        else:
            pipeline(run)
        steady(run)
        outage(run)
        end_check(run)
        summary(run)
        ok = True
    except BaseException:
        show_logs(run)
        raise
    finally:
        clean_up(run, ok)
    return 0


if __name__ == "__main__":
    sys.exit(main())
