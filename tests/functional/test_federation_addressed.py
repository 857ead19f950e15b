"""Addressed records between real node processes: a notice from district 330105 to its sibling
330106, routed via the city while the city's federation process is killed (-9) and restarted
midway; delivered exactly once, acknowledged back; the private part unreadable on the way."""
from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from federation.envelope import parse
from tests.functional.test_federation_nodes import fed, wait_until  # noqa: F401 - the running federation

pytestmark = [pytest.mark.functional, pytest.mark.slow]
SECRET = "申请人身份证号 11010519491231002X"


def rows(node_dir: Path, sql: str, *args: object) -> list[tuple]:  # type: ignore[type-arg]
    con = sqlite3.connect(f"file:{node_dir / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
    try:
        return list(con.execute(sql, args))
    finally:
        con.close()


def cli(fed, node_id: str, *args: str) -> str:  # type: ignore[no-untyped-def]
    out = subprocess.run([sys.executable, "-m", "node.cli", "federation", *args], env=fed[node_id].env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_sibling_notice_via_killed_city_is_delivered_once_and_acked(fed):  # type: ignore[no-untyped-def]
    west, east, city, province = (fed[n].data_dir for n in ("330105", "330106", "330100", "330000"))
    fed.kill("330100", "fed", signal.SIGKILL)
    ref = cli(fed, "330105", "notice", "330106", "请协助核查", "--private", SECRET).strip()
    origin, seq = ref.split("#")[0], int(ref.split("#")[1])
    assert origin == "330105"
    time.sleep(2)
    assert rows(east, "select * from fed_addressed where origin=? and seq=?", origin, seq) == []
    fed.start("330100", "fed")
    wait_until(lambda: rows(east, "select state from fed_addressed where origin=? and seq=?", origin, seq),
               what="the notice at 330106")
    fed.kill("330100", "fed", signal.SIGKILL)  # again, while the ack is on its way
    time.sleep(1)
    fed.start("330100", "fed")
    wait_until(lambda: rows(west, "select state from fed_addressed where origin=? and seq=?", origin, seq)
               == [("acked",)], what="the ack at 330105")
    # exactly once: one receipt, one incident, one ack in 330106's log
    assert rows(east, "select state from fed_addressed where origin=? and seq=?", origin, seq) == [("applied",)]
    assert rows(east, "select kind, detail from alerts where subject=?", ref) == [("notice", "请协助核查")]
    acks = [parse(b, s).msg.addressed for b, s in rows(east, "select body, signature from fed_records where origin='330106'")
            if parse(b, s).msg.WhichOneof("entry") == "addressed"]
    assert [(a.kind, a.to, a.reply_to_seq) for a in acks if a.reply_to_seq == seq] == [("ack", "330105", seq)]
    # verbatim at the destination, relayed by the city, never indexed at the province
    body = rows(west, "select body from fed_records where origin=? and seq=?", origin, seq)
    assert rows(east, "select body from fed_records where origin=? and seq=?", origin, seq) == body
    assert rows(city, "select dest from fed_down where origin=? and seq=?", origin, seq) == [("330106",)]
    assert rows(province, "select * from fed_down where origin=? and seq=?", origin, seq) == []
    assert SECRET.encode() not in bytes(body[0][0])
    status = cli(fed, "330105", "status")
    assert "down      <- 330100" in status and "acked 1" in status
