"""Notifications end to end: a real Redis broker, a real ``yiwang worker`` process, a real SMS
provider webhook (a local HTTP server), a real database shared by the web side and the worker.

Redis is expected at redis://127.0.0.1:6379 (``YIWANG_TEST_REDIS_URL``, database 9 by default,
flushed before each test). Where it is absent the tests skip with the reason — except under
CI=true, where a missing broker is a failure.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select, update

from node.config import Settings
from node.persistence.models import Notification
from node.services.context import NodeContext
from node.services.notifications import LEASE
from node.tasks.celery_app import DELIVER, SWEEP, make_celery
from tests.support import ID_NUMBER, Client

from .sms_provider import SmsProvider

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REDIS_URL = os.environ.get("YIWANG_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
CI = os.environ.get("CI") == "true"
LOCK = "yiwang-test:notifications-worker"
ROOT = Path(__file__).resolve().parents[2]


# --- the broker -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_db() -> Iterator[str]:
    """A Redis database of our own: the configured one, or the next free one if another test run
    holds it (two runs sharing a queue would consume each other's tasks)."""
    import redis

    base, _, db = REDIS_URL.rpartition("/")
    try:
        first = int(db)
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5).ping()
    except Exception as e:  # noqa: BLE001
        reason = f"Redis not reachable at {REDIS_URL}: {type(e).__name__}: {e}"
        if CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    token = uuid.uuid4().hex
    for n in range(first, 16):
        url = f"{base}/{n}"
        r = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        if r.set(LOCK, token, nx=True, ex=1800):
            break
    else:
        pytest.fail(f"Redis databases {first}-15 are all held by other test runs ({LOCK})")
    try:
        yield url
    finally:
        if r.get(LOCK) == token.encode():
            r.flushdb()


@pytest.fixture
def broker(redis_db: str) -> str:
    import redis

    r = redis.Redis.from_url(redis_db)
    token = r.get(LOCK)
    r.flushdb()  # no message of an earlier test survives into this one
    r.set(LOCK, token or b"", ex=1800)
    return redis_db


# --- the SMS provider, the worker, the web side ------------------------------------------------


@pytest.fixture
def provider() -> Iterator[SmsProvider]:
    with SmsProvider(dedupe=True) as p:
        yield p


class Worker:
    """``python -m node.cli worker --concurrency 2 --no-beat`` in its own process group."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log_path = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> "Worker":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        out = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "worker", "--concurrency", "2", "--no-beat"],
            env=self.env, cwd=self.log_path.parent, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the worker exited with {self.proc.returncode}:\n{self.log()}")
            if re.search(r"Task yiwang\.sweep_notifications\[[^]]+\] succeeded", self.log()[start:]):
                return self  # ready, and its start-up sweep has run (it would race with a test's first row)
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the worker was not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", errors="replace") if self.log_path.exists() else ""

    def kill9(self) -> None:
        """SIGKILL the worker and its pool processes (its own process group) at once."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
        try:  # pool processes left behind by a failed shutdown
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def worker_env(db_url: str, broker: str, provider: SmsProvider, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "YIWANG_"))}
    env.update(DATABASE_URL=db_url, YIWANG_DATA_DIR=str(tmp_path / "worker-data"), CELERY_BROKER_URL=broker,
               YIWANG_NOTIFY_BACKEND="webhook", YIWANG_NOTIFY_WEBHOOK_URL=provider.url, PYTHONUNBUFFERED="1",
               YIWANG_DEMO="1",  # the seeded template's demo accounts (node.services.secrets)
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    return env


@pytest.fixture
def worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Worker]:
    w = Worker(worker_env, tmp_path / "worker" / "worker.log")
    w.start()
    try:
        yield w
    finally:
        w.stop()
        print(f"--- worker log ({w.log_path}) ---\n{w.log()[-20000:]}")  # shown when the test failed


@dataclass
class Web:
    ctx: NodeContext
    api: Client
    celery: Any
    dispatched: list[int] = field(default_factory=list)

    def notifications(self, **where: Any) -> list[Notification]:
        with self.ctx.factory() as s:
            q = select(Notification).order_by(Notification.id)
            for k, v in where.items():
                q = q.where(getattr(Notification, k) == v)
            return list(s.scalars(q))

    def wait(self, cond: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.1)
        rows = [(n.id, n.template, n.status, n.attempts, n.last_error) for n in self.notifications()]
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; outbox: {rows}")


