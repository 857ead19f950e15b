"""Addressed records over real gRPC with mutual TLS (in-process servers, one database per node):
a sibling's record routed up to the city and pulled down, applied once by a real handler, acked
back; sealed to the destination; forged, re-signed, replayed and unroutable records refused; a
parent one version behind."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from sqlalchemy import select, text

from federation import sealing, tls
from federation.envelope import parse
from federation.grpc.server import FederationServicer
from federation.identity import load_identity
from federation.pb.v1 import federation_pb2 as pb
from federation.pb.v1 import federation_pb2_grpc as pb_grpc
from federation.registry import install_directory, publish_directory, revoke
from federation.runtime import DirectoryTrust
from federation.status import format_status, read_status
from node.domain.errors import DomainError, InvalidInput
from node.persistence.models import Alert, FedAddressed, FedDown, FedRecord
from node.services.addressed import register, send_message
from node.services.context import SYSTEM
from tests.integration.test_federation_grpc import fed, start, uplink  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration


def notes_table(ctx) -> None:  # type: ignore[no-untyped-def]
    with ctx.engine.begin() as c:
        c.execute(text("CREATE TABLE IF NOT EXISTS test_notes (origin TEXT, seq INTEGER, subject TEXT, secret TEXT)"))


def notes(ctx) -> list[tuple]:  # type: ignore[no-untyped-def,type-arg]
    with ctx.engine.connect() as c:
        return [tuple(r) for r in c.execute(text("SELECT origin, seq, subject, secret FROM test_notes ORDER BY seq"))]


def note_handler(uow, m) -> None:  # type: ignore[no-untyped-def]
    """A real handler: writes a row the test reads; refuses a note whose header says so (after
    writing, so the savepoint must undo the row)."""
    uow.session.execute(text("INSERT INTO test_notes VALUES (:o, :s, :j, :p)"),
                        {"o": m.origin, "s": m.seq, "j": m.subject, "p": (m.private or {}).get("name")})
    if m.header.get("reply"):  # a handler may itself send (sealed as its unit of work commits)
        send_message(uow, m.origin, "note", {"re": m.seq}, subject="reply")
    if m.header.get("refuse"):
        raise InvalidInput("the header asks to be refused", "header", code="note_refused")


@pytest.fixture
def handlers(fed):  # type: ignore[no-untyped-def]
    for n in ("330100", "330105", "330106"):
        notes_table(fed.ctxs[n])
        register(fed.ctxs[n], "note", note_handler)
    return fed


def send(fed, origin, to, header=None, private=None, kind="note", subject="S1"):  # type: ignore[no-untyped-def]
    sent = fed.ctxs[origin].run(SYSTEM, send_message, to, kind, header or {"item": "示例事项"}, private,
                                subject=subject)
    assert sent.seq is not None  # numbered as the unit of work committed
    return sent.origin, sent.seq


def state(fed, node, origin, seq):  # type: ignore[no-untyped-def]
    with fed.ctxs[node].factory() as s:
        row = s.get(FedAddressed, (origin, seq))
        return None if row is None else (row.state, row.code)


def stored(fed, node, origin, seq):  # type: ignore[no-untyped-def]
    with fed.ctxs[node].factory() as s:
        r = s.get(FedRecord, (origin, seq))
        return None if r is None else (bytes(r.body), bytes(r.signature))


def status_of(fed, node_id):  # type: ignore[no-untyped-def]
    with fed.ctxs[node_id].factory() as s:
        return read_status(s, node_id, datetime.now(timezone.utc))


async def start_old(fed, node_id):  # type: ignore[no-untyped-def]
    """A server one version behind: no PullAddressed."""
    ident = load_identity(fed[node_id].data_dir)
    server = grpc.aio.server()
    pb_grpc.add_FederationServicer_to_server(FederationServicer(fed.ctxs[node_id], DirectoryTrust(ident),
                                                                serve_addressed=False), server)
    port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(ident))
    await server.start()
    return server, f"127.0.0.1:{port}"


def test_sibling_message_goes_via_the_city_is_applied_once_and_acked(handlers):  # type: ignore[no-untyped-def]
    fed = handlers
    origin, seq = send(fed, "330105", "330106", {"item": "示例事项"}, {"name": "张三"})
    assert (origin, state(fed, "330105", origin, seq)) == ("330105", ("sent", None))

    async def run():  # type: ignore[no-untyped-def]
        province, paddr = await start(fed, "330000")
        city, caddr = await start(fed, "330100")
        west, east = uplink(fed, "330105", caddr), uplink(fed, "330106", caddr)
        await west.sync_once()  # up: the record reaches the city in 330105's log
        await uplink(fed, "330100", paddr).sync_once()
        await east.sync_once()  # down: pulled by 330106, applied, acked in its own log
        await east.sync_once()  # the ack goes up to the city
        await west.sync_once()  # and down to 330105
        assert not west.stats.parent_too_old and east.stats.pulled == 1
        await city.stop(None)
        await province.stop(None)

    asyncio.run(run())
    assert notes(fed.ctxs["330106"]) == [("330105", seq, "S1", "张三")]
    assert state(fed, "330106", "330105", seq)[0] == "applied"
    assert state(fed, "330105", "330105", seq) == ("acked", None)
    assert stored(fed, "330106", "330105", seq) == stored(fed, "330105", "330105", seq)  # verbatim
    with fed.ctxs["330000"].factory() as s:  # the province only holds it in the logs it mirrors
        assert s.scalars(select(FedDown)).all() == []
    st = status_of(fed, "330105")
    assert st["addressed"]["sent"] == {"acked": 1} and st["addressed"]["down"][0]["after"] >= 1
    assert any("down      <- 330100" in line for line in format_status(st))

    # the city relayed it and cannot open the private part; a changed header cannot be opened either
    body = parse(*stored(fed, "330100", "330105", seq)).msg.addressed
    city_ident, east_ident = load_identity(fed["330100"].data_dir), load_identity(fed["330106"].data_dir)
    info = sealing.info("330105", "330106", "note")
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(city_ident.enc_private(city_ident.enc_keys[-1].key_id), body.enc, body.sealed,
                            body.header_json, info)
    key = east_ident.enc_private(body.enc_key_id)
    assert b"\xe5\xbc\xa0" in sealing.open_sealed(key, body.enc, body.sealed, body.header_json, info)
    with pytest.raises(sealing.SealError):
        sealing.open_sealed(key, body.enc, body.sealed, body.header_json.replace("示例".encode(), "别的".encode()),
                            info)
    assert "张三".encode() not in stored(fed, "330100", "330105", seq)[0]

    # a replay (the same rows pulled again from a reset cursor) changes nothing
    port = fed.ctxs["330106"].addressed
    rows = [(1, *stored(fed, "330106", "330105", seq))]
    with fed.ctxs["330106"].uow(SYSTEM) as uow:
        res = port.apply_down(uow, "330100", rows)
        uow.commit()
    assert (res.stored, res.duplicates) == (0, 1) and len(notes(fed.ctxs["330106"])) == 1


def test_forged_resigned_and_misrouted_records_are_refused(handlers):  # type: ignore[no-untyped-def]
    fed = handlers
    _, seq = send(fed, "330105", "330106", private={"name": "李四"})
    body, sig = stored(fed, "330105", "330105", seq)
    city = load_identity(fed["330100"].data_dir)
    port = fed.ctxs["330106"].addressed
    msg = parse(body, sig).msg
    msg.addressed.header_json = b'{"item":"changed"}'
    tampered = msg.SerializeToString(deterministic=True)
    with fed.ctxs["330106"].uow(SYSTEM) as uow:
        res = port.apply_down(uow, "330100", [
            (1, body, bytes(64)),                 # forged: not the origin's signature
            (2, body, city.sign(body)),           # re-signed by the relay
            (3, tampered, sig),                   # header changed on the way
        ])
        uow.commit()
    assert (res.stored, res.refused, res.after) == (0, 3, 3)
    assert notes(fed.ctxs["330106"]) == [] and stored(fed, "330106", "330105", seq) is None
    with fed.ctxs["330106"].factory() as s:
        assert {a.kind for a in s.scalars(select(Alert))} == {"bad_signature"}
    # a record for a node outside the puller's subtree is refused (330105 pulling 330106's mail)
    with fed.ctxs["330105"].uow(SYSTEM) as uow:
        other = send(fed, "330100", "330106", {"x": 1})
        res = fed.ctxs["330105"].addressed.apply_down(uow, "330100", [(9, *stored(fed, "330100", *other))])
        uow.commit()
    assert res.refused == 1 and stored(fed, "330105", *other) is None


def test_unknown_and_revoked_destinations_are_refused_at_send(handlers):  # type: ignore[no-untyped-def]
    fed = handlers
    for to, words in (("330199", "not a node of the directory"), ("33010", "not a node id"),
                      ("330105", "a node does not address itself")):
        with pytest.raises(InvalidInput, match=words) as e:
            send(fed, "330105", to)
        assert e.value.field == "to"
    with pytest.raises(InvalidInput, match="header"):
        send(fed, "330105", "330106", {"amount": 1.5})
    with pytest.raises(InvalidInput, match="kind"):
        send(fed, "330105", "330106", kind="ack")
    province = load_identity(fed["330000"].data_dir)
    now = datetime.now(timezone.utc)
    revoke(province, "330106", None, now - timedelta(seconds=1))
    install_directory(load_identity(fed["330105"].data_dir), publish_directory(province, now))
    with pytest.raises(InvalidInput, match="revoked"):
        send(fed, "330105", "330106")
    with fed.ctxs["330105"].factory() as s:  # nothing half written
        assert s.scalars(select(FedAddressed)).all() == []


def test_refused_by_the_handler_up_and_down_and_old_parent(handlers):  # type: ignore[no-untyped-def]
    fed = handlers
    _, up_ok = send(fed, "330105", "330100", {"item": "a"})            # to the parent: applied with the batch
    _, up_no = send(fed, "330105", "330100", {"refuse": True})         # refused by the handler
    _, odd = send(fed, "330105", "330100", kind="unknown_thing")       # no handler for it there
    _, down = send(fed, "330100", "330105", {"item": "b"}, {"name": "王五"})  # the parent's own, down

    async def run():  # type: ignore[no-untyped-def]
        city, caddr = await start(fed, "330100")
        west = uplink(fed, "330105", caddr)
        await west.sync_once()
        await west.sync_once()  # the city's acks come down
        await city.stop(None)
        old, oaddr = await start_old(fed, "330100")
        east = uplink(fed, "330106", oaddr)
        send(fed, "330106", "330100")
        await east.sync_once()  # records still go up; the pull is noted as too old
        assert east.stats.parent_too_old
        await old.stop(None)
        st = status_of(fed, "330106")
        assert st["addressed"]["down"][0]["state"] == "parent_too_old"
        assert any("parent too old" in line for line in format_status(st))
        city, caddr = await start(fed, "330100")  # the parent upgraded: a new uplink process asks again
        later = uplink(fed, "330106", caddr)
        await later.sync_once()
        assert not later.stats.parent_too_old
        await city.stop(None)

    asyncio.run(run())
    city_notes = notes(fed.ctxs["330100"])
    assert [n[1] for n in city_notes if n[0] == "330105"] == [up_ok]  # the refused note's row was undone
    assert state(fed, "330100", "330105", up_no) == ("refused", "note_refused")
    assert state(fed, "330100", "330105", odd) == ("refused", "unknown_kind")
    assert state(fed, "330105", "330105", up_ok) == ("acked", None)
    assert state(fed, "330105", "330105", up_no) == ("refused", "note_refused")
    assert state(fed, "330105", "330105", odd) == ("refused", "unknown_kind")
    assert notes(fed.ctxs["330105"]) == [("330100", down, "S1", "王五")]
    assert state(fed, "330100", "330100", down) == ("acked", None)  # its ack went up in the second round
    with fed.ctxs["330100"].factory() as s:
        assert {a.kind for a in s.scalars(select(Alert))} >= {"note_refused", "unknown_kind"}
    st = status_of(fed, "330106")
    assert st["addressed"]["down"][0]["state"] == "ok"
    with pytest.raises(DomainError):
        fed.ctxs["330105"].run(SYSTEM, send_message, "330106", "Bad Kind", {})


def test_applied_once_and_refused_alone_on_either_backend(ctx, tmp_path):  # type: ignore[no-untyped-def]
    """The destination's half on SQLite and PostgreSQL: two pulled records of a sibling, one applied
    (the handler's row, the ack sealed in this node's log), one refused by its handler (its row
    undone, the record kept as refused, an alert, an ack saying so); a replay changes nothing."""
    from federation.codec import canonical_json
    from federation.envelope import GENESIS, Signer, seal
    from federation.identity import cached_directory
    from federation.plugin import attach
    from federation.demo import Federation

    f = Federation(tmp_path / "ids", http_base=0, grpc_base=0)
    f.prepare_identities()
    east, west = load_identity(f["330106"].data_dir), load_identity(f["330105"].data_dir)
    attach(ctx, Signer(east.node_id, east.key_id, east.sign), b"province-wide-test-key", east)
    notes_table(ctx)
    register(ctx, "note", note_handler)
    key = cached_directory(east).node("330106").enc_key
    ms = int((datetime.now(timezone.utc) + timedelta(seconds=1)).timestamp() * 1000)

    def record(seq, prev, header):  # type: ignore[no-untyped-def]
        hj = canonical_json(header)
        enc, sealed = sealing.seal(key, canonical_json({"name": "赵六"}), hj, sealing.info("330105", "330106", "note"))
        return seal(Signer("330105", west.key_id, west.sign), seq, prev, ms, pb.Addressed(
            to="330106", kind="note", joint_code="S9", header_json=hj, sealed=sealed, enc=enc, enc_key_id=key.key_id))

    r1 = record(1, GENESIS, {"item": "a"})
    r2 = record(2, r1.hash, {"refuse": True})
    for _ in range(2):  # the second time: a replay
        with ctx.uow(SYSTEM) as uow:
            ctx.addressed.apply_down(uow, "330100", [(1, r1.body, r1.signature), (2, r2.body, r2.signature)])
            uow.commit()
    assert notes(ctx) == [("330105", 1, "S9", "赵六")]
    with ctx.factory() as s:
        got = {(r.origin, r.seq): (r.state, r.code) for r in s.scalars(select(FedAddressed).where(
            FedAddressed.direction == "in"))}
        acks = [parse(bytes(r.body), bytes(r.signature)).msg.addressed for r in s.scalars(
            select(FedRecord).where(FedRecord.origin == "330106").order_by(FedRecord.seq))]
        kinds = {a.kind for a in s.scalars(select(Alert))}
    assert got == {("330105", 1): ("applied", None), ("330105", 2): ("refused", "note_refused")}
    assert [(a.kind, a.to, a.reply_to_seq) for a in acks if a.kind == "ack"] == [("ack", "330105", 1),
                                                                                 ("ack", "330105", 2)]
    assert "note_refused" in kinds


def test_directory_entries_carry_enc_keys_without_changing_older_entries(tmp_path):  # type: ignore[no-untyped-def]
    """An entry without X25519 keys keeps the bytes an older node wrote; one with a key lists it; a
    report that changes a key's bytes under the same id is refused."""
    from federation.directory import DirectoryError, EncKey, NodeEntry, merge_entry
    from federation.identity import init_identity, make_enrollment_request, read_enrollment_request

    old = {"node_id": "330105", "name": "拱墅区", "parent_id": "330100", "level": "county", "revoked_at": None,
           "keys": []}
    assert NodeEntry.from_dict(old).to_dict() == old
    ident = init_identity(tmp_path, "330105", "拱墅区", "330100")
    assert len(ident.enc_keys) == 1 and ident.enc_private(ident.enc_keys[0].key_id) is not None
    _, doc = read_enrollment_request(make_enrollment_request(ident))
    assert doc["enc_keys"] == [ident.enc_keys[0].to_dict()]
    entry = NodeEntry.from_dict(ident.directory_entry())
    assert entry.enc_key == ident.enc_keys[0]
    forged = EncKey(entry.enc_keys[0].key_id, bytes(32), entry.enc_keys[0].valid_from)
    with pytest.raises(DirectoryError, match="enc key"):
        merge_entry(entry, NodeEntry(entry.node_id, entry.name, entry.parent_id, entry.level, entry.keys,
                                     enc_keys=(forged,)))
    with pytest.raises(DirectoryError, match="not the id of its public key"):
        NodeEntry.from_dict({**old, "enc_keys": [{**forged.to_dict()}]})


