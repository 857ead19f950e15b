"""The federation over real gRPC with mutual TLS, in one process: a province, a city and two
counties with their own identities and databases; attacks on the wire."""
from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from sqlalchemy import func, select

from federation import tls
from federation.demo import Federation
from federation.envelope import parse
from federation.grpc.client import Uplink
from federation.grpc.server import FederationServicer, serve
from federation.identity import load_identity
from federation.pb.v1 import federation_pb2 as pb
from federation.pb.v1 import federation_pb2_grpc as pb_grpc
from federation.registry import install_directory, publish_directory, revoke
from federation.plugin import attach_identity
from federation.runtime import DirectoryTrust
from node.config import Settings
from node.persistence.models import Alert, FedRecord
from node.services.context import NodeContext
from tests.support import Client

pytestmark = pytest.mark.integration


@pytest.fixture
def fed(tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("YIWANG_ID_HASH_KEY", "test-federation-key")
    f = Federation(tmp_path / "fed", http_base=0, grpc_base=0)
    f.prepare_identities()
    clock.set(datetime.now(timezone.utc) + timedelta(seconds=1))  # records are signed after the keys exist
    ctxs = {}
    for node_id, n in f.nodes.items():
        shutil.copy(templates["sqlite"], n.data_dir / "yiwang.db")
        c = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{n.data_dir / 'yiwang.db'}",
                                                data_dir=n.data_dir, node_id=node_id), clock=clock.now)
        attach_identity(c)
        c.dispatch_notifications = lambda ids: None
        ctxs[node_id] = c
    f.ctxs = ctxs  # type: ignore[attr-defined]
    yield f
    for c in ctxs.values():
        c.engine.dispose()


def county_api(fed, node_id="330105"):  # type: ignore[no-untyped-def]
    from node.api import create_app

    return Client(create_app(ctx=fed.ctxs[node_id]).test_client())


def count(ctx, origin=None) -> int:  # type: ignore[no-untyped-def]
    with ctx.factory() as s:
        q = select(func.count()).select_from(FedRecord)
        if origin:
            q = q.where(FedRecord.origin == origin)
        return s.scalar(q)


async def start(fed, node_id):  # type: ignore[no-untyped-def]
    ident = load_identity(fed[node_id].data_dir)
    server = grpc.aio.server()
    pb_grpc.add_FederationServicer_to_server(FederationServicer(fed.ctxs[node_id], DirectoryTrust(ident)), server)
    port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(ident))
    await server.start()
    return server, f"127.0.0.1:{port}"


def uplink(fed, node_id, target):  # type: ignore[no-untyped-def]
    ident = load_identity(fed[node_id].data_dir)
    up = Uplink(fed.ctxs[node_id], target, tls.channel_credentials(ident))
    up.options += tls.channel_options(ident.parent_id)
    return up


def stub_for(fed, node_id, target, server_id):  # type: ignore[no-untyped-def]
    ident = load_identity(fed[node_id].data_dir)
    ch = grpc.aio.secure_channel(target, tls.channel_credentials(ident),
                                 options=tls.channel_options(server_id) + [("grpc.max_send_message_length", 64 << 20)])
    return ch, pb_grpc.FederationStub(ch)


def test_county_records_reach_the_province_verbatim(fed):  # type: ignore[no-untyped-def]
    api = county_api(fed)
    code = api.apply_online()
    api.to_conclusion(code)

    async def run():  # type: ignore[no-untyped-def]
        province, paddr = await start(fed, "330000")
        city, caddr = await start(fed, "330100")
        assert await uplink(fed, "330105", caddr).sync_once() == 6
        assert await uplink(fed, "330100", paddr).sync_once() == 6
        assert await uplink(fed, "330105", caddr).sync_once() == 0  # nothing twice
        assert await uplink(fed, "330105", caddr).push_checkpoint() == "consistent"
        await city.stop(None)
        await province.stop(None)

    asyncio.run(run())
    with fed.ctxs["330105"].factory() as a, fed.ctxs["330000"].factory() as b:
        mine = [(bytes(r.body), bytes(r.signature)) for r in a.scalars(select(FedRecord).order_by(FedRecord.seq))]
        theirs = [(bytes(r.body), bytes(r.signature)) for r in b.scalars(
            select(FedRecord).where(FedRecord.origin == "330105").order_by(FedRecord.seq))]
    assert mine == theirs and parse(*theirs[0]).msg.key_id == load_identity(fed["330105"].data_dir).key_id


def test_wire_attacks_get_clear_statuses_and_change_nothing(fed):  # type: ignore[no-untyped-def]
    api = county_api(fed)
    api.apply_online()
    api.apply_online()

    async def run():  # type: ignore[no-untyped-def]
        city, caddr = await start(fed, "330100")
        county, kaddr = await start(fed, "330105")
        ch, stub = stub_for(fed, "330105", caddr, "330100")
        with fed.ctxs["330105"].factory() as s:
            recs = [pb.SignedRecord(body=bytes(r.body), signature=bytes(r.signature))
                    for r in s.scalars(select(FedRecord).order_by(FedRecord.seq))]

        async def push(batch):  # type: ignore[no-untyped-def]
            call = stub.PushRecords()
            await call.write(pb.RecordBatch(batch_id=1, records=batch))
            await call.done_writing()
            return await call.read()

        bad = pb.SignedRecord(body=recs[0].body, signature=bytes(64))
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await push([bad])
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED and "bad_signature" in e.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await push([recs[1]])
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "gap" in e.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await push([pb.SignedRecord(body=b"\x00" * (17 << 20), signature=bytes(64))])
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert count(fed.ctxs["330100"], "330105") == 0  # (the city's own log holds its alert's record)
        ack = await push(recs)  # the sender recovers
        assert ack.applied == 2
        ack = await push(recs)  # a replayed batch is acknowledged, not applied again
        assert (ack.applied, ack.duplicates) == (0, 2)
        # a sibling is not a child of the city's sibling: it may not push there
        ch2, sib = stub_for(fed, "330106", kaddr, "330105")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await sib.GetCursors(pb.CursorsRequest())
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # the province cannot push downward either, but it may ask the owner for a case file
        await ch.close()
        await ch2.close()
        await city.stop(None)
        await county.stop(None)

    asyncio.run(run())
    with fed.ctxs["330100"].factory() as s:
        assert [a.kind for a in s.scalars(select(Alert))] == ["bad_signature"]
    assert count(fed.ctxs["330100"], "330105") == 2


def test_revoked_node_is_refused(fed):  # type: ignore[no-untyped-def]
    county_api(fed).apply_online()
    province = load_identity(fed["330000"].data_dir)
    now = datetime.now(timezone.utc)
    revoke(province, "330105", None, now - timedelta(seconds=1))
    signed = publish_directory(province, now)
    install_directory(load_identity(fed["330100"].data_dir), signed)

    async def run():  # type: ignore[no-untyped-def]
        city, caddr = await start(fed, "330100")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await uplink(fed, "330105", caddr).sync_once()
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        await city.stop(None)

    asyncio.run(run())
    assert count(fed.ctxs["330100"], "330105") == 0
