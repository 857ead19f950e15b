"""Performance assessment (绩效考核): the counters maintained as signed records are applied match a
straightforward recomputation from the decoded signed records, on SQLite and PostgreSQL."""
import csv
import hashlib
import io
import random
import zipfile
from collections import defaultdict
from datetime import date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from federation.envelope import GENESIS, Signer, parse, seal
from federation.library import apply_records
from federation.pb.v1 import federation_pb2 as pb
from node.config import Settings
from node.domain.calendar import WorkingCalendar, shipped_schedules
from node.domain.lifecycle import Actor
from node.domain.roles import Role
from node.domain.servicecode import make_code, random_part
from node.persistence.models import FedRecord, LibAssessment, LibAssessmentItem, LibCase
from node.services import assessment
from node.services.context import CST, NodeContext

pytestmark = pytest.mark.integration
ORIGINS = ("330105", "330106", "330205", "330000")
DEPTS = (("D01", "市场监管局"), ("D02", "住建局"), ("D03", "交通局"), ("D04", "卫健委"))
CAL = WorkingCalendar(shipped_schedules())
INSPECTOR = Actor(kind="staff", staff_id=1, role=Role.INSPECTOR)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def make_records(rng: random.Random) -> list:
    """Signed logs of several origins: cases submitted, accepted, concluded (some late, some early),
    evaluated; a case's department changes once; some cases change channel or item on a later
    record, a few are accepted again a month later, a few carry no channel (a node one version
    behind); returns (origin, parsed) in log order."""
    out = []
    for origin in ORIGINS:
        signer = Signer(origin, "k1", Ed25519PrivateKey.generate().sign)
        seq, prev = 0, GENESIS
        evs = []
        for _ in range(60):
            sub = datetime(2026, rng.choice((1, 2, 3)), rng.randint(1, 28), rng.randint(8, 17), rng.randint(0, 59),
                           tzinfo=CST)
            code = make_code(origin, sub.date(), random_part())
            dept = rng.choice(DEPTS)
            legal = CAL.add_working_days(sub.date(), rng.choice((0, 5, 10, 20)))
            promised = CAL.add_working_days(sub.date(), rng.choice((1, 3, 5))) if rng.random() < 0.7 else None
            base = dict(service_code=code, item_code=f"{origin}-XK-{dept[0]}-{rng.randint(1, 4)}", item_name="事项",
                        department_code=dept[0], department_name=dept[1],
                        channel=rng.choice(("online", "window", "window", "agent", "")),
                        legal_deadline=legal.isoformat(), promised_deadline=promised.isoformat() if promised else "",
                        applicant_id_hash="ab" * 32, applicant_name_masked="张*")
            t = sub
            evs.append((t, dict(base, event="submit", status="submitted")))
            if rng.random() < 0.85:
                t += timedelta(hours=rng.randint(1, 30))
                evs.append((t, dict(base, event="accept", status="in_progress")))
                if rng.random() < 0.2:  # the channel recorded anew (e.g. the window case moved online)
                    base.update(channel=rng.choice(("online", "window")))
                    evs.append((t + timedelta(minutes=2), dict(base, event="undertake", status="in_progress")))
                if rng.random() < 0.1:  # the item corrected
                    base.update(item_code=f"{origin}-XK-{dept[0]}-{rng.randint(1, 4)}")
                    evs.append((t + timedelta(minutes=3), dict(base, event="undertake", status="in_progress")))
                if rng.random() < 0.08:  # accepted again a month later: it moves to that month
                    t += timedelta(days=31)
                    evs.append((t, dict(base, event="accept", status="in_progress")))
                if rng.random() < 0.3:  # moved to another department
                    dept = rng.choice(DEPTS)
                    base.update(department_code=dept[0], department_name=dept[1])
                    evs.append((t + timedelta(minutes=5), dict(base, event="transfer", status="in_progress")))
                if rng.random() < 0.75:
                    t += timedelta(days=rng.randint(0, 35), hours=rng.randint(0, 9))
                    evs.append((t, dict(base, event="conclude", status="concluded", result=rng.choice(("approved", "denied")))))
                    if rng.random() < 0.6:
                        t += timedelta(days=rng.randint(0, 5))
                        evs.append((t, dict(base, event="evaluation", status="concluded",
                                            evaluation_score=rng.randint(1, 5))))
        evs.sort(key=lambda e: e[0])
        for t, fields in evs:
            seq += 1
            rec = seal(signer, seq, prev, _ms(t), pb.CaseEvent(occurred_at_ms=_ms(t), **fields))
            prev = rec.hash
            out.append(rec)
    return out


