"""A supervision order between real node processes: the province's inspector orders on a 330105
case; it is delivered via the city (whose federation process is killed -9 and restarted midway),
applied once at the district onto the department's queue, answered by the department, the answer
arrives at the province, the order is closed and the closure arrives at the district."""
from __future__ import annotations

import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from federation.demo import Federation
from tests.functional.test_federation_nodes import Http, wait_until
from tests.support import prepare_from

pytestmark = [pytest.mark.functional, pytest.mark.slow]
ORDERS = "/api/v1/supervision/orders"


def rows(node_dir: Path, sql: str, *args: object) -> list[tuple]:  # type: ignore[type-arg]
    con = sqlite3.connect(f"file:{node_dir / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
    try:
        return list(con.execute(sql, args))
    finally:
        con.close()


def free_base() -> int:
    """A base in this test's port range (21800-21999): base..base+3 HTTP, base+50.. gRPC."""
    for base in (21800, 21900):
        if all(socket.socket().connect_ex(("127.0.0.1", b + off)) != 0 for off in range(4)
               for b in (base, base + 50)):
            return base
    raise RuntimeError("no free ports in 21800-21999")


@pytest.fixture(scope="module")
def fed(tmp_path_factory, demo_databases):  # type: ignore[no-untyped-def]
    base = free_base()
    f = Federation(tmp_path_factory.mktemp("federation"), http_base=base, grpc_base=base + 50)
    prepare_from(f, demo_databases)
    f.start_all()
    yield f
    f.stop_all()


def test_province_order_via_killed_city_is_answered_and_closed(fed):  # type: ignore[no-untyped-def]
    district, province = Http(fed["330105"].url), Http(fed["330000"].url)
    west = fed["330105"].data_dir
    code = district.apply()
    district.fire(code, "accept", "clerk")
    wait_until(lambda: province.call("GET", "/api/v1/library/cases?region=330105", user="inspector")[1]["total"]
               >= 1, what="the case in the province's library")

    st, order = province.call("POST", ORDERS, {"case_code": code, "kind": "supervise", "text": "请说明办理进度",
                                               "due_days": 2}, "inspector")
    assert st == 201, order
    fed.kill("330100", "fed", signal.SIGKILL)  # the city's federation process dies with the order upstream
    time.sleep(2)
    assert rows(west, "select count(*) from sup_orders") == [(0,)]
    fed.start("330100", "fed")
    wait_until(lambda: rows(west, "select state from sup_orders where ref=?", order["ref"]) == [("delivered",)],
               what="the order at 330105")
    st, queue = district.call("GET", ORDERS, user="cgj-chief")
    assert st == 200 and [(o["ref"], o["state"]) for o in queue] == [(order["ref"], "delivered")], queue
    wait_until(lambda: province.call("GET", f"{ORDERS}/{order['id']}", user="inspector")[1]["state"] == "delivered",
               what="the ack at the province")

    st, out = district.call("POST", f"{ORDERS}/{queue[0]['id']}/response", {"text": "已督促承办人当日办结"},
                            "cgj-chief")
    assert st == 200 and out["state"] == "responded", out
    def answered() -> dict | None:  # type: ignore[type-arg]
        o = province.call("GET", f"{ORDERS}/{order['id']}", user="inspector")[1]
        return o if o["state"] == "responded" else None

    got = wait_until(answered, what="the response at the province")
    assert got["response_text"] == "已督促承办人当日办结" and got["rounds"] == 1
    st, out = province.call("POST", f"{ORDERS}/{order['id']}/decision", {"decision": "close"}, "inspector")
    assert st == 200 and out["state"] == "closed", out
    st, out = province.call("POST", f"{ORDERS}/{order['id']}/decision", {"decision": "close"}, "inspector")
    assert st == 409
    wait_until(lambda: rows(west, "select state from sup_orders where ref=?", order["ref"]) == [("closed",)],
               what="the closure at 330105")
    # applied exactly once on each side
    assert rows(west, "select count(*) from sup_orders") == [(1,)]
    assert rows(fed["330000"].data_dir, "select count(*), max(rounds) from sup_orders") == [(1, 1)]
    assert rows(west, "select kind, state from fed_addressed where direction='in' and kind like 'supervision%' "
                      "order by seq") == [("supervision_order", "applied"), ("supervision_decision", "applied")]
