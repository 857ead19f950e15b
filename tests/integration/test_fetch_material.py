"""FetchMaterial by digest (issue 11: "materials are fetched from the owning node by digest over mTLS
and audited there"), over real gRPC with mutual TLS in one process, on SQLite and PostgreSQL: the city
works part 2 of a district joint case; its department's handler reads a material of the part through
the city's API, fetched from the district and verified; the district serves it only to the node the
part was dispatched to and audits each fetch; every refusal."""
from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import pytest
from sqlalchemy import select

from federation import tls
from federation.grpc.server import FederationServicer
from federation.identity import load_identity
from federation.pb.v1 import federation_pb2 as pb
from federation.pb.v1 import federation_pb2_grpc as pb_grpc
from federation.registry import install_directory, publish_directory, revoke
from federation.runtime import DirectoryTrust
from node.persistence.models import Alert, AuditEntry, Case
from node.ports import FetchedMaterial
from tests.integration.test_federation_grpc import county_api, stub_for
from tests.integration.test_linked_parts import (
    CITY,
    DISTRICT,
    EAST,
    accept,
    linked_cases,
    publish_linked,
    sync,
)
from tests.integration.test_linked_pg import pg_federation, sqlite_federation
from tests.support import ID_NUMBER, SIGN_ITEM, SIGN_MATERIALS

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def fed(request, tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    make = sqlite_federation if request.param == "sqlite" else pg_federation
    yield from make(tmp_path, templates, clock, monkeypatch)


class Served:
    """A node's federation server on a loopback port, on an event loop of its own thread (so the
    synchronous API under test can call it)."""

    def __init__(self, fed: Any, node_id: str, servicer: FederationServicer | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        ident = load_identity(fed[node_id].data_dir)
        svc = servicer or FederationServicer(fed.ctxs[node_id], DirectoryTrust(ident))

        async def go() -> tuple[grpc.aio.Server, int]:
            server = grpc.aio.server()
            pb_grpc.add_FederationServicer_to_server(svc, server)
            port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(ident))
            await server.start()
            return server, port

        self.server, port = asyncio.run_coroutine_threadsafe(go(), self.loop).result(30)
        self.addr = f"127.0.0.1:{port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def linked(fed, monkeypatch):  # type: ignore[no-untyped-def]
    """A district joint case whose part 2 is worked at the city, the district serving on loopback."""
    publish_linked(fed)
    district = county_api(fed, DISTRICT)
    j = accept(district)
    sync(fed, DISTRICT)
    [lc] = linked_cases(fed)
    served = Served(fed, DISTRICT)
    monkeypatch.setenv("YIWANG_FEDERATION_PEERS", f"{DISTRICT}={served.addr}")
    yield {"joint": j, "case": lc.code, "addr": served.addr, "digests": [m["digest"] for m in j["materials"]]}
    served.stop()


def audit(fed: Any, node: str) -> list[tuple[str, dict[str, Any]]]:
    with fed.ctxs[node].factory() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.op == "material").order_by(AuditEntry.seq))
        return [(r.actor, json.loads(r.payload)) for r in rows]


def stored(fed: Any, node: str, digest: str) -> bytes:
    return bytes(fed.ctxs[node].store.get(digest))


def ask(fed: Any, node: str, addr: str, joint_code: str, part: int, digest: str) -> tuple[grpc.StatusCode, str]:
    async def go() -> tuple[grpc.StatusCode, str]:
        ch, stub = stub_for(fed, node, addr, DISTRICT)
        try:
            chunks = [c async for c in stub.FetchMaterial(pb.FetchMaterialRequest(
                joint_code=joint_code, part=part, digest=digest, requester="staff:1", purpose="test"), timeout=20)]
            return grpc.StatusCode.OK, str(sum(len(c.data) for c in chunks))
        except grpc.aio.AioRpcError as e:
            return e.code(), e.details() or ""
        finally:
            await ch.close()

    return asyncio.run(go())