def store_and_apply(session, recs, rng: random.Random) -> None:
    """Store the signed records in fed_records and apply them in random batches, with replays."""
    now = datetime(2026, 4, 1, tzinfo=CST)
    for r in recs:
        session.add(FedRecord(origin=r.origin, seq=r.seq, body=r.body, signature=r.signature, hash=r.hash.hex(),
                              leaf=hashlib.sha256(b"\0" + r.body).hexdigest(), key_id="k1", received_from=None,
                              stored_at=now))
    i = 0
    while i < len(recs):
        n = rng.randint(1, 120)
        batch = recs[i:i + n]
        if i and rng.random() < 0.4:  # a replay of some records already applied (must change nothing)
            batch = recs[max(0, i - rng.randint(1, 40)):i] + batch
        apply_records(session, batch)
        i += n
    session.commit()


def recompute(session) -> dict:
    """Independently, from the decoded signed records: each case's latest state, then the counters."""
    cases: dict[str, dict] = {}
    rows = session.scalars(select(FedRecord).order_by(FedRecord.origin, FedRecord.seq)).all()
    for fr in rows:
        rec = parse(bytes(fr.body), bytes(fr.signature))
        ev = rec.msg.case_event
        at = datetime.fromtimestamp(ev.occurred_at_ms / 1000, CST)
        c = cases.setdefault(ev.service_code, {"origin": rec.origin, "accepted": None, "concluded": None, "score": 0})
        c["dept"], c["item"], c["channel"] = ev.department_code, ev.item_code, ev.channel
        c["legal"] = date.fromisoformat(ev.legal_deadline) if ev.legal_deadline else None
        c["promised"] = date.fromisoformat(ev.promised_deadline) if ev.promised_deadline else None
        if ev.event == "accept":
            c["accepted"] = at
        if ev.status == "concluded" and c["concluded"] is None:
            c["concluded"] = at
        if ev.evaluation_score:
            c["score"] = ev.evaluation_score
    agg: dict = defaultdict(lambda: defaultdict(int))
    for c in cases.values():
        if c["accepted"]:
            agg[(c["origin"], c["dept"], c["accepted"].strftime("%Y-%m"))]["received"] += 1
        if c["concluded"]:
            a = agg[(c["origin"], c["dept"], c["concluded"].strftime("%Y-%m"))]
            a["concluded"] += 1
            day, dl = c["concluded"].date(), c["promised"] or c["legal"]
            a["early"] += bool(c["promised"] and day < c["promised"])
            a["on_time"] += dl is None or day <= dl
            a["overdue"] += dl is not None and day > dl
            if c["accepted"] and c["legal"]:
                legal_days = CAL.working_days_between(c["accepted"].date(), c["legal"])
                if legal_days > 0:
                    used = CAL.working_days_between(c["accepted"].date(), day)
                    a["speedup_sum"] += round(1_000_000 * (1 - used / legal_days))
                    a["speedup_n"] += 1
            if c["score"]:
                a["eval_n"] += 1
                a["eval_sum"] += c["score"]
                a["eval_good"] += c["score"] >= 4
    return {k: {n: v[n] for n in assessment.rules.COUNTERS} for k, v in agg.items()}


def recompute_items(session) -> dict:
    """Independently, from the decoded signed records: cases per (origin, department, month of
    acceptance, item), and of them online ones (each case as its latest record leaves it)."""
    cases: dict[str, dict] = {}
    for fr in session.scalars(select(FedRecord).order_by(FedRecord.origin, FedRecord.seq)):
        rec = parse(bytes(fr.body), bytes(fr.signature))
        ev = rec.msg.case_event
        c = cases.setdefault(ev.service_code, {"origin": rec.origin, "accepted": None})
        c["dept"], c["item"], c["channel"] = ev.department_code, ev.item_code, ev.channel
        if ev.event == "accept":
            c["accepted"] = datetime.fromtimestamp(ev.occurred_at_ms / 1000, CST)
    out: dict = defaultdict(lambda: {"received": 0, "online": 0})
    for c in cases.values():
        if c["accepted"]:
            n = out[(c["origin"], c["dept"], c["accepted"].strftime("%Y-%m"), c["item"])]
            n["received"] += 1
            n["online"] += c["channel"] == "online"
    return dict(out)