@pytest.fixture
def web(db_url: str, broker: str, provider: SmsProvider, clock, tmp_path: Path) -> Iterator[Web]:  # type: ignore[no-untyped-def]
    """The web side with the real Celery dispatcher (not the list the ``ctx`` fixture uses)."""
    from node.api import create_app
    from node.tasks.dispatch import make_dispatcher

    settings = Settings.from_env({}, database_url=db_url, data_dir=tmp_path / "web-data", broker_url=broker,
                                 notify_backend="webhook", notify_webhook_url=provider.url)
    ctx = NodeContext.build(settings, clock=clock.now)
    enqueue = make_dispatcher(ctx)
    w = Web(ctx, Client(create_app(ctx=ctx).test_client()), make_celery(settings))

    def dispatch(ids: list[int]) -> None:
        w.dispatched.extend(ids)
        enqueue(ids)

    ctx.dispatch_notifications = dispatch
    yield w
    ctx.engine.dispose()


def supply(api: Client, code: str) -> None:
    r = api.post(f"/api/v1/public/cases/{code}/supply",
                 {"id_last4": ID_NUMBER[-4:],
                  "materials": [{"material_code": "site-photo", "upload_id": api.upload("jpg", "site-photo-2")}]})
    assert r.status_code == 200, r.json


def settle(provider: SmsProvider, seconds: float = 1.5) -> None:
    """Give a stray duplicate time to arrive before counting."""
    time.sleep(seconds)


# --- (a) every applicant-facing step reaches the phone once -------------------------------------


def test_each_step_reaches_the_applicant_exactly_once(web: Web, worker: Worker, provider: SmsProvider):
    api = web.api
    approved = api.apply_online(phone="13911110001")
    api.fire(approved, "accept", "clerk")
    api.fire(approved, "request_supplement", "cgj-handler", reason="现场照片不清晰",
             missing=[{"material_code": "site-photo", "name": "门头现场照片"}])
    supply(api, approved)
    api.fire(approved, "undertake", "cgj-handler", opinion="材料齐全，符合条件")
    api.fire(approved, "review", "cgj-reviewer")
    api.fire(approved, "approve", "cgj-approver")
    done = api.fire(approved, "conclude", "clerk")

    refused = api.apply_online(phone="13911110002")
    api.fire(refused, "refuse", "clerk", reason="不属于本部门职权范围")

    denied = api.apply_online(phone="13911110003")
    api.fire(denied, "accept", "clerk")
    api.fire(denied, "undertake", "cgj-handler", opinion="不符合设置规范")
    api.fire(denied, "deny", "cgj-reviewer", reason="店招尺寸超出规划要求")

    silent = api.apply_online(phone=None)  # no phone: no message at all
    api.fire(silent, "accept", "clerk")

    expected = {"13911110001": ["submitted", "accepted", "supplement", "concluded"],
                "13911110002": ["submitted", "refused"],
                "13911110003": ["submitted", "accepted", "denied"]}
    total = sum(map(len, expected.values()))
    assert len(web.dispatched) == total
    web.wait(lambda: len(web.notifications(status="sent")) == total, f"{total} rows sent")
    settle(provider)

    rows = web.notifications()
    assert len(rows) == total and {n.id for n in rows} == set(web.dispatched)
    assert all((n.status, n.attempts, n.last_error) == ("sent", 1, None) for n in rows)
    got: dict[str, list[str]] = {}
    for n in rows:
        got.setdefault(n.recipient, []).append(n.template)
    assert got == expected

    # the provider: one request per row, nothing repeated, each with the row's text and recipient
    assert len(provider.requests) == total and len(provider.delivered) == total
    by_id = {r.body["id"]: r for r in provider.requests}
    assert set(by_id) == {n.id for n in rows}
    for n in rows:
        r = by_id[n.id]
        assert r.key == f"yiwang-notification-{n.id}" and r.status == 200
        assert r.body == {"id": n.id, "to": n.recipient, "text": n.body}
    text = {(n.recipient, n.template): n.body for n in rows}
    assert approved in text[("13911110001", "submitted")]
    assert done["promised_deadline"] in text[("13911110001", "accepted")]
    assert "门头现场照片" in text[("13911110001", "supplement")]
    assert done["license"]["number"] in text[("13911110001", "concluded")]
    assert "不属于本部门职权范围" in text[("13911110002", "refused")]
    assert "不予许可" in text[("13911110003", "denied")] and "店招尺寸超出规划要求" in text[("13911110003", "denied")]


# --- (b) a failing provider: retried with backoff, sent once -----------------------------------


def test_provider_failures_are_retried_until_one_delivery(web: Web, worker: Worker, provider: SmsProvider):
    provider.fail_first = 2
    web.api.apply_online(phone="13911110004")
    (nid,) = web.dispatched
    web.wait(lambda: web.notifications(id=nid)[0].status == "sent", "the row to be sent after two 503s")
    settle(provider)
    n = web.notifications(id=nid)[0]
    assert (n.status, n.attempts, n.last_error) == ("sent", 3, None)
    assert [(r.key, r.status) for r in provider.requests] == [(f"yiwang-notification-{nid}", 503)] * 2 + [
        (f"yiwang-notification-{nid}", 200)]
    assert len(provider.accepted) == 1 and len(provider.delivered) == 1
    gaps = [b.at - a.at for a, b in zip(provider.requests, provider.requests[1:])]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, f"backoff 1s then 2s expected, got {gaps}"
    # the first failure came in the coalesced task, which hands the row to its own retrying task
    assert "retried by its own task in 1s" in worker.log() and worker.log().count(" retry: Retry in ") == 1


