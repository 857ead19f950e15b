"""A sibling district's part, routed through the city, between real node processes: a Gongshu
(330105) joint case with one part owned by Xihu (330106). The dispatch goes up Gongshu's log to the
city (330100), which relays it down to Xihu (PullAddressed); Xihu applies it as its own case, reads
a material of the part from Gongshu by digest (FetchMaterial, direct: Xihu is given Gongshu's
address), works it in its own hall; the progress and the result come back the same way and the
joint case concludes. At the end both sides agree record for record; nothing was dispatched or
applied twice; the province was not involved in the routing."""
from __future__ import annotations

import hashlib
import socket
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from federation.demo import Federation
from node.seed import JOINT_ITEMS
from tests.functional.test_federation_nodes import ID, MATERIALS, Http, wait_until
from tests.support import prepare_from

pytestmark = [pytest.mark.functional, pytest.mark.slow]
GONGSHU, XIHU, CITY, PROVINCE = "330105", "330106", "330100", "330000"
LINKED = "330105-LB-CG-029"
LOCAL_PART, REMOTE_PART = "330105-XK-CG-001", "330106-XK-GH-001"  # Xihu's own planning item
FORM = {"shop_name": "拱墅老字号面馆", "address": "杭州市拱墅区湖墅南路1号", "size": "6×1.2"}


def free_base() -> int:
    """A base in this test's range (21400-21599): http base+0..3, gRPC base+50..53."""
    for base in (21400, 21500):
        with_all = []
        for off in range(4):
            for b in (base, base + 50):
                with socket.socket() as s:
                    with_all.append(s.connect_ex(("127.0.0.1", b + off)) != 0)
        if all(with_all):
            return base
    raise RuntimeError("no free ports in 21400-21599")


@pytest.fixture(scope="module")
def fed(tmp_path_factory, demo_databases):  # type: ignore[no-untyped-def]
    base = free_base()
    f = Federation(tmp_path_factory.mktemp("sibling"), http_base=base, grpc_base=base + 50)
    f.checkpoint_every = 3
    f[XIHU].peers = f"{GONGSHU}={f[GONGSHU].grpc}"  # FetchMaterial is not relayed: Xihu reaches Gongshu directly
    prepare_from(f, demo_databases)
    f.start_all()
    yield f
    f.stop_all()