def stored_items(session) -> dict:
    return {(r.origin, r.department_code, r.month, r.item_code): {"received": r.received, "online": r.online}
            for r in session.scalars(select(LibAssessmentItem)) if r.received or r.online}


def stored(session) -> dict:
    return {(r.origin, r.department_code, r.month): {n: getattr(r, n) for n in assessment.rules.COUNTERS}
            for r in session.scalars(select(LibAssessment))
            if any(getattr(r, n) for n in assessment.rules.COUNTERS)}


def province(db_url, tmp_path, clock):
    s = Settings.from_env({}, database_url=db_url, data_dir=tmp_path / "p", node_id="330000")
    return NodeContext.build(s, clock=clock.now)


def test_counters_match_recomputation_from_signed_records(ctx, db_url, tmp_path, clock):
    rng = random.Random(12)
    recs = make_records(rng)
    with ctx.factory() as s:
        store_and_apply(s, recs, rng)
    with ctx.factory() as s:
        want = recompute(s)
        got = stored(s)
        assert want and got == want
        want_items = recompute_items(s)
        assert stored_items(s) == want_items
        # the data exercise what they should: items online and not, and cases that moved channel
        assert any(v["online"] for v in want_items.values()) and any(not v["online"] for v in want_items.values())
        assert len({k[3] for k in want_items}) > len(ORIGINS) * len(DEPTS)
        # the maintained rows agree with the library rows too (the aggregate is the library's)
        assert sum(v["received"] for v in got.values()) == s.query(LibCase).filter(LibCase.accepted_at.isnot(None)).count()
        assert sum(v["received"] for v in want_items.values()) == sum(v["received"] for v in got.values())
        assert sum(v["online"] for v in want_items.values()) == s.query(LibCase).filter(
            LibCase.accepted_at.isnot(None), LibCase.channel == "online").count()
        # applying the whole log again changes nothing
        apply_records(s, [parse(bytes(f.body), bytes(f.signature)) for f in
                          s.scalars(select(FedRecord).order_by(FedRecord.origin, FedRecord.seq))])
        s.commit()
        assert stored(s) == want
        assert stored_items(s) == want_items

    p = province(db_url, tmp_path, clock)
    try:
        for month in ("2026-01", "2026-02", "2026-03", "2026-04"):
            for level, keyf in (("department", lambda k: k[1]), ("node", lambda k: k[0]),
                                ("city", lambda k: k[0] if k[0] == "330000" else k[0][:4] + "00")):
                groups: dict = defaultdict(lambda: defaultdict(int))
                for k, v in want.items():
                    if k[2] == month:
                        for n, x in v.items():
                            groups[keyf(k)][n] += x
                # 事项纳入率: items per (origin, department) handled / online in the month, summed by level
                handled: dict = defaultdict(set)
                online: dict = defaultdict(set)
                for (o, d, m, item), v in want_items.items():
                    if m == month and v["received"]:
                        handled[(o, d)].add(item)
                        if v["online"]:
                            online[(o, d)].add(item)
                for (o, d), its in handled.items():
                    groups[keyf((o, d))]["items_handled"] += len(its)
                    groups[keyf((o, d))]["items_online"] += len(online[(o, d)])
                with p.uow(INSPECTOR) as uow:
                    rows = assessment.ranking(uow, month, level)
                assert {r["code"] for r in rows} == set(groups)
                for r in rows:
                    g = groups[r["code"]]
                    assert r["received"] == g["received"] and r["concluded"] == g["concluded"]
                    assert r["overdue"] == g["overdue"] and r["evaluated"] == g["eval_n"]
                    assert r["completion_rate"] == (g["concluded"] / g["received"] if g["received"] else None)
                    assert r["on_time_rate"] == (g["on_time"] / g["concluded"] if g["concluded"] else None)
                    assert r["early_rate"] == (g["early"] / g["concluded"] if g["concluded"] else None)
                    assert r["satisfaction"] == (g["eval_good"] / g["eval_n"] if g["eval_n"] else None)
                    assert r["avg_score"] == (g["eval_sum"] / g["eval_n"] if g["eval_n"] else None)
                    assert r["speedup"] == (g["speedup_sum"] / 1e6 / g["speedup_n"] if g["speedup_n"] else None)
                    assert (r["items_handled"], r["items_online"]) == (g["items_handled"], g["items_online"]), r
                    assert r["online_item_rate"] == (
                        g["items_online"] / g["items_handled"] if g["items_handled"] else None)
                if month != "2026-04":
                    assert any(0 < (r["online_item_rate"] or 0) < 1 for r in rows), (month, level, rows)
                scores = [(-r["score"], -r["received"], r["code"]) for r in rows]
                assert scores == sorted(scores) and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
        with p.uow(INSPECTOR) as uow:
            by = assessment.ranking(uow, "2026-02", "department", "on_time_rate")
        vals = [r["on_time_rate"] for r in by if r["on_time_rate"] is not None]
        assert vals == sorted(vals, reverse=True)
        with p.uow(INSPECTOR) as uow:
            by = assessment.ranking(uow, "2026-02", "node", "online_item_rate")
        rates = [r["online_item_rate"] for r in by]
        assert rates == sorted(rates, key=lambda x: (x is None, -(x or 0)))  # higher first, missing last
        # a region narrows to its subtree; a county sees only itself
        with p.uow(INSPECTOR) as uow:
            sub = assessment.ranking(uow, "2026-02", "node", region="330100")
        assert {r["code"] for r in sub} <= {"330105", "330106"}
        with ctx.uow(INSPECTOR) as uow:
            mine = assessment.ranking(uow, "2026-02", "node")
        assert {r["code"] for r in mine} <= {"330105"}
    finally:
        p.engine.dispose()


