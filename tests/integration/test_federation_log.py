"""The signed per-origin log and the parent's inbox, without the network in between."""
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from federation.plugin import attach
from federation.envelope import GENESIS, RecordRejected, Signer, parse
from federation.inbox import ForkDetected, receive_batch, record_alert
from node.persistence.models import Alert, FedHead, FedRecord, LibCase, LibLicense
from node.services.context import CST
from tests.support import ID_NUMBER

pytestmark = pytest.mark.integration
KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=CST)


def keys(origin, key_id, at, seq=None):
    return PUB if origin == "330105" and key_id == "k1" else None


def in_subtree(peer, origin):
    return origin == peer


@pytest.fixture
def county(ctx):
    attach(ctx, Signer("330105", "k1", KEY.sign), b"province-wide-test-key")
    return ctx


def county_records(ctx):
    with ctx.factory() as s:
        return [(bytes(r.body), bytes(r.signature)) for r in s.scalars(select(FedRecord).order_by(FedRecord.seq))]


def push(parent, raw, peer="330105"):
    with parent.factory() as s:
        r = receive_batch(s, peer, raw, keys, in_subtree, NOW)
        s.commit()
        return r


def test_every_event_is_signed_chained_and_minimized(api, county):
    code = api.apply_online()
    api.to_conclusion(code)
    api.post(f"/api/v1/public/cases/{code}/evaluation", {"id_last4": "002X", "score": 4})
    raw = county_records(county)
    events = [parse(b, s).msg.case_event.event for b, s in raw]
    assert events == ["submit", "accept", "undertake", "review", "approve", "conclude", "evaluation"]
    prev = GENESIS
    for i, (body, sig) in enumerate(raw, 1):
        rec = parse(body, sig)
        assert rec.seq == i and rec.msg.prev_hash == prev
        KEY.public_key().verify(sig, body)
        prev = rec.hash
        assert ID_NUMBER.encode() not in body and "张三明".encode() not in body
    last = parse(*raw[5]).msg.case_event
    assert last.license.number and last.license.holder_hash and last.applicant_id_masked == "1101**********002X"
    assert len(last.material_digests) == 5
    with county.factory() as s:
        assert s.get(FedHead, "330105").seq == 7
        assert s.get(LibCase, code).status == "concluded"  # a node's library includes its own cases


def test_parent_applies_in_order_idempotently(api, county, parent):
    code = api.apply_online()
    api.to_conclusion(code)
    raw = county_records(county)
    r = push(parent, raw[:3])
    assert (r.applied, r.duplicates) == (3, 0)
    r = push(parent, raw)  # a replayed prefix plus the rest
    assert (r.applied, r.duplicates) == (3, 3)
    assert push(parent, raw).applied == 0
    with parent.factory() as s:
        row = s.get(LibCase, code)
        assert row.status == "concluded" and row.origin == "330105" and row.record_seq == 6
        assert s.scalar(select(func.count()).select_from(LibLicense)) == 1
        assert [bytes(x.body) for x in s.scalars(select(FedRecord).order_by(FedRecord.seq))] == [b for b, _ in raw]


def _unchanged(parent):
    with parent.factory() as s:
        return s.scalar(select(func.count()).select_from(FedRecord)), s.get(FedHead, "330105")


@pytest.mark.parametrize("attack", ["bad_signature", "tampered", "gap", "broken_chain", "wrong_origin",
                                    "unknown_key", "malformed", "oversized"])
def test_bad_records_are_rejected_and_change_nothing(api, county, parent, attack):
    for _ in range(3):
        api.apply_online()
    raw = county_records(county)
    push(parent, raw[:1])
    before = _unchanged(parent)
    body, sig = raw[1]
    peer = "330105"
    if attack == "bad_signature":
        batch = [(body, sig[:-1] + bytes([sig[-1] ^ 1]))]
    elif attack == "tampered":
        msg = parse(body, sig).msg
        msg.case_event.status = "concluded"
        batch = [(msg.SerializeToString(), sig)]
    elif attack == "gap":
        batch = [raw[2]]
    elif attack == "broken_chain":
        msg = parse(body, sig).msg
        msg.prev_hash = b"\x01" * 32
        b2 = msg.SerializeToString()
        batch = [(b2, KEY.sign(b2))]
    elif attack == "wrong_origin":
        batch, peer = [raw[1]], "330106"
    elif attack == "unknown_key":
        msg = parse(body, sig).msg
        msg.key_id = "k2"
        b2 = msg.SerializeToString()
        batch = [(b2, KEY.sign(b2))]
    elif attack == "malformed":
        batch = [(b"\xff\xff\xff not protobuf", sig)]
    else:
        batch = [(body + b"\x00" * 70000, sig)]
    with pytest.raises(RecordRejected) as e:
        push(parent, batch, peer)
    assert e.value.code == {"tampered": "bad_signature"}.get(attack, attack)
    assert _unchanged(parent)[0] == before[0]
    assert push(parent, raw[1:]).applied == len(raw) - 1  # the sender recovers with the genuine records