def test_what_a_refused_handler_sent_is_not_sent(handlers):  # type: ignore[no-untyped-def]
    """Records sent by a handler go with its writes: the refused one's reply is never sealed; the
    applied one's is, numbered with the batch's acks as the batch's unit of work commits."""
    fed = handlers
    _, ok = send(fed, "330105", "330100", {"reply": True})
    _, no = send(fed, "330105", "330100", {"reply": True, "refuse": True})

    async def run():  # type: ignore[no-untyped-def]
        city, caddr = await start(fed, "330100")
        west = uplink(fed, "330105", caddr)
        await west.sync_once()
        await west.sync_once()  # the acks and the reply come down
        await city.stop(None)

    asyncio.run(run())
    with fed.ctxs["330100"].factory() as s:
        out = [(r.kind, r.subject, r.reply_to_seq) for r in s.scalars(
            select(FedAddressed).where(FedAddressed.direction == "out").order_by(FedAddressed.seq))]
        receipts = {r.seq: r.ack_seq for r in s.scalars(select(FedAddressed).where(
            FedAddressed.direction == "in", FedAddressed.origin == "330105"))}
    assert sorted(out) == sorted([("note", "reply", 0), ("ack", "S1", ok), ("ack", "S1", no)]), out
    assert all(receipts[k] for k in (ok, no)), receipts  # each receipt names its ack's number
    assert state(fed, "330100", "330105", no) == ("refused", "note_refused")
    assert [n[2] for n in notes(fed.ctxs["330105"])] == ["reply"]  # the one reply, applied at the district


def test_a_record_sent_after_the_outbox_was_sealed_is_sealed_at_once(handlers):  # type: ignore[no-untyped-def]
    """A collaborator's own last writes (another hook's before_commit) may still send: the record is
    sealed then and there, and what needs its number still gets it."""
    fed = handlers
    ctx = fed.ctxs["330105"]
    got: list[int] = []

    class Late:
        def before_commit(self, uow):  # type: ignore[no-untyped-def]
            send_message(uow, "330100", "note", {"late": True}).then(got.append)

        def after_commit(self, uow):  # type: ignore[no-untyped-def]
            pass

    with ctx.uow(SYSTEM) as uow:
        first = send_message(uow, "330100", "note", {"first": True})
        uow.hook("late", Late)  # registered after the outbox: runs after it was sealed
        uow.commit()
    assert first.seq is not None and got == [first.seq + 1]
    assert state(fed, "330105", "330105", got[0]) == ("sent", None)
