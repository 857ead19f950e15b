"""Node identity and trust: enrollment down the division hierarchy, the signed directory, key
rotation and revocation."""
from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.x509 import verification

from federation import pki, registry, signing
from federation.codec import canonical_json, truncate_ms
from federation.directory import DirectoryError, build_directory, verify_directory
from federation.identity import (Identity, enroll_child, init_identity, install_enrollment, load_identity,
                                 make_enrollment_request, read_children, rotate_signing_key)
from federation.tls import check_peer

pytestmark = pytest.mark.unit

T0 = truncate_ms(datetime.now(timezone.utc) - timedelta(days=1))


def at(**kw: float) -> datetime:
    return T0 + timedelta(**kw)


@dataclass
class Fed:
    root: Path
    province: Identity
    city: Identity
    county: Identity

    def reload(self) -> None:
        self.province = load_identity(self.root / "p")  # type: ignore[assignment]
        self.city = load_identity(self.root / "c")  # type: ignore[assignment]
        self.county = load_identity(self.root / "k")  # type: ignore[assignment]


def enroll(parent: Identity, child_dir: Path, now: datetime) -> Identity:
    child = load_identity(child_dir)
    assert child is not None
    install_enrollment(child_dir, enroll_child(parent, make_enrollment_request(child), now), now=now)
    return load_identity(child_dir)  # type: ignore[return-value]


@pytest.fixture
def fed(tmp_path: Path) -> Fed:
    """Zhejiang → Hangzhou → Gongshu, enrolled, with the county in a published directory."""
    p = init_identity(tmp_path / "p", "330000", "浙江省", None, now=T0)
    init_identity(tmp_path / "c", "330100", "杭州市", "330000", now=T0)
    init_identity(tmp_path / "k", "330105", "拱墅区", "330100", now=T0)
    c = enroll(p, tmp_path / "c", at(minutes=1))
    k = enroll(c, tmp_path / "k", at(minutes=2))
    registry.import_subtree_entries(p, registry.export_subtree_entries(c, at(minutes=3)))
    signed = registry.publish_directory(p, at(minutes=4))
    for ident in (c, k):
        registry.install_directory(ident, signed)
    return Fed(tmp_path, p, c, k)


def certs(path: Path) -> list[x509.Certificate]:
    return pki.load_pem_chain(path.read_bytes())


# --- identity and enrollment -------------------------------------------------------------------

def test_province_init_creates_root_ca_and_signed_directory(tmp_path: Path) -> None:
    p = init_identity(tmp_path, "330000", "浙江省", None, now=T0)
    home = tmp_path / "federation"
    assert json.loads((home / "node.json").read_text())["parent_id"] is None
    assert (home / "tls.crt").read_bytes() == (home / "ca.crt").read_bytes() == (home / "chain.crt").read_bytes()
    for secret in (home / "tls.key", home / "signing" / f"{p.key_id}.pem"):
        assert os.stat(secret).st_mode & 0o777 == 0o600
    root = certs(home / "ca.crt")[0]
    assert root.issuer == root.subject and pki.node_id_of(root) == "330000"
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    d = verify_directory(json.loads((home / "directory.json").read_text()), p.public_keys)
    assert d.version == 1 and set(d.nodes) == {"330000"}
    assert p.key_id == signing.key_id(p.public_key) and len(p.key_id) == 16


def test_non_province_has_no_certificate_until_enrolled(tmp_path: Path) -> None:
    c = init_identity(tmp_path, "330100", "杭州市", "330000", now=T0)
    assert not c.enrolled and load_identity(tmp_path) == c  # equal by data, keys by id
    assert load_identity(tmp_path / "elsewhere") is None


@pytest.mark.parametrize("node_id,parent,field", [
    ("330105", "330000", "node_id"),   # a county must name its city
    ("330100", None, "parent_id"),     # a city must name its province
    ("330000", "110000", "parent_id"),  # a province has no parent
    ("33010", "330000", "node_id"),    # not 6 digits
])
def test_init_refuses_a_parent_outside_the_hierarchy(tmp_path: Path, node_id: str, parent: str | None,
                                                     field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}"):
        init_identity(tmp_path, node_id, "x", parent)


