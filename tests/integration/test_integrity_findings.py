"""Integrity findings (环节完整性监察) end to end, on SQLite and PostgreSQL: a child's signed records
received by a city through the server's apply path (``FederationServicer._apply`` → ``inbox.receive_batch``
→ ``library.apply_records`` → ``integrity.scan_applied``, one unit of work), the periodic rules run by
the beat task itself, the findings read through the inspectors' API; and once over real gRPC."""
from __future__ import annotations

import asyncio
import threading
import time
from datetime import date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from federation.envelope import GENESIS, Parsed, Signer, seal
from federation.grpc.server import FederationServicer
from federation.pb.v1 import federation_pb2 as pb
from node.config import Settings
from node.domain import servicecode
from node.persistence.models import FedLink, FedRecord, IntegrityFinding
from node.services.context import CST, SYSTEM, NodeContext
from node.services.integrity import run_integrity_scan, scan_integrity
from node.tasks.names import SCAN_INTEGRITY
from tests.integration.test_federation_grpc import fed, start, stub_for  # noqa: F401 - the fixture and helpers
from tests.support import Client

pytestmark = pytest.mark.integration

KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
COUNTY = "330105"


class Trust:
    """The directory as the city's server sees it: one child, 330105, signing with k1."""

    node_id = "330100"

    def peer_id(self, context):  # type: ignore[no-untyped-def]
        return COUNTY

    def key_for(self, origin, key_id, at, seq=None):  # type: ignore[no-untyped-def]
        return PUB if (origin, key_id) == (COUNTY, "k1") else None

    def in_subtree(self, peer, origin):  # type: ignore[no-untyped-def]
        return origin == peer

    def is_child(self, peer):  # type: ignore[no-untyped-def]
        return peer == COUNTY

    def is_ancestor(self, ancestor, node):  # type: ignore[no-untyped-def]
        return False

    def signed_directory(self):  # type: ignore[no-untyped-def]
        return b""

    def subtree(self, node_id):  # type: ignore[no-untyped-def]
        return {node_id}


class County:
    """The child's log: records sealed in order with its key."""

    def __init__(self, signer: Signer | None = None) -> None:
        self.signer = signer or Signer(COUNTY, "k1", KEY.sign)
        self.seq, self.prev = 0, GENESIS

    def seal(self, events: list[pb.CaseEvent]) -> list[Parsed]:
        out = []
        for e in events:
            self.seq += 1
            rec = seal(self.signer, self.seq, self.prev, e.recorded_at_ms, e)
            self.prev = rec.hash
            out.append(rec)
        return out


def new_code(on: date = date(2026, 3, 1)) -> str:
    return servicecode.make_code(COUNTY, on, servicecode.random_part())


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _ev(code: str, event: str, status: str, idx: int = -1, kind: str = "", at: int = 0) -> pb.CaseEvent:
    return pb.CaseEvent(service_code=code, item_code="330105-XK-CG-001", item_version=1, event=event, status=status,
                        stage_index=idx, stage_kind=kind, stage_name=kind, occurred_at_ms=at, recorded_at_ms=at,
                        department_code="cgj", department_name="城管局")


def regular(code: str, t: int, upto: int = 6) -> list[pb.CaseEvent]:
    evs = [
        _ev(code, "submit", "submitted", at=t),
        _ev(code, "accept", "in_progress", 1, "undertake", t + 1000),
        _ev(code, "undertake", "in_progress", 2, "review", t + 2000),
        _ev(code, "review", "in_progress", 3, "approve", t + 3000),
        _ev(code, "approve", "in_progress", 4, "conclude", t + 4000),
        _ev(code, "conclude", "concluded", at=t + 5000),
    ]
    return evs[:upto]


def skipping(code: str, t: int) -> list[pb.CaseEvent]:
    """Reviewed straight into the conclusion stage: the approval stage (index 3) skipped."""
    evs = regular(code, t)
    evs[3] = _ev(code, "review", "in_progress", 4, "conclude", t + 3000)
    del evs[4]
    return evs


def push(srv: FederationServicer, recs: list[Parsed]) -> pb.BatchAck:
    return srv._apply(COUNTY, pb.RecordBatch(batch_id=1, records=[
        pb.SignedRecord(body=r.body, signature=r.signature) for r in recs]))


def findings(ctx: NodeContext) -> list[IntegrityFinding]:
    with ctx.factory() as s:
        return list(s.scalars(select(IntegrityFinding).order_by(IntegrityFinding.id)))