def test_complaint_hook_and_state_moves(ctx):
    signer = Signer("330105", "k1", Ed25519PrivateKey.generate().sign)
    t = datetime(2026, 3, 2, 9, tzinfo=CST)
    code = make_code("330105", t.date(), random_part())
    base = dict(service_code=code, item_code="I", item_name="事项", department_code="D01", department_name="局",
                legal_deadline="2026-03-16", promised_deadline="2026-03-06")
    r1 = seal(signer, 1, GENESIS, _ms(t), pb.CaseEvent(event="accept", status="in_progress", occurred_at_ms=_ms(t), **base))
    t2 = datetime(2026, 4, 1, 9, tzinfo=CST)
    r2 = seal(signer, 2, r1.hash, _ms(t2), pb.CaseEvent(event="conclude", status="concluded", occurred_at_ms=_ms(t2), **base))
    with ctx.factory() as s:
        apply_records(s, [r1])
        apply_records(s, [r1])  # replay
        s.commit()
        assert stored(s) == {("330105", "D01", "2026-03"): {**dict.fromkeys(assessment.rules.COUNTERS, 0), "received": 1}}
        apply_records(s, [r2, r1, r2])
        s.commit()
        got = stored(s)
        assert got[("330105", "D01", "2026-03")]["received"] == 1
        april = got[("330105", "D01", "2026-04")]
        assert (april["concluded"], april["overdue"], april["on_time"], april["received"]) == (1, 1, 0, 0)
    with ctx.uow(INSPECTOR) as uow:
        assessment.count_complaint(uow, "330105", "D01", "2026-04")
        uow.commit()
    with ctx.factory() as s:
        assert stored(s)[("330105", "D01", "2026-04")]["complaints"] == 1