# --- (c) the same notification enqueued several times: sent once -------------------------------


def test_duplicate_enqueues_deliver_once(web: Web, worker: Worker, provider: SmsProvider):
    parked: list[int] = []
    web.ctx.dispatch_notifications = parked.extend  # create the row without enqueuing it
    web.api.apply_online(phone="13911110005")
    (nid,) = parked
    provider.delay = 0.5  # both pool processes are busy with it at the same time
    tasks = [web.celery.send_task(DELIVER, args=[nid]).id for _ in range(2)]
    web.wait(lambda: web.notifications(id=nid)[0].status == "sent", "the row to be sent")
    tasks.append(web.celery.send_task(DELIVER, args=[nid]).id)  # a late repeat, after it was sent
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(f"[{t}] succeeded" in worker.log() for t in tasks) < 3:
        time.sleep(0.1)
    settle(provider)
    log = worker.log()
    outcomes = sorted(next(line.rsplit(": ", 1)[-1] for line in log.splitlines() if f"[{t}] succeeded" in line)
                      for t in tasks)
    assert outcomes == ["'sent'", "'skipped'", "'skipped'"], log
    n = web.notifications(id=nid)[0]
    assert (n.status, n.attempts) == ("sent", 1)
    assert len(provider.requests) == 1 and len(provider.accepted) == 1 and len(provider.delivered) == 1


# --- (d) the worker dies mid-send: the row is not re-sent within its lease; afterwards the sweep
#         re-sends it with the same idempotency key, which the provider drops ----------------------


def test_worker_killed_mid_send_is_recovered_without_a_second_sms(web: Web, worker: Worker,
                                                                   provider: SmsProvider):
    import threading

    provider.hold = threading.Event()
    web.api.apply_online(phone="13911110006")
    (nid,) = web.dispatched
    assert provider.held.wait(30), f"no request reached the provider:\n{worker.log()}"
    worker.kill9()  # the provider has the request; the worker never learns the answer
    provider.hold.set()
    provider.hold = None
    n = web.notifications(id=nid)[0]
    assert (n.status, n.attempts) == ("sending", 1)

    worker.start()  # a new worker on the same log, database and broker
    task = web.celery.send_task(DELIVER, args=[nid]).id  # e.g. a redelivery or an operator's retry
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and f"[{task}] succeeded" not in worker.log():
        time.sleep(0.1)
    assert f"[{task}] succeeded" in worker.log() and "'skipped'" in worker.log()
    assert web.notifications(id=nid)[0].status == "sending"  # within the lease nobody sends it again

    with web.ctx.factory() as s:  # let the lease lapse instead of waiting five minutes
        claimed = s.get(Notification, nid).claimed_at  # type: ignore[union-attr]
        s.execute(update(Notification).where(Notification.id == nid)
                  .values(claimed_at=claimed - LEASE - timedelta(seconds=5)))
        s.commit()
    web.celery.send_task(SWEEP)  # what beat runs every minute
    web.wait(lambda: web.notifications(id=nid)[0].status == "sent", "the swept row to be sent")
    settle(provider)
    n = web.notifications(id=nid)[0]
    assert (n.status, n.attempts) == ("sent", 2)
    key = f"yiwang-notification-{nid}"
    assert [(r.key, r.status) for r in provider.requests] == [(key, 200), (key, 200)]  # sent twice ...
    assert len(provider.delivered) == 1  # ... but the provider reached the phone once (same key)


# --- (e) a row whose message died with a worker (taken, unacknowledged, killed -9 before it ran)
#         or was never published: the next worker to start sends it, without waiting for beat --------


def test_a_starting_worker_sends_what_no_message_is_left_for(web: Web, worker: Worker, provider: SmsProvider):
    worker.kill9()
    parked: list[int] = []
    web.ctx.dispatch_notifications = parked.extend  # the row is committed; no message reaches the broker
    web.api.apply_online(phone="13911110007")
    (nid,) = parked
    assert web.notifications(id=nid)[0].status == "pending"
    worker.start()  # --no-beat: only the start-up sweep can find the row
    web.wait(lambda: web.notifications(id=nid)[0].status == "sent", "the row to be sent by the new worker")
    settle(provider)
    assert [r.key for r in provider.requests] == [f"yiwang-notification-{nid}"]
