"""Merkle checkpoints between a county (both backends) and its parent, without the network: the
tree kept as records are sealed and received, the parent's audit (consistency proof, bisection,
the record named), pending checkpoints, a child one version behind, receipts checked offline."""
import hashlib
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import delete, func, select, update

from federation.audit import MAX_QUESTIONS, OwnTree, ParentAudit
from federation.checkpoint import PURPOSE, accept_checkpoint, sign_tree_checkpoint
from federation.envelope import GENESIS, RecordRejected, Signer, accumulate
from federation.inbox import receive_batch
from federation.merkle import (TreeReader, append_leaves, leaf_hash, pack, root_of, tree_rows, tree_table, unpack,
                               verify_own_range)
from federation.pb.v1 import federation_pb2 as pb
from federation.plugin import attach
from node.persistence.models import Alert, FedCheckpoint, FedHead, FedRecord, FedTreeNode
from node.services.context import CST

pytestmark = pytest.mark.integration
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=CST)
SIGNER = Signer("330105", "k1", KEY.sign)


def keys(origin, key_id, at, seq=None):
    return PUB if origin == "330105" and key_id == "k1" else None


def in_subtree(peer, origin):
    return origin == peer


@pytest.fixture
def county(ctx):
    attach(ctx, SIGNER, b"province-wide-test-key")
    return ctx


def records(ctx):
    with ctx.factory() as s:
        return [(bytes(r.body), bytes(r.signature)) for r in s.scalars(select(FedRecord).where(
            FedRecord.origin == "330105").order_by(FedRecord.seq))]


def push(parent, raw):
    with parent.factory() as s:
        r = receive_batch(s, "330105", raw, keys, in_subtree, NOW)
        s.commit()
        return r


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def audit(parent, own, counted=None):
    """One AuditCheckpoint dialogue, the parent's and the child's halves driven in turn (the gRPC
    stream carries exactly these messages, see tests/functional/test_federation_trust.py)."""
    pa = ParentAudit(parent, "330105", keys, in_subtree)
    with own.ctx.factory() as s:
        own.scan(s)
        msg = own.checkpoint(s, NOW, own.accepted_size)
    size = msg.checkpoint.checkpoint and pb.CheckpointBody.FromString(msg.checkpoint.checkpoint.body).size
    while True:
        q = pa.step(msg)
        kind = q.WhichOneof("msg")
        if counted is not None:
            counted.append(kind)
        if kind == "verdict":
            own.accepted_size = size
            return q.verdict.detail
        with own.ctx.factory() as s:
            msg = own.checkpoint(s, NOW, q.need_proof_from) if kind == "need_proof_from" else own.answer(s, q)


def edit_body(ctx, seq, *, tree_too=False):
    """What someone with the county's database does: change a stored record (and, the careful
    ones, its leaf and every stored hash above it, so the tree agrees with the edited body)."""
    with ctx.factory() as s:
        rec = s.get(FedRecord, ("330105", seq))
        old = bytes(rec.body)
        new = old.replace(b"submitted", b"withdrawn")
        assert new != old
        s.execute(update(FedRecord).where(FedRecord.origin == "330105", FedRecord.seq == seq).values(body=new))
        if tree_too:
            s.execute(update(FedRecord).where(FedRecord.origin == "330105", FedRecord.seq == seq)
                      .values(leaf=leaf_hash(new).hex(), hash=hashlib.sha256(new).hexdigest()))
            leaves = [bytes.fromhex(v) for v in s.scalars(select(FedRecord.leaf).where(
                FedRecord.origin == "330105").order_by(FedRecord.seq))]
            s.execute(delete(FedTreeNode).where(FedTreeNode.origin == "330105"))
            frontier = []
            s.execute(tree_table().insert(), tree_rows("330105", append_leaves(0, frontier, leaves)))
            s.execute(update(FedHead).where(FedHead.origin == "330105").values(frontier=pack(frontier)))
        s.commit()
    return old, new