def test_routes_scope_errors_and_exports(api, ctx):
    signer = Signer("330105", "k1", Ed25519PrivateKey.generate().sign)
    t = datetime(2026, 3, 2, 9, tzinfo=CST)
    code = make_code("330105", t.date(), random_part())
    ev = pb.CaseEvent(service_code=code, item_code="I", item_name="事项", department_code="cgj", department_name="城管局",
                      event="accept", status="in_progress", occurred_at_ms=_ms(t), legal_deadline="2026-03-16")
    with ctx.factory() as s:
        apply_records(s, [seal(signer, 1, GENESIS, _ms(t), ev)])
        s.commit()
    url = "/api/v1/supervision/assessment"
    r = api.get(f"{url}?month=2026-03", user="inspector")
    assert r.status_code == 200, r.get_json()
    assert [(i["code"], i["received"]) for i in r.get_json()["items"]] == [("cgj", 1)]
    assert api.get(f"{url}?month=2026-03", user="cgj-handler").status_code == 403
    for q, field in (("month=2026-13", "month"), ("month=2026-03&format=pdf", "format"),
                     ("month=2026-03&by=luck", "by"), ("", "month"), ("month=2026-03&level=town", "level"),
                     ("month=2026-03&region=110000", "region")):
        r = api.get(f"{url}?{q}", user="inspector")
        assert r.status_code == 400, (q, r.get_json())
        assert field in str(r.get_json()), (q, r.get_json())
    r = api.get(f"{url}?month=2026-03&format=csv", user="inspector")
    assert r.status_code == 200 and r.content_type.startswith("text/csv")
    assert "assessment-department-2026-03.csv" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["排名", "代码", "名称", "受理数", "办结数"] and rows[1][:4] == ["1", "cgj", "城管局", "1"]
    r = api.get(f"{url}?month=2026-03&format=xlsx&level=city", user="inspector")
    assert r.status_code == 200 and "spreadsheetml" in r.content_type
    assert "assessment-city-2026-03.xlsx" in r.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(r.data)) as z:
        shared = z.read("xl/sharedStrings.xml").decode()
    assert "受理数" in shared and "330100" in shared


def test_a_complaint_record_counts_once_against_its_department(ctx):  # type: ignore[no-untyped-def]
    """The signed ``complaint`` event (filed by the public, node.services.supervision_orders) counts in
    the month it was filed, against the case's department; a replay of it counts nothing more."""
    signer = Signer("330106", "k1", Ed25519PrivateKey.generate().sign)
    t = datetime(2026, 3, 2, 9, tzinfo=CST)
    base = dict(service_code=make_code("330106", t.date(), random_part()), item_code="I", item_name="事项",
                department_code="D02", department_name="局", legal_deadline="2026-03-16")
    r1 = seal(signer, 1, GENESIS, _ms(t), pb.CaseEvent(event="accept", status="in_progress", occurred_at_ms=_ms(t),
                                                       **base))
    t2 = datetime(2026, 4, 3, 10, tzinfo=CST)
    r2 = seal(signer, 2, r1.hash, _ms(t2), pb.CaseEvent(event="complaint", status="in_progress",
                                                        occurred_at_ms=_ms(t2), **base))
    with ctx.factory() as s:
        apply_records(s, [r1, r2])
        apply_records(s, [r2])  # replay
        s.commit()
        got = stored(s)
    assert got[("330106", "D02", "2026-04")]["complaints"] == 1
    assert got[("330106", "D02", "2026-03")]["complaints"] == 0


