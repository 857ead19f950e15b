"""The province's standard catalog flowing down: signed changes, verbatim relay, adoption below."""
from __future__ import annotations

import shutil
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from federation.catalog import PURPOSE, CatalogChangeRejected, receive_changes, sign_change, store_changes, verify_change
from federation.plugin import attach
from federation.envelope import Signer
from federation.pb.v1 import federation_pb2 as pb
from node.config import Settings
from node.persistence.models import CatalogChange, Alert
from node.services.context import CST, NodeContext
from tests.support import Client

pytestmark = pytest.mark.integration
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
ROGUE = Ed25519PrivateKey.generate()
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=CST)
BUILD = "330000-XK-JS-001"  # 建筑工程施工许可: city level, later delegated to the counties
WASTE = "330000-XK-HB-002"  # county level from the start
MINE = "330000-XK-ZR-003"  # province level
URL = "/api/v1/standard-catalog"


def keys(node, key_id, at):
    return PUB if (node, key_id) == ("330000", "k1") else None


def stages(undertake=2, approve=1):
    return [{"kind": "accept", "time_limit_days": 1, "role": "clerk"},
            {"kind": "undertake", "time_limit_days": undertake, "role": "handler"},
            {"kind": "approve", "time_limit_days": approve, "role": "approver"},
            {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}]


@pytest.fixture
def province(ctx):
    attach(ctx, Signer("330000", "k1", KEY.sign))
    return ctx


def _node(templates, tmp_path, clock, node_id):
    f = tmp_path / f"{node_id}.db"
    shutil.copy(templates["sqlite"], f)
    settings = Settings.from_env({}, database_url=f"sqlite:///{f}", data_dir=tmp_path / node_id, node_id=node_id,
                                 token_ttl_hours=24 * 365)
    return NodeContext.build(settings, clock=clock.now)


@pytest.fixture
def city(templates, tmp_path, clock):
    c = _node(templates, tmp_path, clock, "330100")
    yield c
    c.engine.dispose()


@pytest.fixture
def county(templates, tmp_path, clock):
    c = _node(templates, tmp_path, clock, "330105")
    yield c
    c.engine.dispose()


def client(node):
    from node.api import create_app

    return Client(create_app(ctx=node).test_client())


def publish(api, expect=201, **body):
    r = api.post(f"{URL}/changes", body, "admin")
    assert r.status_code == expect, r.json
    return r.json


def held(node):
    with node.factory() as s:
        return [(bytes(r.body), bytes(r.signature)) for r in s.scalars(select(CatalogChange).order_by(CatalogChange.seq))]


def relay(src, dst):
    """What a pull does: the source's stored bytes, verified and stored by the receiver."""
    return receive_changes(dst, held(src), keys, "330000", peer="330000")


def changes(api, user="admin", **q):
    r = api.get(f"{URL}/changes", user, query_string=q)
    assert r.status_code == 200, r.json
    return r.json


def dept_id(api, code="cgj"):
    return next(d["id"] for d in api.get("/api/v1/departments").json if d["code"] == code)


def test_province_publishes_signed_gapless_changes_with_diffs(api, province):
    a = publish(api, change="add", item_code=BUILD, name="建筑工程施工许可", legal_limit_days=20, kind="promised",
                level="city", note="首批标准事项")
    assert (a["seq"], a["publisher"], a["key_id"], a["latest"], a["adopted"]) == (1, "330000", "k1", True, False)
    assert {d["field"]: (d["from"], d["to"]) for d in a["diff"]}["legal_limit_days"] == (None, 20)
    publish(api, change="add", item_code=WASTE, name="城市建筑垃圾处置核准", legal_limit_days=20, kind="promised",
            level="county")
    m = publish(api, change="modify", item_code=BUILD, legal_limit_days=15, note="审批提速")
    assert m["seq"] == 3 and m["diff"] == [{"field": "legal_limit_days", "from": 20, "to": 15}]
    assert m["name"] == "建筑工程施工许可" and m["level"] == "city"  # carried over: the signed body is whole
    assert "法定时限 20个工作日→15个工作日" in m["summary"]
    d = publish(api, change="delegate", item_code=BUILD, level="county", note="下放至县级")
    assert d["diff"] == [{"field": "level", "from": "city", "to": "county"}] and d["legal_limit_days"] == 15
    r = publish(api, change="repeal", item_code=WASTE, note="并入其他事项")
    assert r["seq"] == 5 and r["diff"] == [{"field": "status", "from": "active", "to": "repealed"}]

    raw = held(province)
    assert len(raw) == 5
    for i, (body, sig) in enumerate(raw, 1):
        KEY.public_key().verify(sig, PURPOSE + body)
        msg = verify_change(body, sig, keys, "330000")
        assert msg.seq == i and msg.publisher == "330000"
    listed = changes(api)
    assert [c["seq"] for c in listed] == [1, 2, 3, 4, 5]
    assert [c["latest"] for c in listed] == [False, False, False, True, True]