@pytest.fixture
def city(db_url, tmp_path, clock):  # type: ignore[no-untyped-def]
    c = NodeContext.build(Settings.from_env({}, database_url=db_url, data_dir=tmp_path / "city", node_id="330100"),
                          clock=clock.now)
    c.dispatch_notifications = lambda ids: None
    yield c
    c.engine.dispose()


@pytest.fixture
def srv(city):  # type: ignore[no-untyped-def]
    return FederationServicer(city, Trust())


def test_a_skipped_stage_in_a_synced_batch_is_one_finding_with_its_evidence(city, srv, clock):  # type: ignore[no-untyped-def]
    county = County()
    t = ms(clock.now() - timedelta(hours=2))
    ok, bad = new_code(), new_code()
    first = county.seal(regular(ok, t) + skipping(bad, t)[:3])  # the case's start in one batch ...
    rest = county.seal(skipping(bad, t)[3:])  # ... the skip in the next: its history comes from lib_events
    statements: list[str] = []

    def seen(conn, cursor, stmt, params, context, many):  # type: ignore[no-untyped-def]
        statements.append(stmt)

    assert push(srv, first).applied == 9
    assert findings(city) == []
    event.listen(city.engine, "before_cursor_execute", seen)
    try:
        assert push(srv, rest).applied == 2
    finally:
        event.remove(city.engine, "before_cursor_execute", seen)
    assert sum("FROM lib_events" in s for s in statements) == 1  # one history read for the batch
    assert not [s for s in statements if "FROM fed_records" in s and "body" in s]  # no log re-read
    [f] = findings(city)
    assert (f.kind, f.subject, f.origin) == ("skipped_stage", bad, COUNTY)
    assert [(e["origin"], e["seq"]) for e in f.evidence] == [(COUNTY, 9), (COUNTY, 10)]  # undertake → review
    with city.factory() as s:
        for e in f.evidence:  # the evidence re-verifies against the origin's key
            row = s.get(FedRecord, (e["origin"], e["seq"]))
            assert row is not None and row.hash == e["hash"]
            KEY.public_key().verify(bytes(row.signature), bytes(row.body))
    # replays: the same batch, both batches at once -- acknowledged, nothing applied, nothing raised
    ack = push(srv, rest)
    assert (ack.applied, ack.duplicates) == (0, 2)
    ack = push(srv, first + rest)
    assert (ack.applied, ack.duplicates) == (0, 11)
    assert [g.id for g in findings(city)] == [f.id]


def test_each_per_case_rule_through_the_receive_path(city, srv, clock):  # type: ignore[no-untyped-def]
    county = County()
    now = clock.now()
    t = ms(now - timedelta(days=1))
    codes = {k: new_code() for k in ("OK", "NOACC", "REF", "BACK", "FUT", "ORDER")}
    events = regular(codes["OK"], t)
    events += [_ev(codes["NOACC"], "submit", "submitted", at=t), _ev(codes["NOACC"], "conclude", "concluded", at=t + 1)]
    events += [_ev(codes["REF"], "submit", "submitted", at=t), _ev(codes["REF"], "refuse", "refused", at=t + 1),
               _ev(codes["REF"], "accept", "in_progress", 1, "undertake", t + 2)]
    back = regular(codes["BACK"], t)
    back[2] = _ev(codes["BACK"], "undertake", "in_progress", 2, "review", t - 10)
    events += back
    fut = regular(codes["FUT"], t)
    fut[5] = _ev(codes["FUT"], "conclude", "concluded", at=ms(now + timedelta(hours=1)))  # after the city stored it
    events += fut
    order = regular(codes["ORDER"], t, upto=2) + [_ev(codes["ORDER"], "approve", "in_progress", 2, "review", t + 2000)]
    events += order
    push(srv, county.seal(events))
    found: dict[str, set[str]] = {}
    for f in findings(city):
        found.setdefault(f.subject, set()).add(f.kind)
    assert codes["OK"] not in found
    assert found[codes["NOACC"]] == {"result_without_acceptance", "out_of_order"}  # (submitted → concluded)
    assert "accept_after_refusal" in found[codes["REF"]]
    assert found[codes["BACK"]] == {"time_backwards"}
    assert found[codes["FUT"]] == {"future_time"}
    assert found[codes["ORDER"]] == {"out_of_order"}
    n = len(findings(city))
    push(srv, county.seal(regular(new_code(), t)))  # a later batch of other cases raises nothing again
    assert len(findings(city)) == n