def rows(node_dir: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{node_dir / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
    try:
        return list(con.execute(sql, args))
    finally:
        con.close()


def work(http: Http, code: str, dept: str) -> None:
    http.fire(code, "undertake", f"{dept}-handler", opinion="符合条件")
    http.fire(code, "review", f"{dept}-reviewer")
    http.fire(code, "approve", f"{dept}-approver")
    http.fire(code, "conclude", "clerk")


def addressed(node_dir: Path, origin: str, dest: str, kind: str = "%") -> list[tuple[int, bytes]]:
    """(seq, body) of the records of ``origin`` addressed to ``dest`` that a district holds (sent or
    received: ``fed_addressed``)."""
    return rows(node_dir, "select r.seq, r.body from fed_records r join fed_addressed a on a.origin = r.origin "
                          "and a.seq = r.seq where r.origin = ? and a.dest = ? and a.kind like ? order by r.seq",
                origin, dest, kind)


def relayed(node_dir: Path, origin: str, dest: str) -> list[tuple[int, bytes]]:
    """The same at a relay: the records it indexed for the way down (``fed_down``)."""
    return rows(node_dir, "select r.seq, r.body from fed_records r join fed_down d on d.origin = r.origin "
                          "and d.seq = r.seq where r.origin = ? and d.dest = ? order by r.seq", origin, dest)


def kinds(node_dir: Path, origin: str, dest: str) -> list[str]:
    return [k for (k,) in rows(node_dir, "select kind from fed_addressed where origin = ? and dest = ? order by seq",
                               origin, dest)]


def test_a_sibling_part_routed_through_the_city_end_to_end(fed):  # type: ignore[no-untyped-def]
    gongshu, xihu = Http(fed[GONGSHU].url), Http(fed[XIHU].url)
    gdir, xdir, cdir, pdir = (fed[n].data_dir for n in (GONGSHU, XIHU, CITY, PROVINCE))
    base = next(i for i in JOINT_ITEMS if i["code"] == "330105-LB-CG-001")
    item = {k: v for k, v in base.items() if k not in ("dept", "fields")}
    item.update(code=LINKED, name="店招店牌设置（区区联办）",
                parts=[{"item_code": LOCAL_PART}, {"item_code": REMOTE_PART, "node": XIHU}])
    st, out = gongshu.call("POST", "/api/v1/items", item, "cgj-chief")
    assert st == 201, out

    mats = [{"material_code": k, "upload_id": gongshu.upload(k, v)} for k, v in MATERIALS.items()]
    st, j = gongshu.call("POST", "/api/v1/cases", {
        "item_code": LINKED, "materials": mats, "form": FORM, "accept": True,
        "applicant": {"name": "张三明", "id_number": ID, "phone": "13912345678"}}, "clerk")
    assert st == 201, j
    code = j["code"]
    local, remote = j["joint"]["parts"]
    assert remote["remote_node"] == XIHU and remote["link"]["state"] == "waiting"

    def xihu_case() -> list[tuple[Any, ...]]:
        return rows(xdir, "select code, status, result from cases where linked_from=?", f"{GONGSHU}:{code}:2")

    [(xcode, _, _)] = wait_until(xihu_case, what="the dispatch relayed by the city and applied at Xihu")
    st, c = xihu.call("GET", f"/api/v1/cases/{xcode}", user="gh-handler")
    assert st == 200 and c["part_of"] == {"joint_code": code, "part_no": 2, "origin": GONGSHU}, c
    # the city relayed the dispatch and holds it verbatim, but applied nothing of it
    [dispatch] = addressed(gdir, GONGSHU, XIHU, "part_dispatch")
    assert addressed(xdir, GONGSHU, XIHU, "part_dispatch") == [dispatch] and dispatch in relayed(cdir, GONGSHU, XIHU)
    assert rows(cdir, "select count(*) from cases where linked_from is not null") == [(0,)]

    # Xihu's handler reads a material of its part from Gongshu, by digest, verified and audited there
    digest = j["materials"][0]["digest"]
    token = xihu.token("gh-handler")
    req = urllib.request.Request(f"{fed[XIHU].url}/api/v1/cases/{xcode}/materials/{digest}",
                                 headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=30) as r:
        data, served_by = r.read(), r.headers["X-Served-By"]
    assert hashlib.sha256(data).hexdigest() == digest and served_by == GONGSHU
    assert rows(gdir, "select actor from audit_log where op='material'") == [(f"node:{XIHU}",)]

    work(xihu, xcode, "gh")
    work(gongshu, local["code"], "cgj")

    def concluded() -> Any:
        st, v = gongshu.call("GET", f"/api/v1/cases/{code}", user="clerk")
        return v if v["status"] == "concluded" else None

    done = wait_until(concluded, what="the joint case concluded with Xihu's result")
    assert done["result"] == "approved"
    part = done["joint"]["parts"][1]
    assert xihu_case() == [(xcode, "concluded", "approved")]
    assert (part["code"], part["status"], part["result"]) == (xcode, "concluded", "approved")
    assert part["link"]["state"] == "received"

    # nothing dispatched or applied twice; every report acknowledged
    assert rows(gdir, "select state from fed_addressed where direction='out' and kind='part_dispatch'") == [("acked",)]
    assert rows(xdir, "select count(*) from fed_addressed where direction='in' and kind='part_dispatch'") == [(1,)]
    assert rows(xdir, "select count(*) from cases where linked_from is not null") == [(1,)]
    wait_until(lambda: rows(xdir, "select distinct state from fed_addressed where direction='out' and "
                                  "kind in ('part_progress', 'part_result')") == [("acked",)],
               what="every report of Xihu acknowledged by Gongshu")
    assert rows(xdir, "select count(*) from fed_addressed where direction='out' and kind='part_result'") == [(1,)]
    assert rows(gdir, "select count(*) from fed_addressed where direction='in' and kind='part_result' "
                      "and state='applied'") == [(1,)]

    # record for record: what each origin addressed to the other is held, byte for byte, by the other
    # and by the city that relayed it
    def agree() -> bool:
        return (addressed(gdir, GONGSHU, XIHU) == addressed(xdir, GONGSHU, XIHU) == relayed(cdir, GONGSHU, XIHU)
                and addressed(xdir, XIHU, GONGSHU) == addressed(gdir, XIHU, GONGSHU) == relayed(cdir, XIHU, GONGSHU))

    wait_until(agree, what="both districts and the city holding the same addressed records")
    up = kinds(xdir, XIHU, GONGSHU)
    assert up == kinds(gdir, XIHU, GONGSHU)
    assert up.count("part_result") == 1 and up.count("ack") == 1 and up.count("part_progress") >= 4, up
    down = kinds(gdir, GONGSHU, XIHU)
    assert down == kinds(xdir, GONGSHU, XIHU)
    assert down.count("part_dispatch") == 1 and down.count("ack") == len(up) - 1, down  # every report acked
    assert rows(pdir, "select count(*) from fed_down") == [(0,)]  # the province routed nothing down
