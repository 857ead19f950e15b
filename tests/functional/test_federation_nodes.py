"""Several real nodes as processes on loopback: province 330000, city 330100, districts 330105 and
330106, each with its HTTP API and federation process, mutual TLS between them."""
from __future__ import annotations

import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from federation.demo import Federation
from tests.support import JsonClient, minimal_pdf, tiny_image
from tests.support import prepare_from

pytestmark = [pytest.mark.functional, pytest.mark.slow]
ID = "11010519491231002X"
SIGN_ITEM = "330105-XK-CG-001"
MATERIALS = {"application": minimal_pdf("a"), "id": minimal_pdf("b"), "design": minimal_pdf("c"),
             "site-photo": tiny_image("jpg", "d"), "owner-consent": minimal_pdf("e")}


def free_base() -> int:
    for base in range(20000, 60000, 100):
        ok = True
        for off in range(4):
            for b in (base, base + 50):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", b + off)) == 0:
                        ok = False
        if ok:
            return base
    raise RuntimeError("no free ports")


class Http(JsonClient):
    """The demo-account client with the steps these tests repeat."""

    def sign_item(self) -> str:
        """This district's own 店招店牌 item (SIGN_ITEM under the district's code: Xihu's is 330106-…)."""
        st, items = self.call("GET", "/api/v1/catalog/items")
        assert st == 200, items
        return next(i["code"] for i in items if i["code"].endswith(SIGN_ITEM[6:]))  # type: ignore[no-any-return]

    def apply(self) -> str:
        mats = [{"material_code": k, "upload_id": self.upload(k, v)} for k, v in MATERIALS.items()]
        st, out = self.call("POST", "/api/v1/public/applications", {
            "item_code": self.sign_item(), "materials": mats,
            "applicant": {"name": "张三明", "id_number": ID, "phone": "13912345678"}})
        assert st == 201, out
        return out["code"]

    def conclude(self, code: str) -> dict:  # type: ignore[type-arg]
        self.fire(code, "accept", "clerk")
        self.fire(code, "undertake", "cgj-handler")
        self.fire(code, "review", "cgj-reviewer")
        self.fire(code, "approve", "cgj-approver")
        return self.fire(code, "conclude", "clerk")