def test_the_tree_is_kept_as_records_are_sealed_and_received(api, county, parent):
    for _ in range(5):
        api.apply_online()
    raw = records(county)
    n = len(raw)
    push(parent, raw[:3])
    push(parent, raw[3:])
    expected = mth([leaf_hash(b) for b, _ in raw])
    for node in (county, parent):
        with node.factory() as s:
            head = s.get(FedHead, "330105")
            assert head.seq == n and root_of(unpack(head.frontier)) == expected
            assert TreeReader(s, "330105").root(n) == expected
            for m in range(1, n + 1):
                assert TreeReader(s, "330105").root(m) == mth([leaf_hash(b) for b, _ in raw[:m]])
            assert s.scalar(select(func.count()).select_from(FedTreeNode)) == sum(n >> lv for lv in range(1, 8))
            assert verify_own_range(s, "330105", 1, n) == []


def test_checkpoints_are_consistent_and_each_extends_the_last(api, county, parent):
    api.apply_online()
    api.apply_online()
    push(parent, records(county))
    own = OwnTree(county, SIGNER)
    assert audit(parent, own) == "consistent"
    for _ in range(3):
        api.apply_online()
    push(parent, records(county))
    steps = []
    assert audit(parent, own, steps) == "consistent" and steps == ["verdict"]  # the proof came with it
    with parent.factory() as s:
        sizes = s.scalars(select(FedCheckpoint.size).where(FedCheckpoint.scheme == "merkle")
                          .order_by(FedCheckpoint.size)).all()
        assert len(sizes) == 2 and sizes[1] == len(records(county))
        assert s.scalar(select(func.count()).select_from(Alert)) == 0
    # a fresh uplink (restarted: it does not know where the parent is) is asked for the right proof
    api.apply_online()
    push(parent, records(county))
    steps = []
    assert audit(parent, OwnTree(county, SIGNER), steps) == "consistent" and steps == ["need_proof_from", "verdict"]


@pytest.mark.parametrize("tree_too", [False, True], ids=["body", "body_and_hashes"])
def test_an_edited_record_is_named_by_the_parent(api, county, parent, tree_too):
    """A body edited in the county's database (or the body and every stored hash above it) after
    the parent received it: the parent's audit finds which record differs in O(log n) questions
    and names it (origin#seq, both hashes), proven by the county's own signed checkpoint."""
    for _ in range(20):
        api.apply_online()
    raw = records(county)
    push(parent, raw)
    own = OwnTree(county, SIGNER)
    assert audit(parent, own) == "consistent"
    victim = 7
    old, new = edit_body(county, victim, tree_too=tree_too)
    with county.factory() as s:
        found = verify_own_range(s, "330105", 1, len(raw))
    if tree_too:
        assert found == []  # the county's own check cannot see it: the parent does
    else:
        assert found == [(victim, hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest())]
    steps = []
    with pytest.raises(RecordRejected) as e:
        audit(parent, OwnTree(county, SIGNER) if tree_too else own, steps)
    assert e.value.code == "inconsistent_checkpoint" and e.value.seq == victim
    assert steps.count("subtrees") <= 2 + len(raw).bit_length() and steps[-1] == "leaf"
    with parent.factory() as s:
        alert = s.scalars(select(Alert)).one()
        assert alert.subject == f"330105#{victim}" and alert.kind == "inconsistent_checkpoint"
        h_old, h_new = hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()
        assert h_old in alert.detail and h_new in alert.detail
        assert alert.proof["received"]["hash"] == h_old and alert.proof["presented"]["hash"] == h_new
        assert alert.proof["presented"]["proven"] is True and alert.proof["checkpoint"]["signature"]
        assert bytes(s.get(FedRecord, ("330105", victim)).body) == old  # the parent's copy is untouched
        assert s.scalar(select(func.count()).select_from(FedCheckpoint)) == 1  # the bad one is not kept


def test_a_checkpoint_that_arrived_before_its_records_is_checked_when_they_come(api, county, parent):
    api.apply_online()
    api.apply_online()
    raw = records(county)
    forged = sign_tree_checkpoint(SIGNER, len(raw), b"\x07" * 32, NOW)  # another history of the same size
    pa = ParentAudit(parent, "330105", keys, in_subtree)
    q = pa.step(pb.AuditMessage(checkpoint=pb.TreeCheckpoint(checkpoint=forged)))
    assert q.verdict.accepted and q.verdict.detail == "pending"
    with pytest.raises(RecordRejected) as e:
        push(parent, raw)
    assert e.value.code == "inconsistent_checkpoint" and e.value.proof["checkpoint"] and e.value.proof["received"]
    with parent.factory() as s:
        assert s.scalar(select(func.count()).select_from(FedRecord)) == 0  # nothing applied
        s.execute(delete(FedCheckpoint))
        s.commit()
    own = OwnTree(county, SIGNER)
    assert audit(parent, own) == "pending"  # the honest one, before the records
    assert push(parent, raw).applied == len(raw)
    assert audit(parent, own) == "consistent"