def test_init_refuses_to_replace_an_identity(tmp_path: Path) -> None:
    init_identity(tmp_path, "330000", "浙江省", None)
    with pytest.raises(ValueError, match="already holds"):
        init_identity(tmp_path, "330000", "浙江省", None)


def test_enrollment_chain_province_city_county(fed: Fed) -> None:
    city_cert, county_cert = certs(fed.city.tls_cert_path)[0], certs(fed.county.tls_cert_path)[0]
    assert pki.common_name(city_cert.issuer) == "330000" and pki.common_name(county_cert.issuer) == "330100"
    assert city_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    assert not county_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = county_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "yiwang://node/330105" in san.get_values_for_type(x509.UniformResourceIdentifier)
    assert {"localhost", "node-330105.yiwang"} <= set(san.get_values_for_type(x509.DNSName))
    assert [pki.node_id_of(c) for c in certs(fed.county.chain_path)] == ["330105", "330100"]
    assert [pki.node_id_of(c) for c in certs(fed.city.chain_path)] == ["330100"]
    assert fed.county.ca_cert_path.read_bytes() == fed.province.ca_cert_path.read_bytes()
    assert set(read_children(fed.province)) == {"330100"} and set(read_children(fed.city)) == {"330105"}


def test_county_certificate_verifies_against_the_root_through_the_city(fed: Fed) -> None:
    root = certs(fed.province.ca_cert_path)[0]
    leaf, *intermediates = certs(fed.county.chain_path)
    store = verification.Store([root])
    client = verification.PolicyBuilder().store(store).time(at(minutes=5)).build_client_verifier()
    verified = client.verify(leaf, intermediates)
    assert [pki.node_id_of(c) for c in verified.chain] == ["330105", "330100", "330000"]
    server = (verification.PolicyBuilder().store(store).time(at(minutes=5))
              .build_server_verifier(verification.DNSName("node-330105.yiwang")))
    assert server.verify(leaf, intermediates)[-1] == root
    with pytest.raises(verification.VerificationError):
        client.verify(leaf, [])  # not without the city's intermediate
    other = init_identity(fed.root / "other", "330000", "浙江省", None, now=T0)
    foreign = verification.Store([certs(other.ca_cert_path)[0]])
    with pytest.raises(verification.VerificationError):
        verification.PolicyBuilder().store(foreign).time(at(minutes=5)).build_client_verifier().verify(
            leaf, intermediates)


def test_province_refuses_a_county_directly(fed: Fed, tmp_path: Path) -> None:
    gongshu = init_identity(tmp_path / "k2", "330106", "西湖区", "330100", now=T0)
    with pytest.raises(ValueError, match=r"^node_id: 330106 is a county whose parent is 330100, not 330000"):
        enroll_child(fed.province, make_enrollment_request(gongshu), at(minutes=5))


def test_city_refuses_a_county_of_another_city(fed: Fed, tmp_path: Path) -> None:
    ningbo_county = init_identity(tmp_path / "nb", "330205", "北仑区", "330200", now=T0)
    with pytest.raises(ValueError, match=r"^node_id: 330205 is a county whose parent is 330200, not 330100"):
        enroll_child(fed.city, make_enrollment_request(ningbo_county), at(minutes=5))
    assert "330205" not in read_children(fed.city)


def test_county_enrolls_nobody(fed: Fed, tmp_path: Path) -> None:
    other = init_identity(tmp_path / "x", "330106", "西湖区", "330100", now=T0)
    with pytest.raises(ValueError, match="counties enroll nobody"):
        enroll_child(fed.county, make_enrollment_request(other), at(minutes=5))


def test_tampered_request_is_refused(fed: Fed, tmp_path: Path) -> None:
    xihu = init_identity(tmp_path / "x", "330106", "西湖区", "330100", now=T0)
    req = make_enrollment_request(xihu)
    doc = json.loads(base64.b64decode(req["body"]))
    doc["name"] = "冒名区"
    forged = {**req, "body": base64.b64encode(canonical_json(doc)).decode()}
    with pytest.raises(ValueError, match="^signing_keys: key .* is not proven"):
        enroll_child(fed.city, forged, at(minutes=5))


