"""Alerts and a damaged log with real node processes (province, city, two districts on loopback):
an incident raised once at the city for a problem that recurs every round and seen at the province
(API and CLI); a county's edited record found at home, reported in its health, restored from the
city's copy by ``yiwang federation repair``; a record never pushed named as unrecoverable."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone

import pytest

from tests.functional.test_federation_nodes import SIGN_ITEM, Http, agree, fed, free_base, records, wait_until  # noqa: F401 - fed: the same running federation fixture

pytestmark = [pytest.mark.functional, pytest.mark.slow]




def _cli(fed, node: str, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def,type-arg]
    return subprocess.run([sys.executable, "-m", "node.cli", "federation", *args], env=fed[node].env(),
                          capture_output=True, text=True, timeout=120)


def _alerts(db, where: str = "1=1", args=()):  # type: ignore[no-untyped-def]
    c = sqlite3.connect(f"file:{db / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
    try:
        c.row_factory = sqlite3.Row
        return [dict(r) for r in c.execute(f"select * from alerts where {where}", args)]
    finally:
        c.close()


def _health(fed, node: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(fed[node].url + "/readyz", timeout=10) as r:
        return json.loads(r.read())["checks"]


def _edit(fed, node: str, origin: str, seq: int) -> bytes:
    con = sqlite3.connect(fed[node].data_dir / "yiwang.db", timeout=30)
    with con:
        body = bytes(con.execute("select body from fed_records where origin=? and seq=?", (origin, seq)).fetchone()[0])
        edited = body.replace(b"submitted", b"withdrawn")
        assert edited != body
        con.execute("update fed_records set body=? where origin=? and seq=?", (edited, origin, seq))
    con.close()
    return body


def test_a_recurring_problem_is_one_incident_seen_at_the_province(fed):  # type: ignore[no-untyped-def]
    """Whoever holds Xihu's key and database signs a Xihu record about a Gongshu case; Xihu's
    uplink pushes it again every round and the city refuses it every time: one foreign_case
    incident at the city, its sightings counted, carried in the city's log to the province."""
    from federation.log import append_pending
    from federation.pb.v1 import federation_pb2 as pb
    from federation.plugin import attach_identity
    from node.config import Settings
    from node.services.context import SYSTEM, NodeContext

    gongshu = Http(fed["330105"].url)
    code = gongshu.apply()
    xihu_dir = fed["330106"].data_dir
    ctx = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{xihu_dir / 'yiwang.db'}",
                                              data_dir=xihu_dir))
    attach_identity(ctx)
    now = datetime.now(timezone.utc)
    ev = pb.CaseEvent(service_code=code, item_code=SIGN_ITEM, event="withdraw", status="withdrawn",
                      occurred_at_ms=int(now.timestamp() * 1000), recorded_at_ms=int(now.timestamp() * 1000))
    with ctx.uow(SYSTEM, now) as uow:
        seq = append_pending(uow, ctx.signer, [ev])[0].seq  # type: ignore[arg-type]
        uow.commit()
    ctx.engine.dispose()
    subject = f"330106#{seq}"
    city_db = fed["330100"].data_dir
    wait_until(lambda: any(a["sightings"] >= 3 for a in _alerts(city_db, "kind='foreign_case'")), timeout=90,
               what="the city seeing the refused record again and again")
    rows = _alerts(city_db, "kind='foreign_case'")
    assert len(rows) == 1 and rows[0]["subject"] == subject and rows[0]["state"] == "open"

    province = Http(fed["330000"].url)

    def at_province():  # type: ignore[no-untyped-def]
        st, page = province.call("GET", "/api/v1/federation/alerts?kind=foreign_case", user="inspector")
        assert st == 200, page
        return page["items"]

    [a] = wait_until(at_province, timeout=90, what="the city's alert at the province")
    assert (a["origin"], a["subject"], a["raised_by"], a["peer"], a["state"]) == (
        "330106", subject, "330100", "330106", "open")
    assert province.call("GET", "/api/v1/federation/alerts", user="clerk")[0] == 403
    out = _cli(fed, "330000", "alerts", "--state", "open", "--json")
    assert out.returncode == 0, out.stderr
    assert [(x["kind"], x["subject"]) for x in json.loads(out.stdout)["items"] if x["kind"] == "foreign_case"] == [
        ("foreign_case", subject)]

    st = json.loads(_cli(fed, "330106", "status", "--json").stdout)  # what blocks Xihu's uplink
    assert st["uplink"]["parent"] == "330100" and st["uplink"]["state"] == "blocked"
    assert st["uplink"]["blocking"] == f"parent refused #{seq} of 330106: foreign_case"
    [lag] = [o for o in st["uplink"]["origins"] if o["origin"] == "330106"]
    assert lag["lag_records"] >= 1 and lag["parent"] == seq - 1
    city = json.loads(_cli(fed, "330100", "status", "--json").stdout)
    assert {c["child"] for c in city["children"]} == {"330105", "330106"}
    assert city["uplink"]["state"] in ("in step", "behind") and city["uplink"]["last_success"]

    # the city's inspector resolves it; the resolution reaches the province
    city_http = Http(fed["330100"].url)
    st_, resolved = city_http.call("POST", f"/api/v1/federation/alerts/{rows[0]['id']}/resolution",
                                   {"note": "西湖区密钥已吊销"}, user="inspector")
    assert st_ == 200 and resolved["state"] == "resolved"
    wait_until(lambda: _alerts(fed["330000"].data_dir, "kind='foreign_case' and note=?", ("西湖区密钥已吊销",)),
               timeout=60, what="the resolution at the province")  # (seen again since, it may be open again)