def test_the_part_department_reads_a_material_fetched_from_the_joint_case_node(fed, linked):  # type: ignore[no-untyped-def]
    city = county_api(fed, CITY)
    assert len(linked["digests"]) == 5
    for digest in linked["digests"]:
        r = city.get(f"/api/v1/cases/{linked['case']}/materials/{digest}", "gh-handler")
        assert r.status_code == 200, r.data[:300]
        assert hashlib.sha256(r.data).hexdigest() == digest and r.data == stored(fed, DISTRICT, digest)
        assert r.headers["X-Served-By"] == DISTRICT and r.headers["X-Material-Digest"] == digest
        assert "attachment" in r.headers["Content-Disposition"]
    # audited at the district: which node, who there, which case and part, which digest
    served = audit(fed, DISTRICT)
    assert len(served) == 5
    with fed.ctxs[DISTRICT].factory() as s:
        jid = s.scalar(select(Case.id).where(Case.code == linked["joint"]["code"]).execution_options(all_tenants=True))
    for (who, p), digest in zip(served, linked["digests"], strict=True):
        assert who == f"node:{CITY}"
        assert p["changes"]["by_node"] == CITY and p["changes"]["joint_code"] == linked["joint"]["code"]
        assert p["changes"]["part"] == 2 and p["changes"]["digest"] == digest and p["key"] == str(jid)
        assert p["changes"]["requester"].startswith("staff:")
    # and at the city, the request (before the fetch)
    asked = audit(fed, CITY)
    assert [p["changes"]["digest"] for _, p in asked] == linked["digests"]
    assert all(p["changes"]["from_node"] == DISTRICT for _, p in asked)


def test_who_may_read_and_what_is_refused_at_the_working_node(fed, linked):  # type: ignore[no-untyped-def]
    city = county_api(fed, CITY)
    url = f"/api/v1/cases/{linked['case']}/materials"
    d = linked["digests"][0]
    assert city.get(f"{url}/{d}", "cgj-handler").status_code == 404  # another department does not see the case
    r = city.get(f"{url}/{d}", "clerk")
    assert r.status_code == 403 and "digest" in r.json["errors"]["json"], r.json
    r = city.get(f"{url}/{'0' * 64}", "gh-handler")  # not among the part's materials: nobody is asked
    assert r.status_code == 404 and "digest" in r.json["errors"]["json"], r.json
    assert city.get(f"{url}/{'Z' * 64}", "gh-handler").status_code == 404
    assert audit(fed, DISTRICT) == [] and audit(fed, CITY) == []


def test_the_joint_case_node_refuses_what_was_not_dispatched_to_the_caller(fed, linked):  # type: ignore[no-untyped-def]
    joint, addr, d = linked["joint"]["code"], linked["addr"], linked["digests"][0]
    assert ask(fed, CITY, addr, joint, 2, d) == (grpc.StatusCode.OK, str(len(stored(fed, DISTRICT, d))))
    district = county_api(fed, DISTRICT)  # another case, with other files: its materials are not the part's
    r = district.post("/api/v1/public/applications", {
        "item_code": SIGN_ITEM, "applicant": {"name": "李四", "id_number": ID_NUMBER, "phone": "13912345678"},
        "materials": [{"material_code": m, "upload_id": district.upload(k, m + "-other")}
                      for m, k in SIGN_MATERIALS.items()]})
    assert r.status_code == 201, r.json
    other = r.json["code"]
    with fed.ctxs[DISTRICT].factory() as s:
        oc = s.scalar(select(Case).where(Case.code == other).execution_options(all_tenants=True))
        foreign = next(m.digest for m in oc.materials if m.digest not in linked["digests"])
    code, msg = ask(fed, CITY, addr, joint, 2, foreign)
    assert code == grpc.StatusCode.PERMISSION_DENIED and msg.startswith("not_in_case"), msg
    code, msg = ask(fed, CITY, addr, joint, 2, "ab" * 32)
    assert code == grpc.StatusCode.NOT_FOUND and msg.startswith("unknown_digest"), msg
    code, msg = ask(fed, CITY, addr, joint, 1, d)  # part 1 is worked at the district itself
    assert code == grpc.StatusCode.NOT_FOUND and msg.startswith("unknown_part"), msg
    code, msg = ask(fed, CITY, addr, other, 2, d)
    assert code == grpc.StatusCode.NOT_FOUND and msg.startswith("unknown_part"), msg
    code, msg = ask(fed, EAST, addr, joint, 2, d)  # a sibling district: not the node the part went to
    assert code == grpc.StatusCode.PERMISSION_DENIED and msg.startswith("not_part_node") and CITY in msg, msg
    assert [p["changes"]["by_node"] for _, p in audit(fed, DISTRICT)] == [CITY]  # refusals serve and log nothing

    # bytes that no longer match their digest are not sent
    path = fed.ctxs[DISTRICT].store._path(d)  # type: ignore[attr-defined]
    good = path.read_bytes()
    path.write_bytes(good + b"tampered")
    try:
        code, msg = ask(fed, CITY, addr, joint, 2, d)
        assert code == grpc.StatusCode.DATA_LOSS and msg.startswith("corrupt"), msg
        r = county_api(fed, CITY).get(f"/api/v1/cases/{linked['case']}/materials/{d}", "gh-handler")
        assert r.status_code == 409 and "corrupt" in r.json["message"], r.json
    finally:
        path.write_bytes(good)

    # a revoked node is refused at the door
    province = load_identity(fed["330000"].data_dir)
    now = datetime.now(timezone.utc)
    revoke(province, CITY, None, now - timedelta(seconds=1))
    install_directory(load_identity(fed[DISTRICT].data_dir), publish_directory(province, now))
    served = Served(fed, DISTRICT)  # a server started with the directory that revokes the city
    try:
        code, _ = ask(fed, CITY, served.addr, joint, 2, d)
        assert code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        served.stop()