@pytest.mark.parametrize("body, status, field", [
    ({"change": "modify", "item_code": "330000-XK-XX-404", "name": "x"}, 404, "item_code"),
    ({"change": "add", "item_code": BUILD, "name": "重复", "legal_limit_days": 1, "kind": "promised",
      "level": "city"}, 409, "item_code"),
    ({"change": "add", "item_code": "330000-XK-XX-009", "legal_limit_days": 1, "kind": "promised",
      "level": "city"}, 422, "name"),
    ({"change": "add", "item_code": "bad code", "name": "x", "legal_limit_days": 1, "kind": "promised",
      "level": "city"}, 422, "item_code"),
    ({"change": "modify", "item_code": BUILD, "legal_limit_days": -1}, 422, "legal_limit_days"),
    ({"change": "modify", "item_code": BUILD, "level": "county"}, 422, "level"),
    ({"change": "modify", "item_code": BUILD, "legal_limit_days": 20}, 422, "change"),
    ({"change": "delegate", "item_code": BUILD, "level": "province"}, 422, "level"),
    ({"change": "delegate", "item_code": BUILD, "level": "county", "legal_limit_days": 3}, 422, "legal_limit_days"),
    ({"change": "repeal", "item_code": WASTE}, 409, "item_code"),
])
def test_province_refuses_changes_that_do_not_fit(api, province, body, status, field):
    publish(api, change="add", item_code=BUILD, name="建筑工程施工许可", legal_limit_days=20, kind="promised",
            level="city")
    publish(api, change="add", item_code=WASTE, name="城市建筑垃圾处置核准", legal_limit_days=20, kind="promised",
            level="county")
    publish(api, change="repeal", item_code=WASTE)
    r = api.post(f"{URL}/changes", body, "admin")
    assert r.status_code == status, r.json
    assert field in r.json["errors"]["json"], r.json
    assert len(held(province)) == 3


def test_only_the_province_admin_publishes(api, ctx):
    body = {"change": "add", "item_code": BUILD, "name": "x", "legal_limit_days": 1, "kind": "promised",
            "level": "city"}
    r = api.post(f"{URL}/changes", body, "admin")
    assert r.status_code == 409 and "federation identity" in r.json["message"]  # no signer at all
    attach(ctx, Signer("330105", "k1", KEY.sign))
    r = api.post(f"{URL}/changes", body, "admin")
    assert r.status_code == 403 and "only the province" in r.json["message"]
    attach(ctx, Signer("330000", "k1", KEY.sign))
    assert api.post(f"{URL}/changes", body, "cgj-chief").status_code == 403
    assert held(ctx) == []
    assert api.post(f"{URL}/changes", body, "admin").status_code == 201


def test_changes_are_stored_verbatim_idempotently_and_relayed(api, province, city, county):
    publish(api, change="add", item_code=BUILD, name="建筑工程施工许可", legal_limit_days=20, kind="promised",
            level="city")
    publish(api, change="modify", item_code=BUILD, legal_limit_days=15)
    with city.factory() as s:
        assert store_changes(s, held(province)[:1], keys, "330000", NOW) == 1
        s.commit()
    assert relay(province, city) == 1  # the first again (same bytes: skipped) plus the second
    assert relay(province, city) == 0
    assert relay(city, county) == 2  # the city serves the province's bytes; the county verifies them
    assert held(county) == held(city) == held(province)


def _forge(body, **fields):
    msg = pb.CatalogChangeBody()
    msg.ParseFromString(body)
    for k, v in fields.items():
        setattr(msg, k, v)
    return msg.SerializeToString()


