"""Prerequisites verified by result (前置审批结果验证): an item's prior approvals entered as a license
number or service code and verified at acceptance -- here (own licenses and cases of every
department, then the library) and, across nodes, through the parent's library over real gRPC with
mutual TLS; what a curious neighbour can learn; an unreachable parent."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import pytest
from sqlalchemy import select

from federation.pb.v1 import federation_pb2 as pb
from node.domain.identity import resident_id_check
from node.persistence.models import AuditEntry, Case, CasePrerequisite, License
from node.services.admin import verify_audit
from node.services.context import SYSTEM
from tests.integration.test_federation_grpc import county_api, fed, start, stub_for  # noqa: F401 - fixture
from tests.support import DEMO_PASSWORD, ID_NUMBER

pytestmark = pytest.mark.integration

BIZ = "330000-XK-SJ-001"  # 个体工商户设立登记 -> 营业执照 (accept, conclude: the clerk)
FOOD = "330105-XK-SJ-005"  # 食品经营许可: requires 营业执照
OTHER_ID = "330106198805050011"[:17] + resident_id_check("33010619880505001")


def _materials(api, codes):  # type: ignore[no-untyped-def]
    return [{"material_code": m, "upload_id": api.upload("pdf", m)} for m in codes]


def business_license(api, id_number: str = ID_NUMBER, **conclude) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(license number, service code) of a 营业执照 issued to ``id_number``."""
    r = api.post("/api/v1/public/applications", {
        "item_code": BIZ, "applicant": {"name": "张三明", "id_number": id_number},
        "materials": _materials(api, ("application", "id", "premises"))})
    assert r.status_code == 201, r.json
    code = r.json["code"]
    api.fire(code, "accept", "clerk")
    done = api.fire(code, "conclude", "clerk", **conclude)
    return done["license"]["number"], code


def food_case(api, prerequisites=None, user="clerk", id_number=ID_NUMBER, accept=True):  # type: ignore[no-untyped-def]
    body = {"item_code": FOOD, "applicant": {"name": "张三明", "id_number": id_number},
            "materials": _materials(api, ("application", "id", "food-safety")), "accept": accept}
    if prerequisites is not None:
        body["prerequisites"] = prerequisites
    return api.post("/api/v1/cases", body, user)


def lic(number: str) -> list[dict[str, str]]:
    return [{"item_code": BIZ, "license_number": number}]


def count_cases(ctx) -> int:  # type: ignore[no-untyped-def]
    with ctx.factory() as s:
        return len(s.scalars(select(Case.id)).all())


def test_a_valid_license_is_verified_and_stored_with_the_case(api, ctx):  # type: ignore[no-untyped-def]
    number, _ = business_license(api)
    r = food_case(api, lic(number))
    assert r.status_code == 201, r.json
    case = r.json
    assert case["status"] == "in_progress"
    [p] = case["prerequisites"]
    assert p["item_code"] == BIZ and p["name"] == "营业执照" and p["kind"] == "license" and p["reference"] == number
    assert p["valid"] is True and p["reason"] is None and p["result_item_code"] == BIZ
    assert p["answered_by"] == ctx.node_id and p["checked_by"].startswith("staff:") and p["checked_at"]
    assert p["checked_on"] == "2026-03-02" and p["valid_until"] is None
    again = api.case(case["code"])  # GET shows it
    assert again["prerequisites"] == case["prerequisites"]
    assert "holder" not in str(p) and ID_NUMBER not in str(p)
    report = verify_audit(ctx)  # the rows written (and rewritten at acceptance) replay from the chain
    assert report.ok, report


def test_a_missing_prerequisite_refuses_acceptance_and_writes_nothing(api, ctx):  # type: ignore[no-untyped-def]
    before = count_cases(ctx)
    r = food_case(api)
    assert r.status_code == 422, r.json
    assert r.json["prerequisite"] == BIZ and r.json["reason"] == "missing" and "营业执照" in r.json["message"]
    assert "prerequisites" in r.json["errors"]["json"]
    assert count_cases(ctx) == before  # the window's submission and acceptance: one unit of work


def test_online_applicant_enters_it_and_the_clerk_accepts(api):  # type: ignore[no-untyped-def]
    number, _ = business_license(api)
    r = api.post("/api/v1/public/applications", {
        "item_code": FOOD, "applicant": {"name": "张三明", "id_number": ID_NUMBER},
        "materials": _materials(api, ("application", "id", "food-safety")), "prerequisites": lic(number)})
    assert r.status_code == 201, r.json
    code = r.json["code"]
    entered = api.case(code)["prerequisites"]
    assert entered[0]["reference"] == number and entered[0]["checked_at"] is None and entered[0]["entered_by"] == "applicant"
    accepted = api.fire(code, "accept", "clerk")
    assert accepted["prerequisites"][0]["valid"] is True