def test_two_concurrent_applies_of_the_same_batch_raise_once(city, clock):  # type: ignore[no-untyped-def]
    county = County()
    t = ms(clock.now() - timedelta(hours=1))
    bad = new_code()
    recs = county.seal(skipping(bad, t))
    push(FederationServicer(city, Trust()), recs[:2])  # the head exists: both appliers lock it
    barrier = threading.Barrier(2)
    acks: list[pb.BatchAck] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            srv = FederationServicer(city, Trust())
            barrier.wait()
            acks.append(push(srv, recs[2:]))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=run) for _ in range(2)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert not [e for e in errors if "locked" not in str(e)]  # SQLite serialises writers; a loser may time out
    assert sum(a.applied for a in acks) == 3
    assert [(f.kind, f.subject) for f in findings(city)] == [("skipped_stage", bad)]


def test_the_beat_task_finds_a_log_gap_a_stopped_syncing_child_and_an_idle_case(city, srv, clock):  # type: ignore[no-untyped-def]
    """The task builds its own context (the worker's) and reads the system clock: the data is
    placed relative to the real now."""
    from node.tasks.celery_app import make_celery

    real = datetime.now(CST)
    clock.set(real - timedelta(hours=3))
    county = County()
    idle, busy = new_code(real.date()), new_code(real.date())
    push(srv, county.seal(regular(idle, ms(real - timedelta(days=40)), upto=3)))  # accepted, then nothing
    push(srv, county.seal(regular(busy, ms(real - timedelta(hours=3)), upto=3)))  # the county's last push
    clock.set(real - timedelta(minutes=30))
    asyncio.run(srv.GetCursors(pb.CursorsRequest(), None))  # the county still calls in, sends nothing
    with city.factory() as s, s.begin():
        s.execute(delete(FedRecord).where(FedRecord.origin == COUNTY, FedRecord.seq == 2))  # a record lost here
        link = s.get(FedLink, COUNTY)
        assert link is not None and link.head_seq == 6
        assert link.head_advanced_at == real - timedelta(hours=3) and link.last_seen_at == real - timedelta(minutes=30)
        head_hash = s.get(FedRecord, (COUNTY, 6)).hash  # type: ignore[union-attr]
    task = make_celery(city.settings).tasks[SCAN_INTEGRITY]
    assert task() == 3
    assert task() == 0
    assert make_celery(city.settings).tasks[SCAN_INTEGRITY]() == 0  # a restarted worker: nothing again
    got = {f.kind: f for f in findings(city)}
    assert set(got) == {"log_gap", "stopped_syncing", "never_moved"}
    assert (got["log_gap"].subject, got["log_gap"].detail) == (COUNTY, "missing seq 2 below head 6 (1 record)")
    stopped = got["stopped_syncing"]
    assert (stopped.subject, stopped.head_seq, stopped.key) == (COUNTY, 6, f"stopped_syncing:{COUNTY}@6")
    assert stopped.evidence == [{"origin": COUNTY, "seq": 6, "hash": head_hash}]
    assert got["never_moved"].subject == idle and [e["seq"] for e in got["never_moved"].evidence] == [3]


def test_stopped_syncing_is_raised_once_per_stall(city, srv, clock):  # type: ignore[no-untyped-def]
    county = County()
    t0 = clock.now()
    push(srv, county.seal(regular(new_code(), ms(t0), upto=3)))

    def seen_at(at: datetime) -> None:
        clock.set(at)
        srv._contact.clear()  # (the server notes a contact at most every 5 s of its own clock)
        asyncio.run(srv.GetCursors(pb.CursorsRequest(), None))

    def scan_at(at: datetime) -> list[tuple[str, int | None]]:
        clock.set(at)
        run_integrity_scan(city)
        return [(f.kind, f.head_seq) for f in findings(city) if f.kind == "stopped_syncing"]

    seen_at(t0 + timedelta(minutes=30))
    assert scan_at(t0 + timedelta(minutes=90)) == []  # seen before the hour had passed, not since: offline
    seen_at(t0 + timedelta(hours=2))
    assert scan_at(t0 + timedelta(hours=2, minutes=1)) == [("stopped_syncing", 3)]
    assert scan_at(t0 + timedelta(hours=4)) == [("stopped_syncing", 3)]  # the same stall: once
    clock.set(t0 + timedelta(hours=5))
    push(srv, county.seal([_ev(new_code(), "submit", "submitted", at=ms(t0 + timedelta(hours=5)))]))
    seen_at(t0 + timedelta(hours=5, minutes=30))
    assert scan_at(t0 + timedelta(hours=6)) == [("stopped_syncing", 3)]  # advanced an hour ago: fine
    seen_at(t0 + timedelta(hours=7))
    assert scan_at(t0 + timedelta(hours=7)) == [("stopped_syncing", 3), ("stopped_syncing", 4)]  # a new stall


