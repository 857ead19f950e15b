"""The inspector's case file is data: the province fetches a county's case over real gRPC with
mutual TLS and gets the county staff API's case, field by field, in the one case schema (times ISO
8601 with offset, dates ISO), the applicant's identifiers masked, wrapped in who served it, when,
for whom and why; compared with the records the county signed, every difference flagged and
raised as an alert. The owner's database is SQLite or PostgreSQL."""
from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import grpc
import pytest
from sqlalchemy import select, update

from federation import tls
from federation.demo import Federation
from federation.grpc.client import Uplink
from federation.grpc.server import FederationServicer
from federation.identity import load_identity
from federation.pb.v1 import federation_pb2_grpc as pb_grpc
from federation.plugin import attach_identity
from federation.runtime import DirectoryTrust, case_detail_reader
from node.config import Settings
from node.persistence.models import Alert, AuditEntry, Case, CaseTransition
from node.services.admin import verify_audit
from node.services.context import NodeContext
from tests.support import ID_NUMBER, Client

pytestmark = pytest.mark.integration

OFFSET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
PURPOSE = "投诉核查"


@pytest.fixture
def fed(request, tmp_path, templates, clock, monkeypatch, db_url):  # type: ignore[no-untyped-def]
    """Province 330000, city 330100 and the owner 330105 with their identities; the province's
    library fed by real uplinks. The owner's and the province's databases are both SQLite or both
    PostgreSQL (``db_url``, and a second copy of the template for the province)."""
    monkeypatch.setenv("YIWANG_ID_HASH_KEY", "test-federation-key")
    f = Federation(tmp_path / "fed", http_base=0, grpc_base=0)
    f.prepare_identities()
    clock.set(datetime.now(timezone.utc) + timedelta(seconds=1))  # records are signed after the keys exist
    ctxs = {}
    for node_id, n in f.nodes.items():
        if node_id == "330105":
            url = db_url
        elif node_id == "330000" and db_url.startswith("postgresql"):
            url = request.getfixturevalue("pg_url")
        else:
            shutil.copy(templates["sqlite"], n.data_dir / "yiwang.db")
            url = f"sqlite:///{n.data_dir / 'yiwang.db'}"
        c = NodeContext.build(Settings.from_env({}, database_url=url, data_dir=n.data_dir, node_id=node_id),
                              clock=clock.now)
        attach_identity(c)
        c.dispatch_notifications = lambda ids: None
        ctxs[node_id] = c
    f.ctxs = ctxs  # type: ignore[attr-defined]
    net = Net(f)
    monkeypatch.setenv("YIWANG_FEDERATION_PEERS", f"330105={net.addr['330105']}")
    f.net = net  # type: ignore[attr-defined]
    yield f
    net.stop()
    for c in ctxs.values():
        c.engine.dispose()