def test_the_clerk_may_enter_it_at_acceptance(api):  # type: ignore[no-untyped-def]
    number, _ = business_license(api)
    code = food_case(api, accept=False).json["code"]
    api.fire(code, "accept", "clerk", expect=422)
    done = api.fire(code, "accept", "clerk", prerequisites=lic(number))
    assert done["status"] == "in_progress" and done["prerequisites"][0]["valid"] is True
    # ... only at acceptance: later events take none.
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "undertake", "version": done["version"],
                                                        "opinion": "ok", "prerequisites": lic(number)}, "scjg-handler")
    assert r.status_code == 422 and "prerequisites" in r.json["errors"]["json"]


def _refused(api, prerequisites, reason, id_number=ID_NUMBER):  # type: ignore[no-untyped-def]
    r = food_case(api, prerequisites, id_number=id_number)
    assert r.status_code == 422, r.json
    assert r.json["reason"] == reason and r.json["prerequisite"] == BIZ, r.json
    assert "营业执照" in r.json["message"] and "prerequisites" in r.json["errors"]["json"]
    return r.json


def test_expired(api, clock):  # type: ignore[no-untyped-def]
    number, _ = business_license(api, license_valid_until=(clock.now().date() + timedelta(days=10)).isoformat())
    assert food_case(api, lic(number)).status_code == 201
    clock.advance(days=30)
    assert "已过有效期" in _refused(api, lic(number), "expired")["message"]


def test_revoked(api, ctx):  # type: ignore[no-untyped-def]
    number, _ = business_license(api)

    def revoke(uow):  # type: ignore[no-untyped-def]
        uow.session.scalar(select(License).where(License.number == number)).status = "revoked"

    ctx.run(SYSTEM, revoke)
    _refused(api, lic(number), "revoked")


def test_other_holder(api):  # type: ignore[no-untyped-def]
    number, _ = business_license(api, id_number=OTHER_ID)
    body = _refused(api, lic(number), "other_holder")
    assert "不属于本申请人" in body["message"]


def test_wrong_item(api):  # type: ignore[no-untyped-def]
    sign = api.apply_online()  # 店招店牌 -> 户外广告设置许可证, same applicant: not a business licence
    number = api.to_conclusion(sign)["license"]["number"]
    _refused(api, lic(number), "wrong_item")


def test_unknown(api, ctx):  # type: ignore[no-untyped-def]
    assert ctx.result_verifier is None  # a hall on its own: nobody above to ask
    _refused(api, lic("330105-SCJG-2026-ZZZZZZZZ"), "not_found")


def test_a_case_service_code_as_the_reference(api):  # type: ignore[no-untyped-def]
    _, code = business_license(api)
    ok = food_case(api, [{"item_code": BIZ, "service_code": code.lower()}])
    assert ok.status_code == 201, ok.json
    assert ok.json["prerequisites"][0]["kind"] == "case" and ok.json["prerequisites"][0]["valid"]
    pending = api.post("/api/v1/public/applications", {
        "item_code": BIZ, "applicant": {"name": "张三明", "id_number": ID_NUMBER},
        "materials": _materials(api, ("application", "id", "premises"))}).json["code"]
    _refused(api, [{"item_code": BIZ, "service_code": pending}], "not_approved")


def test_a_license_of_another_department_at_this_node(api, ctx):  # type: ignore[no-untyped-def]
    """跨部门结果互认: a city-management clerk, who cannot read market supervision's cases,
    still has its business licence verified (the node checks, not the reader's tenancy)."""
    number, biz_code = business_license(api)
    depts = {d["code"]: d["id"] for d in api.get("/api/v1/departments").json}
    item = {"code": "330105-XK-CG-009", "department_id": depts["cgj"], "name": "门前三包责任书签订（测试）",
            "kind": "promised", "legal_limit_days": 10, "promised_limit_days": 3,
            "stages": [{"kind": "accept", "time_limit_days": 1, "role": "clerk"},
                       {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}],
            "materials": [{"code": "application", "name": "申请表", "file_types": ["pdf"]}],
            "prerequisites": [{"item_code": BIZ, "name": "营业执照"}]}
    assert api.post("/api/v1/items", item, "admin").status_code == 201
    assert api.post("/api/v1/staff", {"username": "cgj-clerk", "name": "城管窗口", "password": DEMO_PASSWORD,
                                      "role": "clerk", "department_id": depts["cgj"]}, "admin").status_code == 201
    assert api.get(f"/api/v1/cases/{biz_code}", "cgj-clerk").status_code == 404
    r = api.post("/api/v1/cases", {"item_code": "330105-XK-CG-009", "applicant": {"name": "张三明", "id_number": ID_NUMBER},
                                   "materials": _materials(api, ("application",)), "accept": True,
                                   "prerequisites": lic(number)}, "cgj-clerk")
    assert r.status_code == 201, r.json
    assert r.json["prerequisites"][0]["valid"] is True
    with ctx.factory() as s:
        row = s.scalar(select(CasePrerequisite))
        assert row.department_id == depts["cgj"]  # the row is the accepting department's


