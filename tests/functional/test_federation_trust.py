"""Trust between real node processes (province 330000, city 330100, districts 330105 and 330106,
their federation processes on loopback with mutual TLS): a back-dated record under a revoked key,
an edited record found by Merkle proofs and named, a receipt checked offline."""
from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from federation.demo import Federation
from tests.functional.test_federation_nodes import free_base, records, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.slow]


@pytest.fixture(scope="module")
def fed(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Only the federation processes (records are appended with each node's own key and
    database, as its services would): enough for what travels between nodes."""
    base = free_base()
    f = Federation(tmp_path_factory.mktemp("trust"), http_base=base, grpc_base=base + 50)
    f.checkpoint_every = 2
    f.prepare_identities()
    for n in f.nodes.values():
        cli(n, "db", "upgrade")
    for n in f.nodes:
        f.start(n, "fed")
    yield f
    f.stop_all()


def cli(node, *args: str, check: bool = True) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def,type-arg]
    return subprocess.run([sys.executable, "-m", "node.cli", *args], env=node.env(), check=check,
                          capture_output=True, text=True)


def append(node, count: int, now: datetime | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    """Seal ``count`` records of new cases of ``node`` into its log with its own key (dated ``now``)."""
    from federation.log import append_pending
    from federation.pb.v1 import federation_pb2 as pb
    from federation.plugin import attach_identity
    from node.config import Settings
    from node.domain.servicecode import ALPHABET, make_code
    from node.services.context import SYSTEM, NodeContext

    ctx = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{node.data_dir / 'yiwang.db'}",
                                              data_dir=node.data_dir))
    try:
        assert attach_identity(ctx) is not None and ctx.signer is not None
        now = now or datetime.now(timezone.utc)
        ms = int(now.timestamp() * 1000)
        events = [pb.CaseEvent(service_code=make_code(node.node_id, date(2026, 12, 1),
                                                      "".join(secrets.choice(ALPHABET) for _ in range(8))),
                               item_code="330105-XK-CG-001", event="submit", status="submitted",
                               occurred_at_ms=ms, recorded_at_ms=ms) for _ in range(count)]
        with ctx.uow(SYSTEM, now) as uow:
            sealed = append_pending(uow, ctx.signer, events)
            uow.commit()
        return [r.seq for r in sealed]
    finally:
        ctx.engine.dispose()


def query(node, sql: str, *args):  # type: ignore[no-untyped-def]
    c = sqlite3.connect(f"file:{node.data_dir / 'yiwang.db'}?mode=ro", uri=True, timeout=30)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def test_a_back_dated_record_under_a_revoked_key_is_refused_by_the_real_city(fed, tmp_path):  # type: ignore[no-untyped-def]
    xihu, city, province = fed["330106"], fed["330100"], fed["330000"]
    append(xihu, 2)
    wait_until(lambda: len(records(province.data_dir, "330106")) == 2, what="Xihu's records at the province")
    fed.kill("330106", "fed")  # Xihu's uplink waits while its key is revoked
    from federation.identity import load_identity

    kid = load_identity(xihu.data_dir).key_id
    out = cli(province, "federation", "revoke", "330106", "--key-id", kid).stdout
    assert f"{kid} after #2" in out  # the province's own cursor fixes the last valid record
    cli(province, "federation", "directory", "publish", "--out", str(tmp_path / "dir.json"))
    for node in (city, xihu):
        cli(node, "federation", "directory", "install", str(tmp_path / "dir.json"))
    signed = json.loads((tmp_path / "dir.json").read_text())
    import base64

    doc = json.loads(base64.b64decode(signed["body"]))
    key = next(k for n in doc["nodes"] if n["node_id"] == "330106" for k in n["keys"] if k["key_id"] == kid)
    assert key["last_seq"] == 2 and key["revoked_at"]
    revoked_at = datetime.fromisoformat(key["revoked_at"].replace("Z", "+00:00"))
    valid_from = datetime.fromisoformat(key["valid_from"].replace("Z", "+00:00"))
    # whoever holds Xihu's key and database signs #3 and dates it before the revocation
    back = valid_from + (revoked_at - valid_from) / 2
    assert back < revoked_at
    assert append(xihu, 1, now=back) == [3]
    fed.start("330106", "fed")

    def refused():  # type: ignore[no-untyped-def]
        return query(city, "select detail from alerts where origin='330106' and kind='unknown_key' "
                           "and subject='330106#3'")

    detail = wait_until(refused, timeout=60, what="the city's refusal of 330106#3")[0][0]
    assert "330106" in detail and "#3" in detail
    assert [s for s, _, _ in records(city.data_dir, "330106")] == [1, 2]
    assert [s for s, _, _ in records(province.data_dir, "330106")] == [1, 2]


def test_an_edited_record_is_found_by_proofs_and_named_at_the_real_parent(fed):  # type: ignore[no-untyped-def]
    gongshu, city = fed["330105"], fed["330100"]
    seqs = append(gongshu, 20)
    n = seqs[-1]
    wait_until(lambda: query(city, "select 1 from fed_checkpoints where origin='330105' and scheme='merkle' "
                                   "and size=?", n), timeout=60, what="a Merkle checkpoint of Gongshu's log at the city")
    victim = seqs[6]
    con = sqlite3.connect(gongshu.data_dir / "yiwang.db", timeout=30)
    with con:
        old = bytes(con.execute("select body from fed_records where origin='330105' and seq=?", (victim,)).fetchone()[0])
        new = old.replace(b"submitted", b"withdrawn")
        con.execute("update fed_records set body=? where origin='330105' and seq=?", (new, victim))
    con.close()

    def named():  # type: ignore[no-untyped-def]
        return query(city, "select detail, proof from alerts where origin='330105' and kind='inconsistent_checkpoint' "
                           "and subject=?", f"330105#{victim}")

    detail, proof = wait_until(named, timeout=60, what=f"the city's alert naming 330105#{victim}")[0]
    assert hashlib.sha256(old).hexdigest() in detail and hashlib.sha256(new).hexdigest() in detail
    proof = json.loads(proof)
    assert proof["presented"]["proven"] is True and proof["received"]["seq"] == victim
    assert bytes(records(city.data_dir, "330105")[victim - 1][1]) == old  # the city's copy is untouched


def test_a_receipt_from_the_city_is_checked_offline(fed, tmp_path):  # type: ignore[no-untyped-def]
    city = fed["330100"]
    wait_until(lambda: query(city, "select 1 from fed_checkpoints where origin='330105' and scheme='merkle' "
                                   "and size >= 3"), timeout=60, what="a checkpoint of Gongshu at the city")
    out = tmp_path / "receipt.json"
    cli(city, "federation", "receipt", "330105", "3", "--out", str(out))
    stranger = type(city)("000000", "x", None, "x", tmp_path / "nobody", 0, 0)  # no identity, no database
    ok = cli(stranger, "federation", "verify-receipt", str(out), check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("VALID: 330105#3"), ok.stderr
    r = json.loads(out.read_text())
    r["inclusion"][0] = "00" * 32
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(r))
    no = cli(stranger, "federation", "verify-receipt", str(bad), check=False)
    assert no.returncode == 1 and "INVALID: inclusion" in no.stderr