def test_two_checkpoints_of_one_size_or_a_rewritten_history_are_alerts(api, county, parent):
    api.apply_online()
    push(parent, records(county))
    own = OwnTree(county, SIGNER)
    assert audit(parent, own) == "consistent"
    size = len(records(county))

    def run(msg):  # the signed statement is forged; the answers to the questions are the county's honest tree
        pa = ParentAudit(parent, "330105", keys, in_subtree)
        q = pa.step(msg)
        while q.WhichOneof("msg") != "verdict":
            with county.factory() as s:
                q = pa.step(own.answer(s, q))

    other = sign_tree_checkpoint(SIGNER, size, b"\x01" * 32, NOW)
    with pytest.raises(RecordRejected) as e:
        run(pb.AuditMessage(checkpoint=pb.TreeCheckpoint(checkpoint=other, proof_from=size)))
    assert e.value.code == "inconsistent_checkpoint" and "two checkpoints" in str(e.value)
    bigger = sign_tree_checkpoint(SIGNER, size + 3, b"\x02" * 32, NOW)  # does not extend the one held
    with pytest.raises(RecordRejected) as e:
        run(pb.AuditMessage(checkpoint=pb.TreeCheckpoint(checkpoint=bigger, proof_from=size,
                                                         consistency=[b"\x03" * 32])))
    assert "consistency proof fails" in str(e.value)
    with parent.factory() as s:
        alert = s.scalars(select(Alert)).one()  # one incident about 330105's checkpoints, seen twice
        assert alert.sightings == 2 and alert.kind == "inconsistent_checkpoint"


def test_a_forged_signature_or_a_stranger_is_refused(api, county, parent):
    api.apply_online()
    push(parent, records(county))
    cp = sign_tree_checkpoint(Signer("330105", "k1", Ed25519PrivateKey.generate().sign), 1, b"\x00" * 32, NOW)
    with pytest.raises(RecordRejected) as e:
        ParentAudit(parent, "330105", keys, in_subtree).step(pb.AuditMessage(checkpoint=pb.TreeCheckpoint(checkpoint=cp)))
    assert e.value.code == "bad_signature"
    pa = ParentAudit(parent, "330105", keys, in_subtree)
    with pytest.raises(RecordRejected):
        pa.step(pb.AuditMessage(hashes=pb.SubtreeHashes(hashes=[b"\x00" * 32])))  # no checkpoint first
    assert MAX_QUESTIONS < 1000


def test_a_child_one_version_behind_still_has_its_linear_checkpoint_checked(api, county, parent):
    api.apply_online()
    api.apply_online()
    raw = records(county)
    push(parent, raw)

    def v1(bodies):
        acc = GENESIS
        for b in bodies:
            acc = accumulate(acc, hashlib.sha256(b).digest())
        body = pb.CheckpointBody(origin="330105", size=len(bodies), head_hash=acc,
                                 created_at_ms=int(NOW.timestamp() * 1000), key_id="k1").SerializeToString()
        return pb.SignedCheckpoint(body=body, signature=KEY.sign(PURPOSE + body))

    assert accept_checkpoint(parent, "330105", v1([b for b, _ in raw]), keys, in_subtree) == "consistent"
    edited = [raw[0][0].replace(b"submitted", b"withdrawn")] + [b for b, _ in raw[1:]]
    with pytest.raises(RecordRejected) as e:
        accept_checkpoint(parent, "330105", v1(edited), keys, in_subtree)
    assert e.value.code == "inconsistent_checkpoint"