class Net:
    """The nodes' gRPC servers on loopback ports, in an event loop of their own thread (the
    province's API asks the owner from a request thread, as in production)."""

    def __init__(self, f: Federation) -> None:
        self.f = f
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[Any] = []
        self.addr: dict[str, str] = {}
        for node_id in ("330000", "330100", "330105"):
            self.addr[node_id] = self.run(self._start(node_id))

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    async def _start(self, node_id: str) -> str:
        ctx = self.f.ctxs[node_id]  # type: ignore[attr-defined]
        ident = load_identity(self.f[node_id].data_dir)
        server = grpc.aio.server()
        pb_grpc.add_FederationServicer_to_server(
            FederationServicer(ctx, DirectoryTrust(ident), case_detail_reader(ctx)), server)
        port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(ident))
        await server.start()
        self.servers.append(server)
        return f"127.0.0.1:{port}"

    def sync(self) -> None:
        async def up(node_id: str, parent: str) -> int:
            ident = load_identity(self.f[node_id].data_dir)
            link = Uplink(self.f.ctxs[node_id], self.addr[parent], tls.channel_credentials(ident))  # type: ignore[attr-defined]
            link.options += tls.channel_options(ident.parent_id)
            return await link.sync_once()

        self.run(up("330105", "330100"))
        self.run(up("330100", "330000"))

    def stop(self) -> None:
        for s in self.servers:
            self.run(s.stop(None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def api_of(fed, node_id):  # type: ignore[no-untyped-def]
    from node.api import create_app

    return Client(create_app(ctx=fed.ctxs[node_id]).test_client())


def fetch(fed, code, expect=200):  # type: ignore[no-untyped-def]
    province = api_of(fed, "330000")
    r = province.get(f"/api/v1/library/cases/{code}/detail", "inspector", query_string={"purpose": PURPOSE})
    assert r.status_code == expect, r.json
    return r.json


def _concluded_case(fed) -> tuple[Client, str]:  # type: ignore[no-untyped-def]
    county = api_of(fed, "330105")
    code = county.apply_online()
    county.to_conclusion(code)
    fed.net.sync()
    return county, code


def test_the_case_file_is_the_owners_staff_answer_field_by_field(fed):  # type: ignore[no-untyped-def]
    county, code = _concluded_case(fed)
    staff = county.case(code)  # the owner's staff API: GET /api/v1/cases/{code}
    answer = fetch(fed, code)

    # the wrapper: who served it, when, for whom, why, against which signed record
    assert set(answer) == {"case", "served_by", "fetched_at", "requested_by", "purpose", "signed_record", "discrepancies"}
    assert answer["served_by"] == "330105" and answer["purpose"] == PURPOSE
    assert answer["requested_by"].startswith("staff:") and OFFSET_TIME.match(answer["fetched_at"])
    assert answer["signed_record"]["signed_by"] == "330105" and answer["signed_record"]["record_seq"] >= 6
    assert answer["discrepancies"] == []

    file = answer["case"]
    assert set(file) == set(staff)
    for k in staff:
        if k != "applicant":
            assert file[k] == staff[k], k  # the same presenter and schema at both ends
    # masking: the ID number and the phone as on public pages; the keyed hash to compare with
    a, s = file["applicant"], staff["applicant"]
    assert s["id_number"] == ID_NUMBER and a["id_number"] == ID_NUMBER[:4] + "*" * 10 + ID_NUMBER[-4:]
    assert a["phone"] == "139****5678" and a["name"] == s["name"] == "张三明"
    assert (a["id_type"], a["org"]) == (s["id_type"], s["org"]) and "id_number_hash" not in s
    with fed.ctxs["330000"].factory() as db:
        from node.persistence.models import LibCase

        assert a["id_number_hash"] == db.get(LibCase, code).applicant_id_hash

    # the structure, every field and its type
    for k in ("submitted_at", "accepted_at", "concluded_at"):
        assert OFFSET_TIME.match(file[k]), (k, file[k])
    for k in ("legal_deadline", "promised_deadline"):
        assert ISO_DATE.match(file[k]), (k, file[k])
    assert file["stage_deadline"] is None or ISO_DATE.match(file["stage_deadline"])
    assert file["status"] == "concluded" and file["result"] == "approved" and file["stage"] is None
    assert isinstance(file["version"], int) and isinstance(file["department_id"], int)
    assert isinstance(file["form"], dict) and isinstance(file["allowed_events"], list)
    assert [set(st) for st in file["stages"]] == [{"index", "kind", "name", "role", "time_limit_days"}] * 5
    assert len(file["materials"]) == 5
    for m in file["materials"]:
        assert set(m) == {"material_code", "name", "digest", "size", "file_type", "filename", "added_at"}
        assert re.fullmatch(r"[0-9a-f]{64}", m["digest"]) and isinstance(m["size"], int) and m["size"] > 0
        assert m["name"] and m["name"] != m["material_code"] and OFFSET_TIME.match(m["added_at"])
    assert [t["event"] for t in file["transitions"]] == ["submit", "accept", "undertake", "review", "approve", "conclude"]
    for i, t in enumerate(file["transitions"], start=1):
        assert set(t) == {"seq", "event", "from_status", "from_stage", "to_status", "to_stage", "actor", "actor_role",
                          "occurred_at", "recorded_at", "backfilled", "stage_deadline", "reason", "data"}
        assert t["seq"] == i and OFFSET_TIME.match(t["occurred_at"]) and OFFSET_TIME.match(t["recorded_at"])
        assert isinstance(t["backfilled"], bool) and isinstance(t["data"], dict) and isinstance(t["actor"], str)
    lic = file["license"]
    assert set(lic) == {"number", "name", "holder_name", "valid_from", "valid_until", "issued_at", "status"}
    assert lic["name"] == "户外广告设置许可证" and lic["status"] == "valid" and lic["holder_name"] == "张三明"
    assert ISO_DATE.match(lic["valid_from"]) and ISO_DATE.match(lic["valid_until"]) and OFFSET_TIME.match(lic["issued_at"])
    assert "<" not in json.dumps(answer, ensure_ascii=False)  # no object repr anywhere

    # audited at both ends: the owner names the asking node, the inspector and the purpose
    with fed.ctxs["330105"].factory() as db:
        reads = [json.loads(e.payload) for e in db.scalars(select(AuditEntry).where(AuditEntry.op == "read"))]
    assert [(r["actor"], r["table"], r["changes"]["by_node"], r["changes"]["purpose"]) for r in reads] == [
        ("node:330000", "cases", "330000", PURPOSE)]
    assert reads[0]["changes"]["requester"] == answer["requested_by"]
    with fed.ctxs["330000"].factory() as db:
        fetches = [json.loads(e.payload) for e in db.scalars(select(AuditEntry).where(AuditEntry.op == "fetch"))]
    assert [(f["key"], f["changes"]["from_node"]) for f in fetches] == [(code, "330105")]
    with fed.ctxs["330000"].factory() as db:
        assert list(db.scalars(select(Alert))) == []


def test_openapi_describes_the_case_file_with_the_staff_apis_schema(fed):  # type: ignore[no-untyped-def]
    spec = api_of(fed, "330000").get("/api/openapi.json").json
    detail = spec["paths"]["/api/v1/library/cases/{code}/detail"]["get"]["responses"]["200"]
    staff = spec["paths"]["/api/v1/cases/{code}"]["get"]["responses"]["200"]
    ref = detail["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    props = spec["components"]["schemas"][ref]["properties"]
    case_ref = props["case"].get("$ref") or props["case"]["allOf"][0]["$ref"]  # (allOf: the ref with a description)
    assert case_ref == staff["content"]["application/json"]["schema"]["$ref"]
    case = spec["components"]["schemas"][case_ref.rsplit("/", 1)[-1]]
    assert case["properties"]["accepted_at"]["format"] == "date-time" and "transitions" in case["required"]
    assert {"discrepancies", "served_by", "fetched_at", "requested_by", "purpose", "signed_record"} <= set(props)


def test_a_file_edited_behind_the_owner_differs_from_its_signed_records_and_is_flagged(fed):  # type: ignore[no-untyped-def]
    county, code = _concluded_case(fed)
    owner = fed.ctxs["330105"]
    with owner.factory() as s:
        case = s.scalars(select(Case).where(Case.code == code)).one()
        accept = s.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id,
                                                        CaseTransition.event == "accept")).one()
        signed_at = case.accepted_at
    earlier = signed_at - timedelta(days=2)
    with owner.engine.begin() as c:  # straight in the county's database, behind its audit log
        c.execute(update(CaseTransition).where(CaseTransition.id == accept.id).values(occurred_at=earlier))
        c.execute(update(Case).where(Case.id == case.id).values(accepted_at=earlier))

    answer = fetch(fed, code)
    assert answer["case"]["accepted_at"] == earlier.isoformat()  # the owner serves what its database says ...
    found = {d["field"]: d for d in answer["discrepancies"]}  # ... and the inspector sees it is not what was signed
    assert set(found) == {"accepted_at", "transitions[1].occurred_at"}
    t = found["transitions[1].occurred_at"]
    assert datetime.fromisoformat(t["case_file"]) == earlier
    assert abs(datetime.fromisoformat(t["signed_record"]) - signed_at) < timedelta(milliseconds=1)
    assert re.fullmatch(r"330105#\d+", t["record"]) and t["record"] != found["accepted_at"]["record"]
    assert found["accepted_at"]["record"] == f"330105#{answer['signed_record']['record_seq']}"

    fetch(fed, code)  # asked again: the same incident, seen twice
    with fed.ctxs["330000"].factory() as s:
        alerts = list(s.scalars(select(Alert)))
    assert [(a.kind, a.subject, a.origin, a.raised_by, a.sightings) for a in alerts] == [
        ("case_file_mismatch", code, "330105", "330000", 2)]
    assert {d["field"] for d in alerts[0].proof["discrepancies"]} == set(found)

    # and the owner's own audit finds the same two rows
    r = verify_audit(owner)
    assert {(d.table, d.column) for d in r.differences} == {("cases", "accepted_at"), ("case_transitions", "occurred_at")}


def test_an_owner_serving_object_reprs_is_refused_naming_it(fed):  # type: ignore[no-untyped-def]
    """An owner one version behind served reprs and ``str(datetime)``: the inspector's node loads the
    file with the schema and says the owner's file is not in the agreed form (409), nothing made up."""
    _, code = _concluded_case(fed)
    province = fed.ctxs["330000"]
    real = province.owner_gateway

    class OldOwner:  # what the owner's answer looked like before: the same call, the old presenter's shape
        def fetch_case_detail(self, owner, code, requester, purpose):  # type: ignore[no-untyped-def]
            out = real.fetch_case_detail(owner, code, requester, purpose)
            out["license"] = "<node.persistence.models.cases.License object at 0x7f0>"
            out["materials"] = [{k: v for k, v in m.items() if k != "name"} for m in out["materials"]]
            return out

    province.owner_gateway = OldOwner()
    body = fetch(fed, code, expect=409)
    assert "code" in body["errors"]["json"] and "330105" in json.dumps(body, ensure_ascii=False)
    assert "not in the agreed form" in json.dumps(body, ensure_ascii=False)