def test_known_child_needs_a_key_on_record_to_re_enroll(fed: Fed, tmp_path: Path) -> None:
    impostor = init_identity(tmp_path / "imp", "330105", "拱墅区", "330100", now=at(minutes=3))
    with pytest.raises(ValueError, match="already enrolled and no key on record signed"):
        enroll_child(fed.city, make_enrollment_request(impostor), at(minutes=5))
    enroll_child(fed.city, make_enrollment_request(impostor), at(minutes=5), replace=True)
    keys = {k["key_id"] for k in read_children(fed.city)["330105"]["keys"]}
    assert keys == {fed.county.key_id, impostor.key_id}  # the old key stays for old records


def test_install_refuses_a_bundle_for_another_key(fed: Fed, tmp_path: Path) -> None:
    xihu = init_identity(tmp_path / "x", "330106", "西湖区", "330100", now=T0)
    twin = init_identity(tmp_path / "twin", "330106", "西湖区", "330100", now=T0)
    bundle = enroll_child(fed.city, make_enrollment_request(twin), at(minutes=5))
    with pytest.raises(ValueError, match="^cert_pem: not issued for this node's TLS key"):
        install_enrollment(tmp_path / "x", bundle)
    with pytest.raises(ValueError, match="^node_id: the bundle is for 330106, this node is 330105"):
        install_enrollment(fed.root / "k", bundle)
    assert not xihu.enrolled


# --- the directory -----------------------------------------------------------------------------

def test_directory_is_verified_from_its_exact_bytes(fed: Fed) -> None:
    signed = registry.publish_directory(fed.province, at(minutes=10))
    d = verify_directory(signed, fed.province.public_keys)
    assert base64.b64decode(signed["body"]) == d.body
    same_json_other_bytes = json.dumps(json.loads(d.body), indent=1).encode()
    with pytest.raises(DirectoryError, match="bad signature"):
        verify_directory({**signed, "body": base64.b64encode(same_json_other_bytes).decode()},
                         fed.province.public_keys)


def test_tampered_directory_is_rejected(fed: Fed) -> None:
    signed = registry.publish_directory(fed.province, at(minutes=10))
    body = base64.b64decode(signed["body"])
    tampered = body.replace("拱墅区".encode(), "冒名区".encode())
    assert tampered != body
    with pytest.raises(DirectoryError, match="bad signature"):
        verify_directory({**signed, "body": base64.b64encode(tampered).decode()}, fed.province.public_keys)
    with pytest.raises(DirectoryError, match="does not trust"):
        verify_directory(signed, fed.city.public_keys)
    by_city = signing.seal(signing.DIRECTORY, body, "330000", [(fed.city.key_id, fed.city.signing_key)])
    with pytest.raises(DirectoryError, match="does not trust"):  # a city cannot sign a directory
        verify_directory(by_city, fed.province.public_keys)


def test_older_or_equivocating_directory_is_rejected(fed: Fed) -> None:
    v2 = registry.publish_directory(fed.province, at(minutes=10))
    v3 = registry.publish_directory(fed.province, at(minutes=11))
    cached = registry.install_directory(fed.county, v3)
    with pytest.raises(DirectoryError, match="older than the cached version"):
        verify_directory(v2, cached.root_keys(), cached=cached)
    other_v3 = build_directory(fed.province, cached.entries(), cached.version, at(minutes=12))
    with pytest.raises(DirectoryError, match="two different directories"):
        verify_directory(other_v3, cached.root_keys(), cached=cached)
    assert verify_directory(v3, cached.root_keys(), cached=cached).version == cached.version


def test_subtree_and_ancestry(fed: Fed, tmp_path: Path) -> None:
    init_identity(tmp_path / "x", "330106", "西湖区", "330100", now=T0)
    enroll(fed.city, tmp_path / "x", at(minutes=5))
    registry.import_subtree_entries(fed.province, registry.export_subtree_entries(fed.city, at(minutes=6)))
    d = registry.install_directory(fed.county, registry.publish_directory(fed.province, at(minutes=7)))
    assert d.subtree("330100") == {"330100", "330105", "330106"}
    assert d.subtree("330000") == {"330000", "330100", "330105", "330106"}
    assert d.subtree("330105") == {"330105"} and d.subtree("330200") == set()
    assert d.is_ancestor("330000", "330105") and d.is_ancestor("330100", "330106")
    assert not d.is_ancestor("330105", "330100") and not d.is_ancestor("330105", "330105")
    assert not d.is_ancestor("330106", "330105")