def test_item_counts_move_with_channel_item_and_month_and_replays_count_nothing(ctx, api):
    """One case through its records: window in March (handled, not online); recorded online (now
    online); a replay of the first record (nothing moves back); its item corrected (moves to the
    other item); accepted again in April (moves to April). A second case keeps the item online."""
    signer = Signer("330105", "k1", Ed25519PrivateKey.generate().sign)
    t = datetime(2026, 3, 2, 9, tzinfo=CST)
    code = make_code("330105", t.date(), random_part())
    base = dict(service_code=code, item_code="I1", item_name="事项", department_code="D01", department_name="局",
                legal_deadline="2026-03-16", channel="window")
    steps = [("accept", {}, t), ("undertake", {"channel": "online"}, t + timedelta(hours=1)),
             ("undertake", {"channel": "online", "item_code": "I2"}, t + timedelta(hours=2)),
             ("accept", {"channel": "online", "item_code": "I2"}, datetime(2026, 4, 1, 9, tzinfo=CST))]
    recs, prev = [], GENESIS
    for seq, (event, extra, at) in enumerate(steps, start=1):
        rec = seal(signer, seq, prev, _ms(at), pb.CaseEvent(event=event, status="in_progress", occurred_at_ms=_ms(at),
                                                             **{**base, **extra}))
        recs.append(rec)
        prev = rec.hash
    other = dict(base, service_code=make_code("330105", t.date(), random_part()), item_code="I3", channel="online")
    o1 = seal(signer, 5, prev, _ms(t), pb.CaseEvent(event="accept", status="in_progress", occurred_at_ms=_ms(t), **other))
    march, april = ("330105", "D01", "2026-03"), ("330105", "D01", "2026-04")

    def rate(month):  # type: ignore[no-untyped-def]
        with ctx.uow(INSPECTOR) as uow:
            (row,) = [r for r in assessment.ranking(uow, month, "department") if r["code"] == "D01"]
        return row["items_handled"], row["items_online"], row["online_item_rate"]

    with ctx.factory() as s:
        apply_records(s, [recs[0]])
        apply_records(s, [recs[0]])  # replay
        s.commit()
        assert stored_items(s) == {(*march, "I1"): {"received": 1, "online": 0}}
    assert rate("2026-03") == (1, 0, 0.0)
    with ctx.factory() as s:
        apply_records(s, [recs[1], recs[0], recs[1]])  # moved online; replays around it
        s.commit()
        assert stored_items(s) == {(*march, "I1"): {"received": 1, "online": 1}}
    assert rate("2026-03") == (1, 1, 1.0)
    with ctx.factory() as s:
        apply_records(s, [recs[2], o1])  # item corrected; another case, online, on I3
        s.commit()
        assert stored_items(s) == {(*march, "I2"): {"received": 1, "online": 1}, (*march, "I3"): {"received": 1, "online": 1}}
    with ctx.factory() as s:
        apply_records(s, [recs[3], recs[2], o1])  # accepted again in April
        s.commit()
        assert stored_items(s) == {(*april, "I2"): {"received": 1, "online": 1}, (*march, "I3"): {"received": 1, "online": 1}}
        assert stored(s)[march]["received"] == 1 and stored(s)[april]["received"] == 1
    assert rate("2026-03") == (1, 1, 1.0) and rate("2026-04") == (1, 1, 1.0)
    r = api.get("/api/v1/supervision/assessment?month=2026-03&by=online_item_rate", user="inspector")
    assert r.status_code == 200, r.get_json()
    (item,) = r.get_json()["items"]
    assert (item["items_handled"], item["items_online"], item["online_item_rate"]) == (1, 1, 1.0)
    rows = list(csv.reader(io.StringIO(api.get("/api/v1/supervision/assessment?month=2026-03&format=csv",
                                               user="inspector").data.decode("utf-8-sig"))))
    at = {h: i for i, h in enumerate(rows[0])}
    assert [rows[1][at[h]] for h in ("办件事项数", "网办事项数", "事项纳入率")] == ["1", "1", "1.0"]


def test_migration_0026_counts_existing_library_rows_in_and_drops_on_downgrade(ctx, db_url, tmp_path):
    """Items maintained as records are applied; downgraded to 0025 the table is gone; upgraded
    again it is rebuilt from lib_cases, with the same counts (SQLite and PostgreSQL)."""
    from sqlalchemy import create_engine, inspect

    from node.persistence.migrate import downgrade, upgrade

    rng = random.Random(5)
    recs = make_records(rng)[:300]
    with ctx.factory() as s:
        store_and_apply(s, recs, rng)
    with ctx.factory() as s:
        want = stored_items(s)
        assert want == recompute_items(s) and any(v["online"] for v in want.values())
    ctx.engine.dispose()
    downgrade(db_url, "0025")
    eng = create_engine(db_url)
    assert "lib_assessment_items" not in inspect(eng).get_table_names()
    eng.dispose()
    upgrade(db_url)
    with ctx.factory() as s:
        assert stored_items(s) == want
    # and records applied after the upgrade go on from the rebuilt counts
    with ctx.factory() as s:
        apply_records(s, [parse(bytes(f.body), bytes(f.signature)) for f in
                          s.scalars(select(FedRecord).order_by(FedRecord.origin, FedRecord.seq))])
        s.commit()
        assert stored_items(s) == want
