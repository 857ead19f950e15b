"""One upload, one application, held by the material row that binds the upload
(``case_materials.binds`` and its partial unique index, migration 0016), on both backends: a
case may name its own upload again, no other case may; the bindings of older nodes (migration
0010's ``upload_bindings``, old shared uploads included) carry over both ways."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from node.persistence.models import CaseMaterial
from node.services.admin import verify_audit
from tests.integration.test_upload_hardening import _apply, _upload_set, node, settings  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


def _binds(ctx: Any) -> list[tuple[str, int, str, bool]]:
    with ctx.factory() as s:
        return list(s.execute(select(CaseMaterial.upload_id, CaseMaterial.case_id, CaseMaterial.material_code,
                                     CaseMaterial.binds).order_by(CaseMaterial.id)
                              .execution_options(all_tenants=True)).tuples())


def _supplement(api: Any, code: str) -> str:
    api.fire(code, "accept", "clerk")
    api.fire(code, "request_supplement", "cgj-handler", reason="效果图不清晰",
             missing=[{"material_code": "design", "name": "店招店牌设计效果图"}])
    return f"/api/v1/public/cases/{code}/supply"


def test_a_case_may_name_its_own_upload_again_and_only_the_first_row_binds_it(node):  # noqa: F811
    ctx, api = node()
    ids = _upload_set(api, "own")
    r = _apply(api, ids)
    assert r.status_code == 201, r.json
    code = r.json["code"]
    url = _supplement(api, code)
    again = api.post(url, {"id_last4": "002x", "materials": [{"material_code": "design", "upload_id": ids[2]}]})
    assert again.status_code == 200, again.json
    rows = [row for row in _binds(ctx) if row[0] == ids[2]]
    assert len(rows) == 2 and rows[0][1] == rows[1][1]
    assert [b for *_, b in rows] == [True, False]  # the supplement's row names it without binding it twice
    assert sum(1 for *_, b in _binds(ctx) if b) == 5
    other = _apply(api, ids)  # still nobody else's
    assert other.status_code == 422
    assert verify_audit(ctx).ok


def test_a_binding_row_is_what_refuses_a_second_case_even_past_the_check(node):  # noqa: F811
    """The database holds the rule, not only the check before the insert: a material row that
    binds an upload another case has bound is refused (the index names the conflict)."""
    from sqlalchemy.exc import IntegrityError

    ctx, api = node()
    ids = _upload_set(api, "db")
    assert _apply(api, ids).status_code == 201
    second = _apply(api, _upload_set(api, "db2")).json["code"]
    with ctx.factory() as s:
        case_id = s.execute(text("select id from cases where code = :c"), {"c": second}).scalar_one()
        s.execute(text("insert into case_materials (case_id, department_id, material_code, upload_id, digest, size,"
                       " file_type, filename, added_at, binds) select :c, department_id, material_code, upload_id,"
                       " digest, size, file_type, filename, added_at, false from case_materials where upload_id = :u"),
                  {"c": case_id, "u": ids[0]})  # naming it without binding: allowed (older rows do)
        with pytest.raises(IntegrityError) as e:
            s.execute(text("update case_materials set binds = true where case_id = :c and upload_id = :u"),
                      {"c": case_id, "u": ids[0]})
        assert "uq_case_materials_bound_upload" in str(e.value) or "case_materials.upload_id" in str(e.value)
        s.rollback()


def test_bindings_carry_over_to_the_flags_and_back(node, db_url):  # noqa: F811
    from node.persistence.migrate import downgrade, upgrade

    ctx, api = node()
    first = _upload_set(api, "legacy")
    assert _apply(api, first).status_code == 201
    second = _upload_set(api, "later")
    assert _apply(api, second).status_code == 201
    flags = _binds(ctx)
    ctx.engine.dispose()
    downgrade(db_url, "0015")
    eng = create_engine(db_url)
    with eng.begin() as c:
        bindings = set(c.execute(text("select upload_id, case_id from upload_bindings")).tuples())
        assert bindings == {(u, cid) for u, cid, _, b in flags if b}
        # an old shared upload (kept by migration 0010): the second case's row names the first case's upload
        c.execute(text("update case_materials set upload_id = :u where case_id = :c and material_code = 'id'"),
                  {"u": first[1], "c": flags[-1][1]})
        c.execute(text("delete from upload_bindings where upload_id = :u"), {"u": second[1]})
    eng.dispose()
    upgrade(db_url)
    after = _binds(ctx)
    by_upload: dict[str, list[tuple[int, bool]]] = {}
    for u, cid, _, b in after:
        by_upload.setdefault(u, []).append((cid, b))
    assert sorted(by_upload[first[1]]) == sorted([(flags[0][1], True), (flags[-1][1], False)])  # bound to the first
    assert second[1] not in by_upload  # the upload the edit left unused
    assert sum(1 for *_, b in after if b) == 9
    assert _apply(api, first).status_code == 422