def test_province_imports_only_the_city_s_own_subtree(fed: Fed, tmp_path: Path) -> None:
    foreign = init_identity(tmp_path / "nb", "330205", "北仑区", "330200", now=T0)
    body = {"format": "yiwang-subtree/1", "city": "330100", "exported_at": "2030-01-01T00:00:00.000Z",
            "entries": [{**foreign.directory_entry(), "parent_id": "330100"}]}
    forged = signing.seal_json(signing.SUBTREE, body, "330100", [(fed.city.key_id, fed.city.signing_key)])
    with pytest.raises(ValueError, match="330205"):
        registry.import_subtree_entries(fed.province, forged)
    body["entries"] = [foreign.directory_entry()]
    forged = signing.seal_json(signing.SUBTREE, body, "330100", [(fed.city.key_id, fed.city.signing_key)])
    with pytest.raises(ValueError, match="not in the subtree of 330100"):
        registry.import_subtree_entries(fed.province, forged)
    by_county = signing.seal_json(signing.SUBTREE, body, "330105", [(fed.county.key_id, fed.county.signing_key)])
    with pytest.raises(ValueError, match="^signer: 330105 is not a city enrolled"):
        registry.import_subtree_entries(fed.province, by_county)
    good = registry.export_subtree_entries(fed.city, at(minutes=8))
    tampered = {**good, "body": base64.b64encode(base64.b64decode(good["body"]).replace(b"330105", b"330106"))
                .decode()}
    with pytest.raises(ValueError, match="bad signature"):
        registry.import_subtree_entries(fed.province, tampered)


# --- rotation and revocation -------------------------------------------------------------------

def test_rotation_keeps_old_records_verifiable(fed: Fed) -> None:
    old = fed.county.key_id
    rotated_at = at(hours=1)
    new = rotate_signing_key(fed.root / "k", now=rotated_at)
    fed.reload()
    assert fed.county.key_id == new != old
    assert [k for k in fed.county.keys if k.key_id == old][0].valid_until == rotated_at
    enroll(fed.city, fed.root / "k", at(hours=1, minutes=1))  # re-enrollment carries the new key upward
    registry.import_subtree_entries(fed.province, registry.export_subtree_entries(fed.city, at(hours=1, minutes=2)))
    d = registry.install_directory(fed.county, registry.publish_directory(fed.province, at(hours=1, minutes=3)))
    before, after = rotated_at - timedelta(milliseconds=1), rotated_at
    assert d.key_for("330105", old, before) == dict(fed.county.public_keys)[old]
    assert d.key_for("330105", old, after) is None
    assert d.key_for("330105", new, after) == fed.county.public_key
    assert d.key_for("330105", new, before) is None
    assert d.key_for("330105", old, T0 - timedelta(seconds=1)) is None  # before the key existed
    assert d.key_for("330106", old, before) is None  # not that node's key


def test_province_rotation_is_followed_by_nodes_that_know_only_the_old_key(fed: Fed) -> None:
    old = fed.province.key_id
    new = rotate_signing_key(fed.root / "p", now=at(hours=2))
    fed.reload()
    signed = registry.publish_directory(fed.province, at(hours=2, minutes=1))
    assert signed["key_id"] == new and [c["key_id"] for c in signed["cosignatures"]] == [old]
    d = registry.install_directory(fed.county, signed)
    assert set(d.root_keys()) == {old, new}
    assert d.key_for("330000", old, at(hours=1)) is not None and d.key_for("330000", new, at(hours=1)) is None


def test_revoked_key_verifies_nothing_after_revocation(fed: Fed) -> None:
    kid = fed.county.key_id
    revoked_at = at(hours=3)
    registry.revoke(fed.province, "330105", kid, revoked_at)
    d = registry.install_directory(fed.city, registry.publish_directory(fed.province, at(hours=3, minutes=1)))
    assert d.key_for("330105", kid, revoked_at - timedelta(milliseconds=1)) is not None
    assert d.key_for("330105", kid, revoked_at) is None
    assert d.key_for("330105", kid, at(days=30)) is None
    # later publications keep the revocation even though the city still reports the key as valid
    registry.import_subtree_entries(fed.province, registry.export_subtree_entries(fed.city, at(hours=4)))
    d = registry.install_directory(fed.city, registry.publish_directory(fed.province, at(hours=4, minutes=1)))
    assert d.key_for("330105", kid, at(hours=5)) is None


