"""Integrity findings from signed records held in fed_records, on SQLite and PostgreSQL: each
per-case rule positive and negative, never-moved and log-gap by the periodic scan, raised once
across reruns and two concurrent runs."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from federation.envelope import GENESIS, Signer, seal
from federation.integrity import scan_all, scan_applied
from federation.merkle import leaf_hash
from federation.pb.v1 import federation_pb2 as pb
from node.persistence.models import FedHead, FedRecord, IntegrityFinding

pytestmark = pytest.mark.integration

KEY = Ed25519PrivateKey.generate()
SIGNER = Signer("330105", "k1", KEY.sign)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
T0 = int((NOW - timedelta(days=40)).timestamp() * 1000)


def _ev(code: str, event: str, status: str, idx: int = -1, kind: str = "", at: int = 0) -> pb.CaseEvent:
    return pb.CaseEvent(service_code=code, item_code="I1", item_version=1, event=event, status=status,
                        stage_index=idx, stage_kind=kind, occurred_at_ms=at, recorded_at_ms=at)


def put(session: Session, events: list[pb.CaseEvent], skip: set[int] = frozenset()) -> list:  # type: ignore[assignment,type-arg]
    head = session.get(FedHead, SIGNER.node_id)
    seq, prev = (head.seq, bytes.fromhex(head.hash)) if head else (0, GENESIS)
    out = []
    for e in events:
        seq += 1
        rec = seal(SIGNER, seq, prev, e.recorded_at_ms, e)
        prev = rec.hash
        out.append(rec)
        if seq in skip:
            continue
        session.add(FedRecord(origin=rec.origin, seq=seq, body=rec.body, signature=rec.signature, hash=rec.hash.hex(),
                              leaf=leaf_hash(rec.body).hex(), key_id="k1", received_from="330105",
                              stored_at=NOW))
    if head:
        head.seq, head.hash = seq, prev.hex()
    else:
        session.add(FedHead(origin=SIGNER.node_id, seq=seq, hash=prev.hex(), frontier="", pushed_seq=0, updated_at=NOW))
    session.flush()
    return out


def regular(code: str, t: int = T0, upto: int = 6) -> list[pb.CaseEvent]:
    evs = [
        _ev(code, "submit", "submitted", at=t),
        _ev(code, "accept", "in_progress", 1, "undertake", t + 1000),
        _ev(code, "undertake", "in_progress", 2, "review", t + 2000),
        _ev(code, "review", "in_progress", 3, "approve", t + 3000),
        _ev(code, "approve", "in_progress", 4, "conclude", t + 4000),
        _ev(code, "conclude", "concluded", at=t + 5000),
    ]
    return evs[:upto]


def kinds(session: Session) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in session.scalars(select(IntegrityFinding)):
        out.setdefault(f.subject, set()).add(f.kind)
    return out


@pytest.fixture
def engine(db_url):  # type: ignore[no-untyped-def]
    eng = create_engine(db_url)
    with Session(eng) as s, s.begin():
        s.execute(delete(FedRecord))
        s.execute(delete(FedHead))
    yield eng
    eng.dispose()


def test_each_per_case_rule_is_found_as_records_are_applied(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s, s.begin():
        ok = put(s, regular("OK"))
        skipped = regular("SKIP")
        skipped[3] = _ev("SKIP", "review", "in_progress", 4, "conclude", T0 + 3000)
        del skipped[4]
        recs = ok + put(s, skipped)
        recs += put(s, [_ev("NOACC", "submit", "submitted", at=T0), _ev("NOACC", "conclude", "concluded", at=T0 + 1)])
        recs += put(s, [_ev("REF", "submit", "submitted", at=T0), _ev("REF", "refuse", "refused", at=T0 + 1),
                        _ev("REF", "accept", "in_progress", 1, "undertake", T0 + 2)])
        back = regular("BACK")
        back[2] = _ev("BACK", "undertake", "in_progress", 2, "review", T0 - 10)
        recs += put(s, back)
        fut = regular("FUT")
        fut[5] = _ev("FUT", "conclude", "concluded", at=int((NOW + timedelta(days=1)).timestamp() * 1000))
        recs += put(s, fut)
        assert scan_applied(s, recs, NOW) >= 5
    with Session(engine) as s:
        found = kinds(s)
        assert "OK" not in found
        assert found["SKIP"] >= {"skipped_stage"}
        assert found["NOACC"] >= {"result_without_acceptance"}
        assert found["REF"] >= {"accept_after_refusal"}
        assert found["BACK"] >= {"time_backwards"}
        assert found["FUT"] >= {"future_time"}
        f = s.scalars(select(IntegrityFinding).where(IntegrityFinding.subject == "NOACC",
                                                    IntegrityFinding.kind == "result_without_acceptance")).one()
        rec = s.get(FedRecord, ("330105", f.evidence[0]["seq"]))
        assert rec is not None and rec.hash == f.evidence[0]["hash"]
        KEY.public_key().verify(rec.signature, rec.body)  # the evidence re-verifies against the origin's key


def test_periodic_never_moved_and_log_gap_raised_once(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s, s.begin():
        put(s, regular("IDLE", upto=3))  # accepted, undertaken, then nothing for 40 days
        put(s, regular("FRESH", t=int((NOW - timedelta(hours=2)).timestamp() * 1000), upto=3))
        put(s, regular("HOLE"), skip={10})
    for _ in range(2):
        with Session(engine) as s, s.begin():
            scan_all(s, NOW)
    with Session(engine) as s:
        found = kinds(s)
        assert found["IDLE"] == {"never_moved"} and "FRESH" not in found
        assert found["330105"] == {"log_gap"}
        assert len(s.scalars(select(IntegrityFinding)).all()) == sum(len(v) for v in found.values())


def test_two_concurrent_runs_raise_each_finding_once(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as s, s.begin():
        put(s, [_ev("NOACC", "submit", "submitted", at=T0), _ev("NOACC", "conclude", "concluded", at=T0 + 1)])
        put(s, regular("IDLE", upto=3))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with Session(engine) as s, s.begin():
                barrier.wait()
                scan_all(s, NOW)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=run) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not [e for e in errors if "locked" not in str(e)]  # SQLite serialises writers; a loser may time out
    with Session(engine) as s:
        rows = s.scalars(select(IntegrityFinding)).all()
        assert sorted(r.kind for r in rows) == ["never_moved", "out_of_order", "result_without_acceptance"]


def test_inspectors_see_their_subtree_page_by_page_and_review(ctx) -> None:  # type: ignore[no-untyped-def]
    from node.domain.errors import DomainError
    from node.domain.lifecycle import Actor
    from node.domain.roles import Role
    from node.services.integrity import list_findings, review_finding

    with Session(ctx.engine) as s, s.begin():
        s.execute(delete(FedRecord))
        s.execute(delete(FedHead))
        for i in range(3):
            put(s, [_ev(f"N{i}", "submit", "submitted", at=T0), _ev(f"N{i}", "conclude", "concluded", at=T0 + 1)])
        s.add(IntegrityFinding(key="log_gap:320102", kind="log_gap", subject="320102", origin="320102",
                               detail="elsewhere", evidence=[], raised_at=NOW))
        scan_all(s, NOW)
    inspector = Actor("staff", 1, Role.INSPECTOR)
    page, nxt = ctx.run(inspector, list_findings, kind="result_without_acceptance", limit=2)
    assert len(page) == 2 and nxt is not None
    rest, nxt2 = ctx.run(inspector, list_findings, kind="result_without_acceptance", before=nxt, limit=2)
    assert len(rest) == 1 and nxt2 is None
    all_rows, _ = ctx.run(inspector, list_findings, limit=200)
    assert "320102" not in {r.origin for r in all_rows}  # not in this node's subtree
    with pytest.raises(DomainError) as e:
        ctx.run(Actor("staff", 2, Role.CLERK), list_findings)
    assert e.value.status == 403
    with pytest.raises(DomainError) as e:
        ctx.run(inspector, review_finding, page[0].id, " ")
    assert e.value.status == 422 and e.value.field == "note"
    done = ctx.run(inspector, review_finding, page[0].id, "核实：补录受理")
    assert done.review_note == "核实：补录受理" and done.reviewed_by == "staff:1"


def test_the_findings_api(ctx, api) -> None:  # type: ignore[no-untyped-def]
    with Session(ctx.engine) as s, s.begin():
        s.execute(delete(FedRecord))
        s.execute(delete(FedHead))
        put(s, [_ev("N0", "submit", "submitted", at=T0), _ev("N0", "conclude", "concluded", at=T0 + 1)])
        scan_all(s, NOW)
    r = api.get("/api/v1/supervision/findings?kind=result_without_acceptance", user="inspector")
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["items"]
    assert len(items) == 1 and items[0]["evidence"][0]["origin"] == "330105"
    assert api.get("/api/v1/supervision/findings", user="clerk").status_code == 403
    assert api.get("/api/v1/supervision/findings?kind=nope", user="inspector").status_code == 422
    r = api.post(f"/api/v1/supervision/findings/{items[0]['id']}/review", {"note": "已核"}, user="inspector")
    assert r.status_code == 200 and r.get_json()["review_note"] == "已核"