def test_never_moved_counts_the_nodes_working_calendar(city, srv, clock):  # type: ignore[no-untyped-def]
    """Accepted on Monday 2026-09-28, nothing since: by Tuesday 10-13 eleven weekdays have passed
    but only seven working days (National Day, and the make-up Saturday 10-10)."""
    county = County()
    code = new_code(date(2026, 9, 28))
    clock.set(datetime(2026, 9, 28, 10, 0, tzinfo=CST))
    push(srv, county.seal(regular(code, ms(clock.now()), upto=3)))
    clock.set(datetime(2026, 10, 13, 18, 0, tzinfo=CST))
    assert run_integrity_scan(city) == 0
    clock.set(datetime(2026, 10, 16, 18, 0, tzinfo=CST))  # 10 working days: still within the limit
    assert run_integrity_scan(city) == 0
    clock.set(datetime(2026, 10, 19, 9, 0, tzinfo=CST))  # the 11th
    assert run_integrity_scan(city) == 1
    assert [(f.kind, f.subject) for f in findings(city)] == [("never_moved", code)]


def test_two_workers_scanning_at_once_raise_each_finding_once(city, srv, clock):  # type: ignore[no-untyped-def]
    county = County()
    push(srv, county.seal(regular(new_code(), ms(clock.now() - timedelta(days=40)), upto=3)))
    with city.factory() as s, s.begin():
        s.execute(delete(FedRecord).where(FedRecord.origin == COUNTY, FedRecord.seq == 1))
    barrier = threading.Barrier(2)
    got: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with city.uow(SYSTEM) as uow:
                barrier.wait()
                got.append(scan_integrity(uow))
                uow.commit()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=run) for _ in range(2)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    assert not [e for e in errors if "locked" not in str(e)]
    assert sorted(f.kind for f in findings(city)) == ["log_gap", "never_moved"]
    assert sum(got) == 2


def test_inspectors_read_the_findings_and_department_staff_are_refused(city, srv, clock):  # type: ignore[no-untyped-def]
    from node.api import create_app

    county = County()
    bad = new_code()
    push(srv, county.seal(skipping(bad, ms(clock.now() - timedelta(hours=1)))))
    with city.factory() as s, s.begin():  # a finding about a node outside the city's subtree
        s.add(IntegrityFinding(key="log_gap:320102", kind="log_gap", subject="320102", origin="320102",
                               detail="elsewhere", evidence=[], raised_at=clock.now()))
    api = Client(create_app(ctx=city).test_client())
    r = api.get("/api/v1/supervision/findings", user="inspector")
    assert r.status_code == 200, r.json
    [item] = r.json["items"]
    assert (item["kind"], item["subject"], item["origin"], item["head_seq"]) == ("skipped_stage", bad, COUNTY, None)
    assert [(e["origin"], e["seq"]) for e in item["evidence"]] == [(COUNTY, 3), (COUNTY, 4)]
    assert api.get(f"/api/v1/supervision/findings?kind=skipped_stage&origin={COUNTY}", user="inspector").json["items"]
    r = api.get("/api/v1/supervision/findings", user="cgj-handler")
    assert r.status_code == 403, r.json
    assert api.get("/api/v1/supervision/findings").status_code == 401
    for query, field in (("kind=nope", "kind"), ("limit=0", "limit"), ("origin=33", "origin"), ("before=0", "before")):
        r = api.get(f"/api/v1/supervision/findings?{query}", user="inspector")
        assert r.status_code == 422 and field in str(r.json), (query, r.json)
    r = api.post(f"/api/v1/supervision/findings/{item['id']}/review", {"note": " "}, user="inspector")
    assert r.status_code == 422 and "note" in str(r.json)
    r = api.post(f"/api/v1/supervision/findings/{item['id']}/review", {"note": "已核：补录审核环节"}, user="inspector")
    assert r.status_code == 200 and r.json["review_note"] == "已核：补录审核环节"
    assert api.post(f"/api/v1/supervision/findings/{item['id']}/review", {"note": "x"},
                    user="cgj-handler").status_code == 403