def test_a_pushed_record_edited_at_home_is_found_and_restored_from_the_city(fed):  # type: ignore[no-untyped-def]
    gongshu = Http(fed["330105"].url)
    gongshu.apply()
    wait_until(lambda: agree(fed, "330105", "330100"), what="sync to the city")
    original = _edit(fed, "330105", "330105", 1)
    wait_until(lambda: _health(fed, "330105").get("federation", "").startswith("degraded"), timeout=60,
               what="the county reporting itself degraded")
    assert "330105#1" in _health(fed, "330105")["federation"]
    [a] = _alerts(fed["330105"].data_dir, "kind='damaged_log'")
    assert a["subject"] == "330105#1" and a["origin"] == "330105"
    proof = json.loads(a["proof"])
    assert proof["stored_hash"] != proof["body_hash"]

    out = _cli(fed, "330105", "repair")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "restored 330105#1 from 330100" in out.stdout
    assert records(fed["330105"].data_dir, "330105")[0][1] == original
    assert _health(fed, "330105")["federation"] == "ok"
    assert _alerts(fed["330105"].data_dir, "kind='damaged_log'")[0]["state"] == "resolved"
    gongshu.apply()  # and the uplink keeps sending
    wait_until(lambda: agree(fed, "330105", "330100") and agree(fed, "330105", "330000"), what="sync after repair")


def test_a_record_edited_before_it_was_pushed_is_named_unrecoverable(fed):  # type: ignore[no-untyped-def]
    gongshu = Http(fed["330105"].url)
    wait_until(lambda: agree(fed, "330105", "330100"), what="in step first")
    fed.kill("330105", "fed", signal.SIGTERM)
    gongshu.apply()
    seq = len(records(fed["330105"].data_dir, "330105"))
    _edit(fed, "330105", "330105", seq)
    fed.start("330105", "fed")
    wait_until(lambda: _alerts(fed["330105"].data_dir, "kind='damaged_log' and subject=? and state='open'",
                               (f"330105#{seq}",)), timeout=60, what="damaged_log raised by the uplink")
    assert f"330105#{seq}" in _health(fed, "330105")["federation"]
    time.sleep(2)
    assert len(records(fed["330100"].data_dir, "330105")) == seq - 1  # the damaged record never left
    st = json.loads(_cli(fed, "330105", "status", "--json").stdout)
    assert st["uplink"]["state"] == "blocked" and f"330105#{seq}" in st["uplink"]["blocking"]
    out = _cli(fed, "330105", "repair")
    assert out.returncode == 1
    assert f"330105#{seq}" in out.stderr and "never pushed" in out.stderr and "backup" in out.stderr