@pytest.mark.parametrize("attack, code", [
    ("tampered", "bad_signature"), ("wrong_signer", "bad_signature"), ("unknown_key", "unknown_key"),
    ("not_the_province", "wrong_origin"), ("other_province", "wrong_origin"), ("gap", "gap"), ("fork", "fork"),
    ("malformed", "malformed"),
])
def test_bad_changes_are_rejected_and_change_nothing(api, province, city, attack, code):
    for n in range(3):
        publish(api, change="add", item_code=f"330000-XK-JS-00{n}", name=f"事项{n}", legal_limit_days=20,
                kind="promised", level="city")
    raw = held(province)
    receive_changes(city, raw[:1], keys, "330000")
    body, sig = raw[1]
    if attack == "tampered":
        batch = [(_forge(body, legal_limit_days=200), sig)]
    elif attack == "wrong_signer":
        batch = [(body, ROGUE.sign(PURPOSE + body))]
    elif attack == "unknown_key":
        forged = _forge(body, key_id="k9")
        batch = [(forged, KEY.sign(PURPOSE + forged))]
    elif attack == "not_the_province":
        forged = _forge(body, publisher="330100")
        batch = [(forged, KEY.sign(PURPOSE + forged))]
    elif attack == "other_province":
        forged = _forge(body, publisher="320000")
        batch = [(forged, KEY.sign(PURPOSE + forged))]
    elif attack == "gap":
        batch = [raw[2]]
    elif attack == "fork":
        forged = _forge(raw[0][0], name="另一个名称")
        batch = [(forged, KEY.sign(PURPOSE + forged))]
    else:
        batch = [(b"\xff\xff not protobuf", sig)]
    with pytest.raises(CatalogChangeRejected) as e:
        receive_changes(city, batch, keys, "330000", peer="330000")
    assert e.value.code == code, e.value
    assert held(city) == raw[:1]
    with city.factory() as s:
        alerts = list(s.scalars(select(Alert)))
    if code in ("bad_signature", "unknown_key", "wrong_origin", "fork"):
        assert [a.kind for a in alerts] == [code] and alerts[0].peer == "330000"
        if code == "fork":
            assert alerts[0].proof["seq"] == 1 and alerts[0].proof["stored"]["body"] != alerts[0].proof["presented"]["body"]
    else:
        assert alerts == []
    assert relay(province, city) == 2  # the genuine changes still go through


def test_verify_change_names_the_problem():
    signer = Signer("330000", "k1", KEY.sign)
    body, sig = sign_change(signer, 1, "add", BUILD, "建筑工程施工许可", 20, "promised", "city", "", NOW)
    assert verify_change(body, sig, keys).item_code == BUILD
    with pytest.raises(CatalogChangeRejected, match="does not match its bytes"):
        verify_change(body + b"\x78\x01", sig, keys)  # an unknown field added
    with pytest.raises(CatalogChangeRejected, match="not from this federation's province 320000"):
        verify_change(body, sig, keys, root_id="320000")
    with pytest.raises(CatalogChangeRejected, match="is not a valid key of 330000"):
        verify_change(body, sig, lambda *a: None)