def test_over_real_grpc_the_finding_and_the_links_times(fed, clock):  # type: ignore[no-untyped-def]  # noqa: F811
    """SQLite (the federation fixture's nodes): the county's key, mutual TLS, the real server."""
    from node.api import create_app

    city = fed.ctxs["330100"]
    county = County(fed.ctxs[COUNTY].signer)
    bad = new_code(date.today())
    recs = county.seal(skipping(bad, int(time.time() * 1000) + 1000))  # signed after the keys were made

    async def run() -> tuple[pb.BatchAck, pb.BatchAck]:
        server, addr = await start(fed, "330100")
        ch, stub = stub_for(fed, COUNTY, addr, "330100")

        async def push_all() -> pb.BatchAck:
            call = stub.PushRecords()
            await call.write(pb.RecordBatch(batch_id=1, records=[pb.SignedRecord(body=r.body, signature=r.signature)
                                                                 for r in recs]))
            await call.done_writing()
            return await call.read()

        await stub.GetCursors(pb.CursorsRequest())
        first = await push_all()
        again = await push_all()
        await ch.close()
        await server.stop(None)
        return first, again

    first, again = asyncio.run(run())
    assert (first.applied, again.applied, again.duplicates) == (5, 0, 5)
    [f] = findings(city)
    assert (f.kind, f.subject, [e["seq"] for e in f.evidence]) == ("skipped_stage", bad, [3, 4])
    with city.factory() as s:
        link = s.get(FedLink, COUNTY)
        assert link is not None and link.direction == "child" and link.head_seq == 5
        assert link.last_seen_at is not None and link.head_advanced_at is not None
        assert s.scalar(select(func.count()).select_from(FedRecord).where(FedRecord.origin == COUNTY)) == 5
    api = Client(create_app(ctx=city).test_client())
    assert [i["subject"] for i in api.get("/api/v1/supervision/findings", user="inspector").json["items"]] == [bad]


def test_migration_0025_carries_existing_links_over_and_back(db_url):  # type: ignore[no-untyped-def]
    """A child link from before 0025: its last contact becomes last seen, its head and the time
    the head last advanced come from fed_heads; the downgrade drops the columns again."""
    from sqlalchemy import create_engine, text

    from node.persistence.migrate import downgrade, upgrade

    downgrade(db_url, "0024")
    eng = create_engine(db_url)
    with eng.begin() as c:
        c.execute(text("DELETE FROM fed_links"))
        c.execute(text("DELETE FROM fed_heads"))
        at, seen = "2026-03-02 09:00:00+08:00", "2026-03-02 11:00:00+08:00"
        c.execute(text("INSERT INTO fed_heads (origin, seq, hash, frontier, pushed_seq, updated_at) "
                       "VALUES ('330105', 42, :h, '', 0, :at)"), {"h": "ab" * 32, "at": at})
        for peer, direction in (("330105", "child"), ("330000", "parent")):
            c.execute(text("INSERT INTO fed_links (peer, direction, last_success, cursors, sent, failures, updated_at) "
                           "VALUES (:p, :d, :seen, '{}', 0, 0, :seen)"), {"p": peer, "d": direction, "seen": seen})
    eng.dispose()
    upgrade(db_url)
    eng = create_engine(db_url)
    with Session(eng) as s:
        child, parent = s.get(FedLink, "330105"), s.get(FedLink, "330000")
        assert child is not None and parent is not None
        assert (child.head_seq, child.head_advanced_at, child.last_seen_at) == (
            42, datetime(2026, 3, 2, 9, tzinfo=CST), datetime(2026, 3, 2, 11, tzinfo=CST))
        assert (parent.head_seq, parent.head_advanced_at, parent.last_seen_at) == (None, None, None)
    eng.dispose()
    downgrade(db_url, "0024")
    eng = create_engine(db_url)
    with eng.connect() as c:
        cols = {r[1] for r in c.execute(text("PRAGMA table_info(fed_links)"))} if eng.dialect.name == "sqlite" else {
            r[0] for r in c.execute(text("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_name = 'fed_links'"))}
    eng.dispose()
    assert "last_seen_at" not in cols and "head_seq" not in cols
    upgrade(db_url)