def test_fork_is_recorded_with_proof(api, county, parent):
    api.apply_online()
    raw = county_records(county)
    push(parent, raw)
    msg = parse(*raw[0]).msg
    msg.case_event.status = "withdrawn"
    forged = msg.SerializeToString()
    with pytest.raises(ForkDetected) as e:
        push(parent, [(forged, KEY.sign(forged))])
    with parent.factory() as s:
        record_alert(s, "330105", "fork", str(e.value), e.value.proof, "330105", NOW, raised_by="330100")
        s.commit()
        alert = s.scalars(select(Alert)).one()
        assert alert.proof["seq"] == 1 and alert.proof["stored"]["body"] != alert.proof["presented"]["body"]
        assert bytes(s.get(FedRecord, ("330105", 1)).body) == raw[0][0]  # never overwritten


def test_standalone_node_keeps_no_log(api, ctx):
    api.apply_online()
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(FedRecord)) == 0


def test_shared_library_verifies_and_compares_licenses_with_provenance(api, county, parent):
    from node.domain.lifecycle import Actor
    from node.domain.roles import Role
    from node.services import library

    codes = [api.apply_online(), api.apply_online()]
    numbers = [api.to_conclusion(c)["license"]["number"] for c in codes]
    push(parent, county_records(county))
    parent.id_hash_key = county.id_hash_key
    inspector = Actor("staff", 1, Role.INSPECTOR)
    v = parent.run(inspector, library.verify_license, numbers[0], holder_id=ID_NUMBER)
    assert v["valid"] and v["holder_matches"] and v["signed_by"] == "330105" and v["key_id"] == "k1"
    assert v["issuing_department"] == "区城管办"
    v = parent.run(inspector, library.verify_license, numbers[0], holder_id="330105199001011234")
    assert not v["valid"] and v["problems"] == ["issued to another holder"]
    v = parent.run(inspector, library.verify_license, numbers[0], on=datetime(2030, 1, 1).date())
    assert not v["valid"] and "expired" in v["problems"][0]
    cmp = parent.run(inspector, library.compare_licenses, numbers + ["330105-XXX-2026-NOPE"])
    assert not cmp["all_found"] and cmp["licenses"][0]["valid"] and not cmp["licenses"][2]["found"]
    cmp = parent.run(inspector, library.compare_licenses, numbers)
    assert cmp["all_valid"] and cmp["same_holder"]
    rows, total = parent.run(inspector, library.query_cases, region="3301", status="concluded")
    assert total == 2 and {r.service_code for r in rows} == set(codes)
    assert parent.run(inspector, library.query_cases, region="3302")[1] == 0


@pytest.mark.parametrize("claim", ["neighbours_case", "bad_check_character", "neighbours_license"])
def test_a_record_speaks_only_of_its_origins_own_cases(api, county, parent, claim):
    """A validly signed record of 330105 about a case or a license of 330106 (or about a code that
    is no service code) is refused and creates nothing in the library."""
    from datetime import date

    from node.domain.servicecode import make_code

    code = api.apply_online()
    api.to_conclusion(code)
    raw = county_records(county)
    push(parent, raw[:5])
    msg = parse(*raw[5]).msg  # the conclusion, with its license
    neighbour = make_code("330106", date(2026, 3, 2), "ABCDEFGH")
    if claim == "neighbours_case":
        msg.case_event.service_code = neighbour
    elif claim == "bad_check_character":
        msg.case_event.service_code = code[:-1] + ("0" if code[-1] != "0" else "1")
    else:
        msg.case_event.license.number = "330106" + msg.case_event.license.number[6:]
    forged = msg.SerializeToString()
    with pytest.raises(RecordRejected) as e:
        push(parent, [(forged, KEY.sign(forged))])
    assert e.value.code == "foreign_case" and "330105#6" in str(e.value)
    with parent.factory() as s:
        assert s.get(LibCase, neighbour) is None and s.scalar(select(func.count()).select_from(LibLicense)) == 0
        assert s.get(LibCase, code).status != "concluded" and s.get(FedHead, "330105").seq == 5
    assert push(parent, raw[5:]).applied == 1  # the genuine record still goes through