def test_lower_nodes_see_what_changed_adopt_localize_and_follow_delegation_and_repeal(api, province, city, county):
    capi, kapi = client(city), client(county)
    publish(api, change="add", item_code=BUILD, name="建筑工程施工许可", legal_limit_days=20, kind="promised",
            level="city")
    publish(api, change="add", item_code=WASTE, name="城市建筑垃圾处置核准", legal_limit_days=20, kind="promised",
            level="county")
    publish(api, change="add", item_code=MINE, name="采矿权审批", legal_limit_days=30, kind="promised",
            level="province")
    relay(province, city)

    listed = {c["item_code"]: c for c in changes(capi, "cgj-chief")}
    assert listed[BUILD]["applies_here"] and listed[BUILD]["action"] == "publish" and listed[BUILD]["local"] is None
    assert not listed[WASTE]["applies_here"] and listed[WASTE]["action"] is None and "县级" in listed[WASTE]["reason"]
    assert [c["item_code"] for c in changes(capi, pending=True)] == [BUILD]
    r = capi.post(f"{URL}/items/{WASTE}/adoption", {"promised_limit_days": 5, "stages": stages()}, "admin")
    assert r.status_code == 409 and "县级" in r.json["message"] and r.json["level"] == "county"
    assert capi.post(f"{URL}/items/{BUILD}/adoption", {"promised_limit_days": 5}, "cgj-handler").status_code == 403

    # adopt & localize: the promised limit may not exceed the legal one
    r = capi.post(f"{URL}/items/{BUILD}/adoption", {"promised_limit_days": 25, "stages": stages()}, "cgj-chief")
    assert r.status_code == 422 and "promised_limit_days" in r.json["errors"]["json"], r.json
    r = capi.post(f"{URL}/items/{BUILD}/adoption", {"promised_limit_days": 10, "stages": stages(4, 2),
                                                     "conditions": "本市户籍或本市注册企业"}, "cgj-chief")
    assert r.status_code == 200, r.json
    assert r.json["action"] == "publish" and r.json["seq"] == 1
    item = r.json["item"]
    assert (item["code"], item["version"], item["name"], item["legal_limit_days"], item["promised_limit_days"]) == \
        (BUILD, 1, "建筑工程施工许可", 20, 10)
    assert item["department_id"] == dept_id(capi) and item["conditions"] == "本市户籍或本市注册企业"
    assert changes(capi, item_code=BUILD)[0]["adopted"] and changes(capi, pending=True) == []

    # the province lowers the legal limit below the local promise: the list shows it, adoption insists
    publish(api, change="modify", item_code=BUILD, legal_limit_days=8, note="审批提速")
    relay(province, city)
    last = changes(capi, item_code=BUILD)[-1]
    assert last["diff"] == [{"field": "legal_limit_days", "from": 20, "to": 8}] and not last["adopted"]
    assert last["action"] == "revise" and last["local"]["promised_limit_days"] == 10 and last["local"]["version"] == 1
    r = capi.post(f"{URL}/items/{BUILD}/adoption", {}, "cgj-chief")
    assert r.status_code == 422 and "promised_limit_days" in r.json["errors"]["json"], r.json
    r = capi.post(f"{URL}/items/{BUILD}/adoption", {"promised_limit_days": 6, "stages": stages(3, 2)}, "cgj-chief")
    assert r.status_code == 200, r.json
    assert r.json["action"] == "revise" and (r.json["item"]["version"], r.json["item"]["legal_limit_days"]) == (2, 8)
    assert "采用省级标准目录 330000#4" in r.json["item"]["change_note"]

    # delegated to the counties: the city retires its item, the county takes it up
    publish(api, change="delegate", item_code=BUILD, level="county", note="下放至县级")
    publish(api, change="repeal", item_code=WASTE)
    relay(province, city)
    last = changes(capi, item_code=BUILD)[-1]
    assert last["diff"] == [{"field": "level", "from": "city", "to": "county"}]
    assert last["applies_here"] and last["action"] == "retire"
    r = capi.post(f"{URL}/items/{BUILD}/adoption", {}, "admin")
    assert r.status_code == 200 and r.json["action"] == "retire" and r.json["item"]["status"] == "repealed"
    versions = capi.get(f"/api/v1/catalog/items/{BUILD}/versions").json
    assert [(v["version"], v["legal_limit_days"]) for v in versions] == [(1, 20), (2, 8)]

    assert relay(city, county) == 6  # the county gets the province's changes from the city, verbatim
    listed = {c["item_code"]: c for c in changes(kapi) if c["latest"]}
    assert listed[BUILD]["action"] == "publish" and listed[BUILD]["level"] == "county"
    assert listed[WASTE]["action"] == "acknowledge" and listed[MINE]["action"] is None
    r = kapi.post(f"{URL}/items/{BUILD}/adoption", {"department_id": dept_id(kapi), "promised_limit_days": 8,
                                                    "stages": stages(4, 2)}, "admin")
    assert r.status_code == 200 and r.json["item"]["legal_limit_days"] == 8, r.json
    r = kapi.post(f"{URL}/items/{WASTE}/adoption", {}, "admin")
    assert r.status_code == 200 and r.json["action"] == "acknowledge" and r.json["item"] is None

    # repealed by the province: adopting the repeal repeals the local item, which keeps its versions
    r = kapi.put(f"/api/v1/items/{BUILD}", {"version": 1, "fees": [{"name": "工本费", "amount_fen": 0}]}, "admin")
    assert r.status_code == 200, r.json
    publish(api, change="repeal", item_code=BUILD, note="取消审批，改为备案")
    relay(province, city)
    relay(city, county)
    last = changes(kapi, item_code=BUILD)[-1]
    assert last["action"] == "repeal" and last["diff"] == [{"field": "status", "from": "active", "to": "repealed"}]
    r = kapi.post(f"{URL}/items/{BUILD}/adoption", {}, "admin")
    assert r.status_code == 200 and r.json["action"] == "repeal" and r.json["item"]["status"] == "repealed"
    assert [v["version"] for v in kapi.get(f"/api/v1/catalog/items/{BUILD}/versions").json] == [1, 2]
    assert BUILD not in {i["code"] for i in kapi.get("/api/v1/catalog/items").json}
    r = kapi.post(f"{URL}/items/{BUILD}/adoption", {}, "admin")  # again: nothing left to do, harmless
    assert r.status_code == 200 and r.json["action"] == "acknowledge" and r.json["item"]["version"] == 2
    with county.factory() as s:
        assert s.scalar(select(func.count()).select_from(CatalogChange).where(~CatalogChange.adopted)) == 1  # MINE