def records(node_dir: Path, origin: str) -> list[tuple[int, bytes, bytes]]:
    con = sqlite3.connect(f"file:{node_dir / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
    try:
        return [(s, bytes(b), bytes(g)) for s, b, g in con.execute(
            "select seq, body, signature from fed_records where origin=? order by seq", (origin,))]
    finally:
        con.close()


def wait_until(pred, timeout: float = 90, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def agree(fed: Federation, origin: str, at: str) -> bool:
    mine = records(fed[origin].data_dir, origin)
    return bool(mine) and records(fed[at].data_dir, origin) == mine


@pytest.fixture(scope="module")
def fed(tmp_path_factory, demo_databases):  # type: ignore[no-untyped-def]
    base = free_base()
    f = Federation(tmp_path_factory.mktemp("federation"), http_base=base, grpc_base=base + 50)
    f.checkpoint_every = 3
    prepare_from(f, demo_databases)
    f.start_all()
    yield f
    f.stop_all()


def test_cases_reach_the_province_signed_by_their_county(fed):  # type: ignore[no-untyped-def]
    gongshu, xihu, province = Http(fed["330105"].url), Http(fed["330106"].url), Http(fed["330000"].url)
    code = gongshu.apply()
    license_no = gongshu.conclude(code)["license"]["number"]
    other = xihu.apply()
    wait_until(lambda: agree(fed, "330105", "330000") and agree(fed, "330106", "330000"), what="sync to province")
    assert len(records(fed["330105"].data_dir, "330105")) == 6
    st, page = province.call("GET", "/api/v1/library/cases?region=3301", user="inspector")
    assert st == 200 and {c["service_code"] for c in page["items"]} >= {code, other}
    row = next(c for c in page["items"] if c["service_code"] == code)
    assert row["signed_by"] == "330105" and row["status"] == "concluded"
    st, v = province.call("GET", f"/api/v1/library/licenses/{license_no}/verification?holder_id_number={ID}",
                          user="inspector")
    assert st == 200 and v["valid"] and v["holder_matches"] and v["signed_by"] == "330105"
    city = Http(fed["330100"].url)
    st, page = city.call("GET", "/api/v1/library/cases?region=330106", user="inspector")
    assert [c["service_code"] for c in page["items"]] == [other]


def test_county_keeps_working_while_city_is_killed_mid_sync(fed):  # type: ignore[no-untyped-def]
    gongshu = Http(fed["330105"].url)
    codes = [gongshu.apply() for _ in range(3)]
    fed.kill("330100", "fed", signal.SIGKILL)  # mid-stream, whatever it was doing
    more = [gongshu.apply() for _ in range(5)]  # the county does not depend on its parent
    gongshu.conclude(more[0])
    time.sleep(2)
    fed.start("330100", "fed")
    wait_until(lambda: agree(fed, "330105", "330100") and agree(fed, "330105", "330000"), what="catch-up after kill -9")
    seqs = [s for s, _, _ in records(fed["330000"].data_dir, "330105")]
    assert seqs == list(range(1, len(seqs) + 1))  # gapless, nothing twice
    assert codes and more


def test_link_cut_and_restored(fed):  # type: ignore[no-untyped-def]
    xihu = Http(fed["330106"].url)
    p = fed["330100"].procs["fed"]
    p.send_signal(signal.SIGSTOP)  # the city stops answering: a cut link from the county's view
    try:
        for _ in range(4):
            xihu.apply()
        time.sleep(3)
        assert not agree(fed, "330106", "330100")
    finally:
        p.send_signal(signal.SIGCONT)
    wait_until(lambda: agree(fed, "330106", "330100") and agree(fed, "330106", "330000"), what="sync after link restored")


def test_province_killed_and_restarted(fed):  # type: ignore[no-untyped-def]
    gongshu = Http(fed["330105"].url)
    fed.kill("330000", "fed", signal.SIGKILL)
    code = gongshu.apply()
    wait_until(lambda: agree(fed, "330105", "330100"), what="county to city while the province is down")
    fed.start("330000", "fed")
    wait_until(lambda: agree(fed, "330105", "330000"), what="city to province after restart")
    assert code


def test_tampered_county_record_is_detected_at_the_city(fed):  # type: ignore[no-untyped-def]
    gongshu = Http(fed["330105"].url)
    gongshu.apply()
    wait_until(lambda: agree(fed, "330105", "330100"), what="sync")
    con = sqlite3.connect(fed["330105"].data_dir / "yiwang.db", timeout=30)
    with con:
        body = con.execute("select body from fed_records where origin='330105' and seq=1").fetchone()[0]
        con.execute("update fed_records set body=? where origin='330105' and seq=1",
                    (bytes(body).replace(b"submitted", b"withdrawn"),))
    con.close()

    def alerted() -> bool:
        c = sqlite3.connect(f"file:{fed['330100'].data_dir / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
        try:
            return bool(c.execute("select count(*) from alerts where origin='330105' and kind='inconsistent_checkpoint'").fetchone()[0])
        finally:
            c.close()

    wait_until(alerted, timeout=60, what="the city's alert about the edited record")
    assert records(fed["330100"].data_dir, "330105")[0][1] == body  # the city's copy is untouched


def test_inspector_fetches_a_case_file_from_its_owner_with_audit(fed):  # type: ignore[no-untyped-def]
    gongshu, province = Http(fed["330105"].url), Http(fed["330000"].url)
    code = gongshu.apply()
    head = len(records(fed["330105"].data_dir, "330105"))
    wait_until(lambda: len(records(fed["330000"].data_dir, "330105")) == head, what="sync")
    st, detail = province.call("GET", f"/api/v1/library/cases/{code}/detail?purpose=%E6%8A%95%E8%AF%89%E6%A0%B8%E6%9F%A5", user="inspector")
    assert st == 200, detail
    assert detail["served_by"] == "330105" and detail["case"]["applicant"]["id_number"] == ID[:4] + "*" * 10 + ID[-4:]
    assert len(detail["case"]["materials"]) == 5 and detail["discrepancies"] == []
    st, _ = province.call("GET", f"/api/v1/library/cases/{code}/detail?purpose=x", user="clerk")
    assert st == 403
    con = sqlite3.connect(f"file:{fed['330105'].data_dir / 'yiwang.db'}?mode=ro", uri=True)
    try:
        actors = [r[0] for r in con.execute("select actor from audit_log where op='read'")]
    finally:
        con.close()
    assert actors == ["node:330000"]


def test_a_county_with_its_own_key_cannot_write_its_neighbours_case_upward(fed):  # type: ignore[no-untyped-def]
    """Whoever holds Xihu's key and database appends a validly signed Xihu record about a Gongshu
    case; Xihu's real uplink pushes it: the city refuses it as a foreign case (an alert with the
    record named), the Gongshu case in the city's library stays as Gongshu signed it, and Xihu's
    log stops there instead of being relayed."""
    from datetime import datetime, timezone

    from federation.log import append_pending  # the node's own sealing
    from federation.pb.v1 import federation_pb2 as pb
    from federation.plugin import attach_identity
    from node.config import Settings
    from node.services.context import SYSTEM, NodeContext

    gongshu, city = Http(fed["330105"].url), Http(fed["330100"].url)
    code = gongshu.apply()
    wait_until(lambda: _city_has(city, code), what="the Gongshu case at the city")
    before = _city_has(city, code)
    xihu_dir = fed["330106"].data_dir
    ctx = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{xihu_dir / 'yiwang.db'}",
                                              data_dir=xihu_dir))
    assert attach_identity(ctx) is not None and ctx.signer is not None and ctx.signer.node_id == "330106"
    now = datetime.now(timezone.utc)
    ev = pb.CaseEvent(service_code=code, item_code=SIGN_ITEM, event="withdraw", status="withdrawn",
                      occurred_at_ms=int(now.timestamp() * 1000), recorded_at_ms=int(now.timestamp() * 1000))
    with ctx.uow(SYSTEM, now) as uow:  # SQLite: sealed (numbered, signed, chained) in this transaction
        sealed = append_pending(uow, ctx.signer, [ev])
        uow.commit()
    forged_seq = sealed[0].seq
    ctx.engine.dispose()

    def refused() -> bool:
        c = sqlite3.connect(f"file:{fed['330100'].data_dir / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
        try:
            return bool(c.execute("select count(*) from alerts where origin='330106' and kind='foreign_case' "
                                  "and detail like ?", (f"%330106#{forged_seq}%",)).fetchone()[0])
        finally:
            c.close()

    wait_until(refused, timeout=60, what="the city's foreign_case alert")
    assert _city_has(city, code) == before  # status, record and signer as Gongshu left them
    assert forged_seq not in [s for s, _, _ in records(fed["330100"].data_dir, "330106")]


def _city_has(city: Http, code: str):  # type: ignore[no-untyped-def]
    st, page = city.call("GET", "/api/v1/library/cases?region=330105", user="inspector")
    row = next((c for c in page["items"] if c["service_code"] == code), None) if st == 200 else None
    return row and (row["status"], row["record_seq"], row["signed_by"])