class Lying(FederationServicer):
    """A joint case's node that sends other bytes under the digest asked for."""

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        honest = self.material

        def lie(*args: Any) -> FetchedMaterial:
            got = honest(*args)
            return FetchedMaterial(got.data[:-1] + b"!", got.digest, got.filename, got.file_type,
                                   got.material_code, got.served_by)

        self.material = lie


def test_the_fetcher_refuses_bytes_that_do_not_match_the_digest(fed, linked, monkeypatch):  # type: ignore[no-untyped-def]
    ident = load_identity(fed[DISTRICT].data_dir)
    liar = Served(fed, DISTRICT, Lying(fed.ctxs[DISTRICT], DirectoryTrust(ident)))
    monkeypatch.setenv("YIWANG_FEDERATION_PEERS", f"{DISTRICT}={liar.addr}")
    try:
        d = linked["digests"][1]
        r = county_api(fed, CITY).get(f"/api/v1/cases/{linked['case']}/materials/{d}", "gh-handler")
        assert r.status_code == 409 and "do not match" in r.json["message"], r.json
    finally:
        liar.stop()
    with fed.ctxs[CITY].factory() as s:
        [a] = s.scalars(select(Alert).where(Alert.kind == "material_mismatch")).all()
        assert a.origin == DISTRICT and a.subject == linked["joint"]["code"]
    monkeypatch.setenv("YIWANG_FEDERATION_PEERS", "")
    r = county_api(fed, CITY).get(f"/api/v1/cases/{linked['case']}/materials/{d}", "gh-handler")
    assert r.status_code == 409 and "YIWANG_FEDERATION_PEERS" in r.json["message"], r.json


class OneVersionBehind(FederationServicer):
    """A joint case's node from before FetchMaterial (the generated default: UNIMPLEMENTED)."""

    async def FetchMaterial(self, request: Any, context: Any) -> None:  # type: ignore[override]
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")


def test_a_joint_case_node_one_version_behind_is_named_in_the_refusal(fed, linked, monkeypatch):  # type: ignore[no-untyped-def]
    ident = load_identity(fed[DISTRICT].data_dir)
    old = Served(fed, DISTRICT, OneVersionBehind(fed.ctxs[DISTRICT], DirectoryTrust(ident)))
    monkeypatch.setenv("YIWANG_FEDERATION_PEERS", f"{DISTRICT}={old.addr}")
    try:
        r = county_api(fed, CITY).get(f"/api/v1/cases/{linked['case']}/materials/{linked['digests'][0]}",
                                      "gh-handler")
    finally:
        old.stop()
    assert r.status_code == 409 and "UNIMPLEMENTED" in r.json["message"] and DISTRICT in r.json["message"], r.json
    assert audit(fed, DISTRICT) == [] and len(audit(fed, CITY)) == 1  # asked (on record here), nothing served