@pytest.mark.parametrize("entry, field", [
    ({"item_code": "330105-XK-CG-001", "license_number": "330105-X-2026-AAAA"}, "prerequisites[0].item_code"),
    ({"item_code": BIZ}, "prerequisites[0].license_number"),
    ({"item_code": BIZ, "license_number": "A-1", "service_code": "X"}, "prerequisites[0].license_number"),
    ({"item_code": BIZ, "license_number": "bad number!"}, "prerequisites[0].license_number"),
    ({"item_code": BIZ, "service_code": "NOT-A-CODE"}, "prerequisites[0].service_code"),
])
def test_bad_entries_are_named(api, ctx, entry, field):  # type: ignore[no-untyped-def]
    before = count_cases(ctx)
    r = food_case(api, [entry], accept=False)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]["json"], r.json
    assert count_cases(ctx) == before


@pytest.mark.parametrize("prereqs, field", [
    ([{"item_code": "bad code", "name": "x"}], "prerequisites[0].item_code"),
    ([{"item_code": "330105-XK-SJ-777", "name": "x"}], "prerequisites[0].item_code"),  # itself
    ([{"item_code": BIZ, "name": " "}], "prerequisites[0].name"),
])
def test_items_prerequisites_are_validated_at_publish(api, prereqs, field):  # type: ignore[no-untyped-def]
    item = {"code": "330105-XK-SJ-777", "name": "测试", "kind": "promised", "legal_limit_days": 10,
            "promised_limit_days": 3, "stages": [{"kind": "accept", "time_limit_days": 1, "role": "clerk"},
                                                  {"kind": "conclude", "time_limit_days": 0, "role": "clerk"}],
            "prerequisites": prereqs}
    r = api.post("/api/v1/items", {**item, "department_id": 2}, "admin")
    assert r.status_code == 422, r.json
    assert field in str(r.json["errors"]["json"]), r.json
    dup = api.post("/api/v1/items", {**item, "department_id": 2, "prerequisites": [
        {"item_code": BIZ, "name": "a"}, {"item_code": BIZ, "name": "b"}]}, "admin")
    assert dup.status_code == 422
    assert api.get("/api/v1/catalog/items/330105-XK-SJ-777").status_code == 404
    shown = api.get(f"/api/v1/catalog/items/{FOOD}").json
    assert shown["prerequisites"] == [{"item_code": BIZ, "name": "营业执照"}]


# --- across nodes: real gRPC servers with mutual TLS, in one process -----------------------------

def _sync(fed, child, target):  # type: ignore[no-untyped-def]
    from tests.integration.test_federation_grpc import uplink

    return uplink(fed, child, target).sync_once()


def test_a_license_of_a_sibling_district_verified_through_the_city(fed):  # type: ignore[no-untyped-def]
    xihu, gongshu = county_api(fed, "330106"), county_api(fed, "330105")
    province = county_api(fed, "330000")
    number, _ = business_license(xihu)
    other, _ = business_license(xihu, id_number=OTHER_ID)
    own_province, _ = business_license(province)  # held by the province only: two hops up

    async def run():  # type: ignore[no-untyped-def]
        psrv, paddr = await start(fed, "330000")
        csrv, caddr = await start(fed, "330100")
        assert await _sync(fed, "330106", caddr) > 0
        assert await _sync(fed, "330100", paddr) > 0
        fed.ctxs["330105"].result_verifier.target = caddr
        fed.ctxs["330100"].result_verifier.target = paddr

        ok = await asyncio.to_thread(food_case, gongshu, lic(number))
        assert ok.status_code == 201, ok.json
        p = ok.json["prerequisites"][0]
        assert p["valid"] and p["answered_by"] == "330100" and p["result_item_code"] == BIZ

        far = await asyncio.to_thread(food_case, gongshu, lic(own_province))
        assert far.status_code == 201, far.json
        assert far.json["prerequisites"][0]["answered_by"] == "330000"

        wrong = await asyncio.to_thread(food_case, gongshu, lic(other))
        assert wrong.status_code == 422 and wrong.json["reason"] == "other_holder"
        assert wrong.json["answered_by"] == "330100"
        unknown = await asyncio.to_thread(food_case, gongshu, lic("330106-SCJG-2026-ZZZZZZZZ"))
        assert unknown.status_code == 422 and unknown.json["reason"] == "not_found"

        # The parent is gone: the acceptance is refused as unverifiable (503), nothing accepted.
        await csrv.stop(None)
        down = await asyncio.to_thread(food_case, gongshu, lic(number))
        assert down.status_code == 503, down.json
        assert "could not be verified" in down.json["message"] and "330100" in down.json["message"]
        await psrv.stop(None)

    before = count_cases(fed.ctxs["330105"])
    asyncio.run(run())
    assert count_cases(fed.ctxs["330105"]) == before + 2
    with fed.ctxs["330100"].factory() as s:  # every question is audited where it was answered
        asked = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "prerequisite_checks")).all()
    assert len(asked) == 4 and all(b"330105:staff:" in bytes(a.payload) for a in asked)


