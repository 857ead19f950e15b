"""What fuzzing the OpenAPI surface found (tests/integration/test_fuzz.py), kept as plain tests.

Each test replays the exact input that failed, on SQLite and PostgreSQL, and asserts the status and
that the error body names the field. Error bodies: {"code", "status", "message", "errors":
{location: {field: [message]}}}.
"""
from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.support import ID_NUMBER, SIGN_ITEM, tiny_image

pytestmark = pytest.mark.integration

NOT_STORABLE = "contains a character that cannot be stored (NUL or a lone UTF-16 surrogate)"


def _error(r: Any, status: int, location: str, *path: str) -> list[str]:
    """Assert the common error shape; return the messages at errors[location][path...]."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    body = r.json
    assert body["code"] == status and body["status"] and body["message"], body
    node: Any = body["errors"][location]
    for key in path:
        assert key in node, (key, body)
        node = node[key]
    assert isinstance(node, list) and node and all(isinstance(m, str) for m in node), body
    return node


def _raw(api: Any, method: str, url: str, body: Any, user: str | None = None) -> Any:
    """Send JSON exactly as a fuzzer would (lone surrogates survive json.dumps as \\udxxx escapes)."""
    return api.c.open(url, method=method, data=json.dumps(body), content_type="application/json", headers=api.h(user))


# -- ids bigger than the database's integers: 500 (OverflowError on SQLite, NumericValueOutOfRange on PG) --

BIG_IDS = [2**31, 2**63, 10**30]


@pytest.mark.parametrize("big", BIG_IDS)
def test_huge_department_id_in_catalog_query_is_422(api, big):  # type: ignore[no-untyped-def]
    r = api.get(f"/api/v1/catalog/items?department_id={big}")
    _error(r, 422, "query", "department_id")
    assert "department_id" in r.json["message"]


@pytest.mark.parametrize("big", BIG_IDS)
def test_huge_department_id_for_new_staff_is_422(api, big):  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/staff", {"username": "abcd", "name": "x", "password": "12345678", "role": "clerk",
                                   "department_id": big}, "admin")
    _error(r, 422, "json", "department_id")


@pytest.mark.parametrize("big", BIG_IDS)
def test_huge_department_id_for_new_item_is_422(api, big):  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/items", {"code": "330105-XK-CG-999", "department_id": big, "name": "x", "kind": "promised",
                                   "legal_limit_days": 1, "promised_limit_days": 1,
                                   "stages": [{"kind": "accept", "time_limit_days": 1, "role": "clerk"}]}, "admin")
    _error(r, 422, "json", "department_id")


@pytest.mark.parametrize("big", BIG_IDS)
def test_huge_backup_id_is_422(api, big):  # type: ignore[no-untyped-def]
    _error(api.patch("/api/v1/staff/2", {"backup_id": big}, "admin"), 422, "json", "backup_id")


@pytest.mark.parametrize("big", BIG_IDS)
def test_huge_staff_id_to_assign_a_case_is_422(api, big):  # type: ignore[no-untyped-def]
    code = api.apply_online()
    _error(api.post(f"/api/v1/cases/{code}/claim", {"staff_id": big}, "cgj-chief"), 422, "json", "staff_id")


@pytest.mark.parametrize("big", BIG_IDS)
def test_huge_ids_in_the_path_are_404_not_500(api, big):  # type: ignore[no-untyped-def]
    code = api.apply_online()
    for r in (api.patch(f"/api/v1/staff/{big}", {"absent": True}, "admin"),
              api.post(f"/api/v1/rectifications/{big}/close", {"note": "done"}, "admin"),
              api.post(f"/api/v1/cases/{code}/extensions/{big}/decision", {"approve": True}, "cgj-approver")):
        _error(r, 404, "json", "_schema")


def test_path_id_bounds_are_documented(api):  # type: ignore[no-untyped-def]
    spec = api.get("/api/openapi.json").json
    for path, name in (("/api/v1/staff/{staff_id}", "staff_id"), ("/api/v1/rectifications/{rect_id}/close", "rect_id"),
                       ("/api/v1/cases/{code}/extensions/{extension_id}/decision", "extension_id")):
        (param,) = [p for p in spec["paths"][path]["parameters"] if p["name"] == name]
        assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}, param


# -- text the database cannot store: NUL (PostgreSQL DataError) and lone surrogates (UnicodeEncodeError) --

def test_nul_in_a_query_parameter_is_422(api):  # type: ignore[no-untyped-def]
    r = api.get("/api/v1/catalog/items?q=a%00")
    assert _error(r, 422, "query", "q") == [NOT_STORABLE]
    assert r.json["message"].startswith("q: ")


def test_nul_in_a_path_parameter_is_422(api):  # type: ignore[no-untyped-def]
    _error(api.get("/api/v1/catalog/items/330105%00/versions"), 422, "path", "code")


def test_nul_in_a_username_is_422(api):  # type: ignore[no-untyped-def]
    r = _raw(api, "POST", "/api/v1/auth/token", {"username": "ad\x00min", "password": "x"})
    _error(r, 422, "json", "username")


def test_nul_in_a_department_name_is_422(api):  # type: ignore[no-untyped-def]
    _error(api.post("/api/v1/departments", {"code": "ab", "name": "x\x00y"}, "admin"), 422, "json", "name")


def test_lone_surrogate_in_applicant_name_is_422(api):  # type: ignore[no-untyped-def]
    mats = api.sign_materials()
    r = _raw(api, "POST", "/api/v1/public/applications",
             {"item_code": SIGN_ITEM, "applicant": {"name": "张\udaaa三", "id_number": ID_NUMBER}, "materials": mats})
    _error(r, 422, "json", "applicant", "name")
    assert r.json["message"].startswith("applicant.name: ")


def test_lone_surrogate_in_a_form_key_is_422_and_the_key_is_escaped(api):  # type: ignore[no-untyped-def]
    mats = api.sign_materials()
    r = _raw(api, "POST", "/api/v1/public/applications",
             {"item_code": SIGN_ITEM, "applicant": {"name": "张三", "id_number": ID_NUMBER}, "materials": mats,
              "form": {"k\udc00": "v"}})
    _error(r, 422, "json", "form", "k\\udc00", "key")


def test_lone_surrogate_in_a_password_is_422(api):  # type: ignore[no-untyped-def]
    r = _raw(api, "POST", "/api/v1/auth/token", {"username": "admin", "password": "x\udaaa"})
    _error(r, 422, "json", "password")


def test_paired_surrogates_are_ordinary_text(api):  # type: ignore[no-untyped-def]
    r = _raw(api, "POST", "/api/v1/departments", {"code": "emoji", "name": "便民点 \U0001F3E0"}, "admin")
    assert r.status_code == 201, r.json
    assert r.json["name"] == "便民点 \U0001F3E0"


# -- validation bodies without a "message"; malformed JSON with errors that name no field --

def test_webargs_422_carries_a_message_naming_the_field(api):  # type: ignore[no-untyped-def]
    r = api.get("/api/v1/cases?page=0", "admin")
    _error(r, 422, "query", "page")
    assert r.json["message"].startswith("page: ")


def test_nested_webargs_422_message_names_the_nested_field(api):  # type: ignore[no-untyped-def]
    r = api.post("/api/v1/public/applications",
                 {"item_code": SIGN_ITEM, "applicant": {"name": "张三", "id_number": ID_NUMBER, "phone": "abc"}})
    _error(r, 422, "json", "applicant", "phone")
    assert r.json["message"].startswith("applicant.phone: ")


def test_malformed_json_is_400_with_a_message(api):  # type: ignore[no-untyped-def]
    r = api.c.post("/api/v1/auth/token", data=b"\x00", content_type="application/json")
    assert _error(r, 400, "json", "_schema") == ["Invalid JSON body."]
    assert r.json["message"] == "the request body is not valid JSON"


def test_json_body_that_is_not_an_object_is_422(api):  # type: ignore[no-untyped-def]
    code = api.apply_online()
    r = api.c.post(f"/api/v1/cases/{code}/claim", data="109", content_type="application/json", headers=api.h("clerk"))
    _error(r, 422, "json", "_schema")
    assert r.json["message"] == "json: Invalid input type."


def test_unknown_field_with_an_empty_name_is_named(api):  # type: ignore[no-untyped-def]
    r = api.post(f"/api/v1/items/{SIGN_ITEM}/status", {"status": "active", "": []}, "admin")
    assert _error(r, 422, "json", "") == ["Unknown field."]
    assert r.json["message"] == '"": Unknown field.'


def test_wrong_method_is_405_with_allow_header_and_message(api):  # type: ignore[no-untyped-def]
    r = api.c.delete("/api/v1/departments")
    _error(r, 405, "json", "_schema")
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_unknown_route_is_404_in_the_common_shape(api):  # type: ignore[no-untyped-def]
    _error(api.get("/api/v1/nothing-here"), 404, "json", "_schema")


# -- crashes behind validation --

def test_calendar_deadline_past_year_9999_is_422(api):  # type: ignore[no-untyped-def]
    r = api.get("/api/v1/calendar?start=9999-12-31&days=3650")  # was OverflowError: date value out of range
    _error(r, 422, "json", "days")


@pytest.mark.parametrize("block, field", [
    ({"holidays": [1, None, {}]}, "years.2027.holidays[0]"),  # was AttributeError: 'int' has no 'get'
    ({"holidays": [{"name": "元旦", "days_off": 5}]}, "years.2027.holidays[0].days_off"),  # was TypeError
])
def test_calendar_import_with_malformed_holidays_is_422(api, block, field):  # type: ignore[no-untyped-def]
    r = api.put("/api/v1/calendar", {"years": {"2027": block}}, "admin")
    _error(r, 422, "json", field)


# -- spec and reality agree --

def test_upload_ignores_other_multipart_parts_as_documented(api):  # type: ignore[no-untyped-def]
    spec = api.get("/api/openapi.json").json
    assert spec["components"]["schemas"]["UploadArgs"].get("additionalProperties", True) is not False
    r = api.c.post("/api/v1/uploads", data={"file": (io.BytesIO(tiny_image("jpg", "x")), "file.jpg"), "note": "-6.6e+16"},
                   content_type="multipart/form-data")
    assert r.status_code == 201, r.json


def test_error_schema_documents_the_bodies_sent(api):  # type: ignore[no-untyped-def]
    error = api.get("/api/openapi.json").json["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status", "message", "errors"}
    assert {"state", "allowed_transitions"} <= set(error["properties"])
    assert error.get("additionalProperties", True) is not False
    code = api.apply_online()
    api.to_conclusion(code)
    r = api.post(f"/api/v1/public/cases/{code}/withdrawal", {"id_last4": ID_NUMBER[-4:]})
    _error(r, 409, "json", "event")
    assert r.json["allowed_transitions"] == [] and r.json["state"]


def test_json_nested_a_thousand_levels_is_a_400_not_a_crash(api):
    deep = "[" * 1000 + "]" * 1000
    r = api.c.post("/api/v1/public/applications", data=deep, content_type="application/json")
    assert r.status_code == 400 and "32 levels" in r.json["message"] and r.json["errors"]["json"]["_schema"]
    braces_in_text = {"item_code": "X", "applicant": {"name": "[" * 200 + "{" * 200, "id_number": "1"}}
    r = api.post("/api/v1/public/applications", braces_in_text)
    assert r.status_code == 422  # brackets inside strings are text: the body is parsed and validated as usual


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1899-12-31T00:00:00+08:00"])
def test_date_times_at_the_calendars_edge_are_422_naming_the_field(api, when):
    r = api.get("/api/v1/library/cases", "inspector", query_string={"since": when})
    assert r.status_code == 422 and "since" in r.json["errors"]["query"], r.json
    r = api.get("/api/v1/library/cases", "inspector", query_string={"until": when})
    assert r.status_code == 422 and "until" in r.json["errors"]["query"], r.json
    code = api.apply_online()
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "accept", "version": 1, "occurred_at": when}, "clerk")
    assert r.status_code == 422 and "occurred_at" in r.json["errors"]["json"], r.json
