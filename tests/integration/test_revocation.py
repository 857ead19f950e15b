"""Revocation rests on what receivers had seen: a revoked key's records are valid up to the
``last_seq`` the province wrote into the directory (from its own cursor), later ones are refused
however they are dated; rotation keeps working; old directories still parse."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from federation import registry
from federation.directory import DirectoryError, KeyEntry
from federation.envelope import RecordRejected, Signer, parse
from federation.identity import (enroll_child, init_identity, install_enrollment, load_identity,
                                 make_enrollment_request, rotate_signing_key)
from federation.inbox import check_batch, receive_batch
from federation.plugin import attach
from federation.revocation import accepted_under
from federation.runtime import DirectoryTrust
from node.config import Settings
from node.persistence.models import FedRecord
from node.services.context import NodeContext

pytestmark = pytest.mark.integration
T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)  # identities exist well before the test clock (2026-03-02)


def at(**kw: float) -> datetime:
    return T0 + timedelta(**kw)


def enroll(parent, child_dir: Path, now: datetime):  # type: ignore[no-untyped-def]
    install_enrollment(child_dir, enroll_child(parent, make_enrollment_request(load_identity(child_dir)), now), now=now)
    return load_identity(child_dir)


@pytest.fixture
def fed(tmp_path):  # type: ignore[no-untyped-def]
    p = init_identity(tmp_path / "p", "330000", "浙江省", None, now=T0)
    init_identity(tmp_path / "c", "330100", "杭州市", "330000", now=T0)
    init_identity(tmp_path / "k", "330105", "拱墅区", "330100", now=T0)
    c = enroll(p, tmp_path / "c", at(minutes=1))
    enroll(c, tmp_path / "k", at(minutes=2))
    publish(tmp_path, at(minutes=4))
    return tmp_path


def ident(root: Path, who: str):  # type: ignore[no-untyped-def]
    return load_identity(root / who)


def publish(root: Path, now: datetime):  # type: ignore[no-untyped-def]
    p, c = ident(root, "p"), ident(root, "c")
    registry.import_subtree_entries(p, registry.export_subtree_entries(c, now))
    signed = registry.publish_directory(p, now)
    for who in ("c", "k"):
        registry.install_directory(ident(root, who), signed)
    return DirectoryTrust(ident(root, "c")).directory


@pytest.fixture
def county(ctx, fed):  # type: ignore[no-untyped-def]
    k = ident(fed, "k")
    attach(ctx, Signer(k.node_id, k.key_id, k.sign), b"province-wide-test-key")
    return ctx


@pytest.fixture
def city(templates, tmp_path, clock):  # type: ignore[no-untyped-def]
    f = tmp_path / "city.db"
    shutil.copy(templates["sqlite"], f)
    c = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{f}", data_dir=tmp_path / "city"),
                          clock=clock.now)
    yield c
    c.engine.dispose()


def records(ctx):  # type: ignore[no-untyped-def]
    with ctx.factory() as s:
        return [(bytes(r.body), bytes(r.signature)) for r in s.scalars(select(FedRecord).where(
            FedRecord.origin == "330105").order_by(FedRecord.seq))]


def push(city, raw, trust, now):  # type: ignore[no-untyped-def]
    with city.factory() as s:
        r = receive_batch(s, "330105", raw, trust.key_for, lambda peer, origin: origin == peer, now)
        s.commit()
        return r


def test_a_back_dated_record_under_a_revoked_key_is_refused(api, county, city, fed, clock):  # type: ignore[no-untyped-def]
    api.apply_online()
    api.apply_online()
    trust = DirectoryTrust(ident(fed, "c"))
    assert push(city, records(county), trust, clock.now()).applied == 2
    kid = ident(fed, "k").key_id
    revoked_at = clock.now() + timedelta(hours=1)
    with city.factory() as s:  # what the province does with its own database at `yiwang federation revoke`
        limits = accepted_under(s, "330105", [kid])
    assert limits == {kid: 2}
    registry.revoke(ident(fed, "p"), "330105", kid, revoked_at, limits)
    d = publish(fed, revoked_at + timedelta(minutes=1))
    assert d.node("330105").keys[0].last_seq == 2
    # whoever stole the key signs #3 and dates it a day before the revocation
    clock.set(revoked_at - timedelta(days=1))
    api.apply_online()
    raw = records(county)
    assert len(raw) == 3
    forged_at = datetime.fromtimestamp(parse(*raw[2]).msg.created_at_ms / 1000, timezone.utc)
    assert forged_at < revoked_at and d.key_for("330105", kid, forged_at) is not None  # the old rule: accepted
    with pytest.raises(RecordRejected) as e:
        push(city, raw[2:], trust, revoked_at + timedelta(hours=1))
    assert e.value.code == "unknown_key" and e.value.seq == 3
    with city.factory() as s:
        assert s.get(FedRecord, ("330105", 3)) is None
    # the records accepted before it stay valid, to anyone still catching up (the province relaying late)
    assert check_batch(raw[:2], trust.key_for).rejected == {}
    assert push(city, raw[:2], trust, revoked_at + timedelta(hours=1)).duplicates == 2


def test_rotation_keeps_working_and_revoking_the_old_key_spares_the_new(fed):  # type: ignore[no-untyped-def]
    old = ident(fed, "k").key_id
    rotated = at(days=2)
    new = rotate_signing_key(fed / "k", now=rotated)
    enroll(ident(fed, "c"), fed / "k", at(days=2, minutes=1))
    d = publish(fed, at(days=2, minutes=2))
    assert d.key_for("330105", old, rotated - timedelta(seconds=1), 40) is not None  # old key, before the rotation
    assert d.key_for("330105", old, rotated + timedelta(seconds=1), 41) is None  # it signs nothing after it
    assert d.key_for("330105", new, rotated + timedelta(seconds=1), 41) is not None
    registry.revoke(ident(fed, "p"), "330105", old, at(days=3), {old: 40})
    d = publish(fed, at(days=3, minutes=1))
    assert d.key_for("330105", old, rotated - timedelta(days=1), 40) is not None
    assert d.key_for("330105", old, rotated - timedelta(days=1), 41) is None  # back-dated past last_seq
    assert d.key_for("330105", new, at(days=4), 500) is not None  # the new key is untouched


def test_a_revocation_without_last_seq_fails_closed_until_it_is_given(fed):  # type: ignore[no-untyped-def]
    """A revocation from before ``last_seq`` existed (or given without one): nothing more is
    accepted under the key, whatever its number; re-issued with ``last_seq``, records up to it are."""
    kid = ident(fed, "k").key_id
    registry.revoke(ident(fed, "p"), "330105", kid, at(days=1))
    d = publish(fed, at(days=1, minutes=1))
    assert d.node("330105").keys[0].last_seq is None
    assert d.key_for("330105", kid, at(hours=1), 1) is None
    assert d.key_for("330105", kid, at(hours=1)) is not None  # without a number (catalog, exports): the time rule
    registry.revoke(ident(fed, "p"), "330105", kid, at(days=1), {kid: 5})
    d = publish(fed, at(days=1, minutes=2))
    assert d.key_for("330105", kid, at(hours=1), 5) is not None and d.key_for("330105", kid, at(hours=1), 6) is None
    registry.revoke(ident(fed, "p"), "330105", kid, at(days=1), {kid: 9})  # a later, higher one cannot reopen
    assert publish(fed, at(days=1, minutes=3)).node("330105").keys[0].last_seq == 5


def test_revoking_a_node_fixes_every_key_and_a_checkpoint_past_it_is_refused(fed):  # type: ignore[no-untyped-def]
    kid = ident(fed, "k").key_id
    registry.revoke(ident(fed, "p"), "330105", None, at(days=1), {kid: 3})
    d = publish(fed, at(days=1, minutes=1))
    assert d.is_revoked("330105", at(days=1))
    assert d.key_for("330105", kid, at(days=5), 3) is not None  # dated late but accepted before: fine
    assert d.key_for("330105", kid, at(hours=1), 4) is None  # a checkpoint of size 4 as much as record #4


def test_old_directories_still_parse_and_new_ones_say_only_what_changed(fed):  # type: ignore[no-untyped-def]
    d = DirectoryTrust(ident(fed, "c")).directory
    assert b"last_seq" not in d.body  # nothing revoked: the same bytes a node one version behind writes
    entry = d.node("330105").keys[0].to_dict()
    entry["revoked_at"] = "2026-02-01T00:00:00Z"  # a revocation as an older province wrote it
    k = KeyEntry.from_dict(entry)
    assert k.last_seq is None and not k.valid_for(at(days=1), 1)
    for bad in (-1, "7", True):
        with pytest.raises(DirectoryError, match="last_seq"):
            KeyEntry.from_dict({**entry, "last_seq": bad})
