"""A damaged log is found at home and repaired from the parent's signed copies (without the network:
the parent's store is read as FetchRecords reads it; tests/functional covers the real processes)."""
import shutil

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select, update

from federation.envelope import Signer
from federation.grpc.client import Uplink
from federation.inbox import receive_batch
from federation.pb.v1 import federation_pb2 as pb
from federation.plugin import attach
from federation.repair import repair
from federation.selfcheck import read_checked, scan_log
from node.config import Settings
from node.persistence.models import Alert, FedRecord
from node.services.context import NodeContext
from node.services.health import federation_health

pytestmark = pytest.mark.integration
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
COUNTY = "330105"


def key_for(origin, key_id, at, seq=None):
    return PUB if origin == COUNTY and key_id == "k1" else None


@pytest.fixture
def county(ctx):
    attach(ctx, Signer(COUNTY, "k1", KEY.sign), b"province-wide-test-key")
    return ctx


@pytest.fixture
def city(templates, tmp_path, clock):
    f = tmp_path / "city.db"
    shutil.copy(templates["sqlite"], f)
    c = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{f}", data_dir=tmp_path / "c"), clock=clock.now)
    yield c
    c.engine.dispose()


def _rows(ctx, origin=COUNTY):
    with ctx.factory() as s:
        return [(r.seq, bytes(r.body), bytes(r.signature)) for r in
                s.scalars(select(FedRecord).where(FedRecord.origin == origin).order_by(FedRecord.seq))]


def _push(county, city, upto):
    with city.factory() as s:
        receive_batch(s, COUNTY, [(b, g) for q, b, g in _rows(county) if q <= upto], key_for,
                      lambda p, o: o == p, city.clock())
        s.commit()


def _edit(ctx, seq, also_hash=False):
    with ctx.factory() as s:
        body = s.scalar(select(FedRecord.body).where(FedRecord.origin == COUNTY, FedRecord.seq == seq))
        edited = bytes(body).replace(b"submitted", b"withdrawn")
        assert edited != bytes(body)
        values = {"body": edited}
        if also_hash:
            import hashlib
            values["hash"] = hashlib.sha256(edited).hexdigest()
        s.execute(update(FedRecord).where(FedRecord.origin == COUNTY, FedRecord.seq == seq).values(**values))
        s.commit()
    return bytes(body)


def _from(city):
    def fetch(origin, seq):
        rows = [(b, g) for q, b, g in _rows(city, origin) if q == seq]
        held = max([q for q, _, _ in _rows(city, origin)], default=0)
        return [pb.SignedRecord(body=b, signature=g) for b, g in rows], held
    return fetch


def test_a_damaged_record_is_found_before_it_is_sent(api, county):
    for _ in range(3):
        api.apply_online()
    with county.factory() as s:
        good, damage = read_checked(s, COUNTY, 0, 100)
        assert damage is None and [q for q, _, _ in good] == [1, 2, 3]
    _edit(county, 2)
    with county.factory() as s:
        good, damage = read_checked(s, COUNTY, 0, 100)
        assert [q for q, _, _ in good] == [1]  # what precedes it may still go
        assert damage.subject == "330105#2" and damage.stored_hash != damage.body_hash
        good, damage = read_checked(s, COUNTY, 2, 100)  # resuming after it: the rest is intact
        assert damage is None and [q for q, _, _ in good] == [3]
    _edit(county, 3, also_hash=True)  # body and stored hash both changed: #4 does not link to it
    api.apply_online()
    with county.factory() as s:
        assert [d.subject for d in scan_log(s, COUNTY)] == ["330105#2", "330105#3"]


def test_the_uplink_raises_damaged_log_once_and_health_says_degraded(api, county, clock):
    api.apply_online()
    assert federation_health(county) == "ok"
    _edit(county, 1)
    uplink = Uplink(county, "127.0.0.1:9", grpc.ssl_channel_credentials())
    with county.factory() as s:
        _, damage = read_checked(s, COUNTY, 0, 10)
    for _ in range(3):  # every round sees it again
        uplink._raise_damage([damage])
        clock.advance(seconds=1)
    with county.factory() as s:
        [a] = s.scalars(select(Alert)).all()
        assert (a.kind, a.origin, a.subject, a.sightings) == ("damaged_log", COUNTY, "330105#1", 3)
        assert set(a.proof) >= {"stored_hash", "body_hash"}
    health = federation_health(county)
    assert health.startswith("degraded:") and "330105#1" in health
    r = api.get("/readyz")
    assert (r.status_code, r.json["status"], r.json["checks"]["federation"]) == (200, "degraded", health)
    assert "federation" not in api.get("/healthz").json  # liveness asks no database


def test_repair_restores_what_the_parent_holds_and_names_what_it_cannot(api, county, city):
    for _ in range(4):
        api.apply_online()
    pushed = len(_rows(county))
    _push(county, city, pushed)
    api.apply_online()  # never pushed
    original = _edit(county, 2)
    last = len(_rows(county))
    _edit(county, last)
    Uplink(county, "127.0.0.1:9", grpc.ssl_channel_credentials())._raise_damage(
        [d for d in _scan(county)])
    report = repair(county, _from(city), key_for, "330100")
    assert report.repaired == ["330105#2"]
    [why] = report.unrecoverable
    assert why.startswith(f"330105#{last}:") and "never pushed" in why and "backup" in why
    assert _rows(county)[1][1] == original == _rows(city)[1][1]
    assert [d.subject for d in _scan(county)] == [f"330105#{last}"]
    with county.factory() as s:
        states = {a.subject: a.state for a in s.scalars(select(Alert).where(Alert.kind == "damaged_log"))}
    assert states == {"330105#2": "resolved", f"330105#{last}": "open"}
    assert f"330105#{last}" in federation_health(county)


def test_a_copy_that_does_not_verify_is_refused(api, county, city):
    for _ in range(2):
        api.apply_online()
    _push(county, city, 2)
    _edit(county, 1)

    def forged(origin, seq):
        copies, held = _from(city)(origin, seq)
        return [pb.SignedRecord(body=copies[0].body, signature=bytes(64))], held

    report = repair(county, forged, key_for, "330100")
    assert report.repaired == [] and "signature does not verify" in report.unrecoverable[0]


def _scan(ctx):
    with ctx.factory() as s:
        return scan_log(s, COUNTY)