def test_directory_revoke_helper_and_node_revocation(fed: Fed) -> None:
    cached = registry.install_directory(fed.county, registry.publish_directory(fed.province, at(minutes=20)))
    entries = cached.revoke("330100", at=at(hours=1))
    d = verify_directory(build_directory(fed.province, entries, cached.version + 1, at(hours=1)),
                         cached.root_keys(), cached=cached)
    assert d.is_revoked("330100", at(hours=1)) and not d.is_revoked("330100", at(minutes=59))
    assert d.key_for("330100", fed.city.key_id, at(hours=2)) is None
    assert d.key_for("330100", fed.city.key_id, at(minutes=30)) is not None
    with pytest.raises(DirectoryError, match="no key"):
        cached.revoke("330105", "0000000000000000", at=at(hours=1))
    with pytest.raises(ValueError, match="current key"):
        registry.revoke(fed.province, "330000", None, at(hours=1))


def test_check_peer(fed: Fed) -> None:
    d = registry.install_directory(fed.county, registry.publish_directory(fed.province, at(minutes=20)))
    county_cert = certs(fed.county.tls_cert_path)[0]
    check_peer("330105", "330105", d, at=at(minutes=30), cert=county_cert)
    check_peer("330105", None, d, at=at(minutes=30))
    with pytest.raises(PermissionError, match="certificate is for node 330105, but it claims to be 330106"):
        check_peer("330105", "330106", d, at=at(minutes=30))
    with pytest.raises(PermissionError, match="not in the directory"):
        check_peer("330108", "330108", d, at=at(minutes=30))
    with pytest.raises(PermissionError, match="no node certificate"):
        check_peer(None, "330105", d)
    with pytest.raises(PermissionError, match="issued by 330100, not by its parent 330000"):
        check_peer("330100", "330100", d, at=at(minutes=30), cert=_reissued_by_city_as("330100", fed))
    registry.revoke(fed.province, "330105", None, at(hours=1))
    d = registry.install_directory(fed.county, registry.publish_directory(fed.province, at(hours=1)))
    with pytest.raises(PermissionError, match="revoked"):
        check_peer("330105", "330105", d, at=at(hours=2))


def _reissued_by_city_as(node_id: str, fed: Fed) -> x509.Certificate:
    """What a rogue city CA could mint: a certificate naming another node."""
    csr = pki.load_csr(pki.make_csr(pki.generate_tls_key(), node_id), node_id)
    city_key = pki.load_tls_key(fed.city.tls_key_path.read_bytes())
    return pki.issue_node_cert(certs(fed.city.tls_cert_path)[0], city_key, csr, node_id, "county", at(minutes=20))


# --- the command line --------------------------------------------------------------------------

def test_cli_enrolls_a_city_and_refuses_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from node.cli import main

    runner = CliRunner()

    def run(data_dir: str, *args: str) -> str:
        monkeypatch.setenv("YIWANG_DATA_DIR", str(tmp_path / data_dir))
        r = runner.invoke(main, ["federation", *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.output

    run("p", "init", "--node-id", "330000", "--name", "浙江省")
    run("c", "init", "--node-id", "330100", "--name", "杭州市", "--parent", "330000")
    run("c", "request", "--out", str(tmp_path / "req.json"))
    run("p", "enroll", str(tmp_path / "req.json"), "--out", str(tmp_path / "bundle.json"))
    run("c", "install", str(tmp_path / "bundle.json"))
    assert "issued by 330000" in run("c", "show")
    run("p", "rotate-key")
    run("p", "directory", "publish", "--out", str(tmp_path / "dir.json"))
    assert "version 3 installed" in run("c", "directory", "install", str(tmp_path / "dir.json"))

    monkeypatch.setenv("YIWANG_DATA_DIR", str(tmp_path / "k"))
    bad = runner.invoke(main, ["federation", "init", "--node-id", "330105", "--name", "拱墅区", "--parent", "330000"])
    assert bad.exit_code == 2 and "node_id: 330105 is a county whose parent is 330100" in bad.output
    missing = runner.invoke(main, ["federation", "request", "--out", str(tmp_path / "r.json")])
    assert missing.exit_code == 2 and "run 'yiwang federation init'" in missing.output