def test_a_receipt_is_checked_offline_and_a_forged_one_is_not(api, county, parent, tmp_path):
    import base64
    import json

    from federation.directory import build_directory
    from federation.identity import init_identity
    from federation.receipts import ReceiptError, make_receipt, verify_receipt

    province = init_identity(tmp_path / "prov", "330000", "浙江省", None, now=NOW)
    def entry(node_id, name, parent_id, pub):
        return {"node_id": node_id, "name": name, "parent_id": parent_id, "revoked_at": None,
                "keys": [{"key_id": _kid(pub), "public_key_b64": base64.b64encode(pub).decode(),
                          "valid_from": "2026-01-01T00:00:00Z", "valid_until": None, "revoked_at": None}]}

    city_pub = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    directory = build_directory(province, [entry("330100", "杭州市", "330000", city_pub),
                                           entry("330105", "拱墅区", "330100", PUB)], 2, NOW)
    signer = Signer("330105", _kid(PUB), KEY.sign)
    attach(county, signer, b"province-wide-test-key")
    for _ in range(3):
        api.apply_online()
    with county.factory() as s:
        r = make_receipt(s, "330105", 2, directory, NOW, signer)
    out = verify_receipt(json.loads(json.dumps(r)))
    assert out["origin"] == "330105" and out["seq"] == 2 and out["tree_size"] == 3 and "330000" in out["anchor"]
    # at the parent, from its own copy and the checkpoint it accepted
    push_keys = lambda o, k, at, seq=None: PUB if (o, k) == ("330105", _kid(PUB)) else None  # noqa: E731
    with parent.factory() as s:
        receive_batch(s, "330105", records(county), push_keys, in_subtree, NOW)
        s.commit()
    own = OwnTree(county, signer)
    pa_keys = push_keys
    pa = ParentAudit(parent, "330105", pa_keys, in_subtree)
    with county.factory() as s:
        q = pa.step(own.checkpoint(s, NOW, 0))
    assert q.verdict.accepted
    with parent.factory() as s:
        r2 = make_receipt(s, "330105", 3, directory, NOW)
    assert verify_receipt(r2)["seq"] == 3
    bad = json.loads(json.dumps(r2))
    bad["record"] = r["record"]
    bad["seq"] = 2  # another record, with the proof of #3
    with pytest.raises(ReceiptError, match="inclusion"):
        verify_receipt(bad)
    bad = json.loads(json.dumps(r2))
    body = base64.b64decode(bad["record"]["body"]).replace(b"submitted", b"withdrawn")
    bad["record"]["body"] = base64.b64encode(body).decode()
    with pytest.raises(ReceiptError, match="signature"):
        verify_receipt(bad)


def _kid(pub):
    from federation.signing import key_id

    return key_id(pub)


def test_the_migration_builds_the_tree_of_a_log_already_stored(api, county, settings):
    """0007 down (the accumulator recomputed from the bodies) and up again (leaves, subtrees and
    frontier built from the stored bodies): the same tree as the one kept while sealing."""
    from sqlalchemy import text

    from node.persistence.migrate import downgrade, upgrade

    for _ in range(9):
        api.apply_online()
    raw = records(county)

    def tree_state():
        with county.factory() as s:
            return (s.get(FedHead, "330105").frontier,
                    sorted(s.execute(select(FedTreeNode.level, FedTreeNode.idx, FedTreeNode.hash)).all()),
                    s.scalars(select(FedRecord.leaf).order_by(FedRecord.seq)).all())

    before = tree_state()
    county.engine.dispose()
    downgrade(settings.database_url, "0006")
    with county.engine.connect() as c:
        acc = GENESIS
        for body, _ in raw:
            acc = accumulate(acc, hashlib.sha256(body).digest())
        assert c.execute(text("SELECT acc FROM fed_heads WHERE origin = '330105'")).scalar() == acc.hex()
    county.engine.dispose()
    upgrade(settings.database_url)
    assert tree_state() == before
    assert before[2] == [leaf_hash(b).hex() for b, _ in raw]


def test_against_a_parent_one_version_behind_the_checkpoint_waits_and_nothing_fails(api, county):
    """A parent without ``AuditCheckpoint`` (the generated servicer answers UNIMPLEMENTED, as an
    older node does) gets no checkpoint; the uplink says so instead of failing its rounds."""
    import asyncio

    import grpc

    from federation.audit import push_tree_checkpoint
    from federation.pb.v1 import federation_pb2_grpc as pb_grpc

    api.apply_online()

    async def run():
        server = grpc.aio.server()
        pb_grpc.add_FederationServicer_to_server(pb_grpc.FederationServicer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                return await push_tree_checkpoint(pb_grpc.FederationStub(ch), OwnTree(county, SIGNER), asyncio.to_thread)
        finally:
            await server.stop(0)

    assert asyncio.run(run()) == "parent too old for Merkle checkpoints"