def test_what_a_curious_neighbour_learns(fed):  # type: ignore[no-untyped-def]
    from node.domain.masking import keyed_hash

    xihu = county_api(fed, "330106")
    number, _ = business_license(xihu)
    key = fed.ctxs["330105"].id_hash_key
    mine, stranger = keyed_hash(key, ID_NUMBER), keyed_hash(key, OTHER_ID)
    today = fed.ctxs["330106"].clock().date().isoformat()  # (the fixture's clock: now)

    def ask(holder: str, n: str = number, **kw):  # type: ignore[no-untyped-def]
        return pb.VerifyResultRequest(**{"kind": "license", "number": n, "holder_hash": holder, "item_code": BIZ,
                                         "on": today, "asked_by": "staff:1", "hops": 1, **kw})

    async def run():  # type: ignore[no-untyped-def]
        csrv, caddr = await start(fed, "330100")
        assert await _sync(fed, "330106", caddr) > 0
        ch, stub = stub_for(fed, "330105", caddr, "330100")
        # With the holder's own hash: the verdict, the item and the validity.
        yes = await stub.VerifyResult(ask(mine))
        assert yes.valid and yes.item_code == BIZ and yes.valid_from == today and yes.valid_until == ""
        # Anyone else's: "other_holder" and nothing more -- no holder, no item, no dates.
        no = await stub.VerifyResult(ask(stranger))
        assert (no.valid, no.reason, no.item_code, no.name, no.valid_from, no.valid_until) == (
            False, "other_holder", "", "", "", "")
        assert not any(f.name.startswith("holder") for f in pb.VerifyResultReply.DESCRIPTOR.fields)
        # Malformed questions are refused before anything is looked up.
        for bad in (ask("not-a-hash"), ask(mine, kind="permit"), ask(mine, hops=9), ask(mine, on="yesterday"),
                    ask(mine, n="x" * 100)):
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.VerifyResult(bad)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # Only children ask: the province (the city's parent) is refused.
        pch, pstub = stub_for(fed, "330000", caddr, "330100")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await pstub.VerifyResult(ask(mine))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        await pch.close()
        await ch.close()
        await csrv.stop(None)

    asyncio.run(run())


def test_questions_are_throttled_per_child(fed):  # type: ignore[no-untyped-def]
    from federation.grpc.server import FederationServicer
    from federation.identity import load_identity
    from federation.pb.v1 import federation_pb2_grpc as pb_grpc
    from federation.runtime import DirectoryTrust
    from federation import tls

    async def run():  # type: ignore[no-untyped-def]
        ident = load_identity(fed["330100"].data_dir)
        servicer = FederationServicer(fed.ctxs["330100"], DirectoryTrust(ident))
        servicer.verify_rate = "3/minute"
        server = grpc.aio.server()
        pb_grpc.add_FederationServicer_to_server(servicer, server)
        port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(ident))
        await server.start()
        ch, stub = stub_for(fed, "330105", f"127.0.0.1:{port}", "330100")
        q = pb.VerifyResultRequest(kind="license", number="330106-SCJG-2026-AAAAAAAA", holder_hash="0" * 64,
                                   item_code=BIZ, on="2026-03-02", asked_by="staff:1", hops=1)
        for _ in range(3):
            assert (await stub.VerifyResult(q)).reason == "not_found"
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.VerifyResult(q)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        ch2, stub2 = stub_for(fed, "330106", f"127.0.0.1:{port}", "330100")  # another child: its own count
        assert (await stub2.VerifyResult(q)).reason == "not_found"
        await ch.close()
        await ch2.close()
        await server.stop(None)

    asyncio.run(run())