def test_pull_over_real_grpc_from_province_to_city_to_county(templates, tmp_path):
    """Three in-process federation servers on loopback with mutual TLS: the city pulls from the
    province, the county from the city, and every node holds the province-signed bytes."""
    import asyncio
    from datetime import timedelta, timezone

    import grpc

    from federation import registry, tls
    from federation.catalog import pull_catalog
    from federation.grpc.server import FederationServicer
    from federation.identity import enroll_child, init_identity, install_enrollment, load_identity, make_enrollment_request
    from federation.pb.v1 import federation_pb2_grpc as pb_grpc
    from federation.runtime import DirectoryTrust
    from tests.support import Clock

    now = datetime.now(timezone.utc) - timedelta(minutes=1)
    home = tmp_path / "ids"
    p = init_identity(home / "p", "330000", "浙江省", None, now=now)
    init_identity(home / "c", "330100", "杭州市", "330000", now=now)
    init_identity(home / "k", "330105", "拱墅区", "330100", now=now)
    install_enrollment(home / "c", enroll_child(p, make_enrollment_request(load_identity(home / "c")), now))
    c = load_identity(home / "c")
    install_enrollment(home / "k", enroll_child(c, make_enrollment_request(load_identity(home / "k")), now))
    k = load_identity(home / "k")
    registry.import_subtree_entries(p, registry.export_subtree_entries(c, now))
    signed = registry.publish_directory(p, now)
    registry.install_directory(c, signed)
    registry.install_directory(k, signed)

    clock = Clock(datetime.now(CST))
    nodes = {i.node_id: _node(templates, tmp_path, clock, i.node_id) for i in (p, c, k)}
    attach(nodes["330000"], Signer(p.node_id, p.key_id, p.sign))
    papi = client(nodes["330000"])
    publish(papi, change="add", item_code=BUILD, name="建筑工程施工许可", legal_limit_days=20, kind="promised",
            level="city")
    publish(papi, change="modify", item_code=BUILD, legal_limit_days=15)

    async def main() -> tuple[int, int, int, int]:
        servers, ports = [], {}
        for ident in (p, c):
            server = grpc.aio.server()
            pb_grpc.add_FederationServicer_to_server(FederationServicer(nodes[ident.node_id], DirectoryTrust(ident)),
                                                     server)
            ports[ident.node_id] = server.add_secure_port("127.0.0.1:0", tls.server_credentials(ident))
            await server.start()
            servers.append(server)

        async def pull(me, parent):
            async with grpc.aio.secure_channel(f"127.0.0.1:{ports[parent.node_id]}", tls.channel_credentials(me),
                                               options=tls.channel_options(parent.node_id)) as ch:
                return await pull_catalog(nodes[me.node_id], pb_grpc.FederationStub(ch), DirectoryTrust(me).key_for,
                                          "330000", parent.node_id)

        try:
            first = await pull(c, p), await pull(k, c)
            publish(papi, change="delegate", item_code=BUILD, level="county")
            second = await pull(c, p), await pull(k, c)
            return (*first, *second)
        finally:
            for server in servers:
                await server.stop(None)

    try:
        assert asyncio.run(main()) == (2, 2, 1, 1)
        assert held(nodes["330105"]) == held(nodes["330100"]) == held(nodes["330000"])
        kapi = client(nodes["330105"])
        last = changes(kapi, item_code=BUILD)[-1]
        assert last["action"] == "publish" and last["diff"] == [{"field": "level", "from": "city", "to": "county"}]
    finally:
        for n in nodes.values():
            n.engine.dispose()
