"""Alerts people can see: listed, acknowledged and resolved through the API, raised once, and carried
upward as records of the raiser's signed log into the parent's own alerts table."""
import shutil
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from federation.envelope import Signer, parse
from federation.inbox import receive_batch, record_alert
from federation.plugin import attach
from node.config import Settings
from node.persistence.models import Alert, FedRecord
from node.services.context import SYSTEM, NodeContext

pytestmark = pytest.mark.integration
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
URL = "/api/v1/federation/alerts"


@pytest.fixture
def city(ctx):
    attach(ctx, Signer("330100", "k1", KEY.sign), b"province-wide-test-key")
    return ctx


def _raise(ctx, kind="broken_chain", origin="330105", subject="330105#42", peer="330105"):
    with ctx.uow(SYSTEM) as uow:
        i = record_alert(uow.session, origin, kind, f"{subject} does not link", {"seq": 42}, peer, uow.now,
                         raised_by=ctx.node_id, subject=subject)
        uow.commit()
        return i


def _alert_records(ctx):
    with ctx.factory() as s:
        rows = s.scalars(select(FedRecord).where(FedRecord.origin == ctx.node_id).order_by(FedRecord.seq)).all()
        return [p for p in (parse(bytes(r.body), bytes(r.signature)) for r in rows) if p.msg.HasField("alert")]


def test_a_repeated_problem_is_one_incident_published_once(api, city, clock):
    ids = set()
    for _ in range(5):  # the sync loop retrying the same rejected batch
        ids.add(_raise(city))
        clock.advance(seconds=1)
    assert len(ids) == 1
    r = api.get(URL, user="inspector")
    assert r.status_code == 200, r.json
    [a] = r.json["items"]
    assert (a["kind"], a["origin"], a["subject"], a["sightings"], a["state"], a["raised_by"]) == (
        "broken_chain", "330105", "330105#42", 5, "open", "330100")
    assert a["proof"] == {"seq": 42} and "fingerprint" not in a
    recs = _alert_records(city)
    assert [(p.msg.alert.kind, p.msg.alert.state, p.msg.alert.subject) for p in recs] == [
        ("broken_chain", "open", "330105#42")]


def test_who_may_see_and_handle_alerts(api, city):
    i = _raise(city)
    _raise(city, kind="fork", origin="330200", subject="330200#1", peer="330200")  # not below this city
    assert api.get(URL, user="admin").json["items"][0]["id"] == i
    assert [a["origin"] for a in api.get(URL, user="admin").json["items"]] == ["330105"]
    for user in ("clerk", "cgj-handler"):
        r = api.get(URL, user=user)
        assert r.status_code == 403 and r.json["errors"]["json"]["role"]
        assert api.post(f"{URL}/{i}/acknowledgement", {}, user=user).status_code == 403
    assert api.get(URL).status_code == 401


def test_acknowledge_then_resolve_and_each_change_travels(api, city):
    i = _raise(city)
    r = api.post(f"{URL}/{i}/acknowledgement", {"note": "查看中"}, user="inspector")
    assert r.status_code == 200 and r.json["state"] == "acknowledged" and r.json["state_by"].startswith("staff:")
    assert api.post(f"{URL}/{i}/acknowledgement", {}, user="inspector").status_code == 409
    r = api.post(f"{URL}/{i}/resolution", {}, user="admin")
    assert r.status_code == 422 and "note" in r.json["errors"]["json"]
    r = api.post(f"{URL}/{i}/resolution", {"note": "county restored its log from backup"}, user="admin")
    assert r.status_code == 200 and (r.json["state"], r.json["note"]) == ("resolved", "county restored its log from backup")
    assert api.post(f"{URL}/{i}/resolution", {"note": "again"}, user="admin").status_code == 409
    assert api.post(f"{URL}/999999/acknowledgement", {}, user="admin").status_code == 404
    assert [p.msg.alert.state for p in _alert_records(city)] == ["open", "acknowledged", "resolved"]
    _raise(city)  # it came back: open again, and that travels too
    assert api.get(f"{URL}?state=open", user="admin").json["items"][0]["id"] == i
    assert [p.msg.alert.state for p in _alert_records(city)][-1] == "open"


def test_filters_and_keyset_paging(api, city):
    for n in range(5):
        _raise(city, subject=f"330105#{n}")
    _raise(city, kind="fork", origin="330106", subject="330106#3", peer="330106")
    got, before = [], None
    while True:
        r = api.get(URL + "?limit=2" + (f"&before={before}" if before else ""), user="admin")
        assert r.status_code == 200
        got += [a["id"] for a in r.json["items"]]
        before = r.json["next"]
        if before is None:
            break
    assert len(got) == 6 and got == sorted(got, reverse=True)
    assert [a["subject"] for a in api.get(URL + "?kind=fork", user="admin").json["items"]] == ["330106#3"]
    assert len(api.get(URL + "?origin=330105&state=open", user="admin").json["items"]) == 5
    r = api.get(URL + "?origin=33010", user="admin")
    assert r.status_code == 422 and "origin" in r.json["errors"]["query"]
    assert api.get(URL + "?state=gone", user="admin").status_code == 422
    paths = api.get("/api/openapi.json").json["paths"]
    assert {URL, URL + "/{alert_id}/acknowledgement", URL + "/{alert_id}/resolution"} <= set(paths)


def test_alerts_reach_the_parent_in_their_state(api, city, templates, tmp_path, clock):
    i = _raise(city)
    clock.advance(seconds=5)
    _raise(city)  # a sighting: counted here, not a record
    api.post(f"{URL}/{i}/resolution", {"note": "fixed"}, user="admin")
    f = tmp_path / "province.db"
    shutil.copy(templates["sqlite"], f)
    province = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{f}", data_dir=tmp_path / "p"),
                                 clock=clock.now)
    try:
        with city.factory() as s:
            raw = [(bytes(r.body), bytes(r.signature)) for r in s.scalars(
                select(FedRecord).where(FedRecord.origin == "330100").order_by(FedRecord.seq))]
        keys = lambda origin, key_id, at, seq=None: PUB if origin == "330100" else None  # noqa: E731
        with province.factory() as s:
            receive_batch(s, "330100", raw[:1], keys, lambda p, o: o == p, clock.now())
            s.commit()
            a = s.scalars(select(Alert)).one()
            assert (a.kind, a.origin, a.subject, a.raised_by, a.state, a.peer) == (
                "broken_chain", "330105", "330105#42", "330100", "open", "330105")
            receive_batch(s, "330100", raw, keys, lambda p, o: o == p, clock.now() + timedelta(seconds=1))
            s.commit()
            s.expire_all()
            a = s.scalars(select(Alert)).one()
            assert (a.state, a.note, a.sightings) == ("resolved", "fixed", 2)
            assert a.state_by.startswith("330100:staff:")
    finally:
        province.engine.dispose()
