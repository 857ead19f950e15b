"""One way to write a case: the same submissions fed to SQLite and to PostgreSQL give the same
rows and the same audit chain, hash for hash -- so the PostgreSQL fast path (rows written with the
audit queue insert at commit, entries chained by the PL/pgSQL ``audit_link``) and the SQLite path
(rows inserted at once, chained in Python inside the transaction) are one behaviour."""
from __future__ import annotations

import itertools
import shutil
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from node.config import Settings
from node.persistence.models import AuditEntry, Case, CaseMaterial, CaseTransition, Notification, Upload
from node.services import cases, intake
from node.services.context import CST, SYSTEM, NodeContext
from tests.conftest import _pg_copy
from tests.support import ID_NUMBER, SIGN_ITEM, SIGN_MATERIALS, Clock

pytestmark = pytest.mark.integration
CLERK = None  # filled from the seeded staff (same ids on both backends)


def _uploads(uow: Any) -> None:
    """Three sets of the five materials: an upload serves one application."""
    for n in range(3):
        for i, (m, k) in enumerate(SIGN_MATERIALS.items()):
            uow.session.add(Upload(id=f"{n:02x}{i:030x}", digest=f"{i:064x}", size=9, file_type=k,
                                   filename=f"{m}.{k}", created_at=uow.now))


def _node(url: str, tmp: Any) -> NodeContext:
    ctx = NodeContext.build(Settings.from_env({}, database_url=url, data_dir=tmp), clock=Clock().now)
    parts = (f"{n:08d}" for n in itertools.count(1))
    ctx.random_part = lambda: next(parts)  # deterministic codes: the same on both backends
    return ctx


def _feed(ctx: NodeContext) -> list[str]:
    from node.domain.lifecycle import Actor
    from node.domain.roles import Role
    from node.persistence.models import Staff

    ctx.run(SYSTEM, _uploads)
    with ctx.factory() as s:
        clerk = s.scalar(select(Staff).where(Staff.username == "clerk"))
        handler = s.scalar(select(Staff).where(Staff.username == "cgj-handler"))
    as_clerk = Actor("staff", clerk.id, Role.CLERK, clerk.department_id)
    as_handler = Actor("staff", handler.id, Role.HANDLER, handler.department_id)

    def mats(n: int) -> list[dict[str, str]]:
        return [{"material_code": m, "upload_id": f"{n:02x}{i:030x}"} for i, m in enumerate(SIGN_MATERIALS)]

    base = {"item_code": SIGN_ITEM, "form": {"地址": "拱墅区湖墅南路1号"}}
    codes = [ctx.run(None, intake.submit_case, {**base, "materials": mats(0),
                                                "applicant": {"name": "张三明", "id_number": ID_NUMBER,
                                                              "phone": "13912345678"}}),
             ctx.run(None, intake.submit_case, {**base, "materials": mats(1),
                                                "applicant": {"name": "李四", "id_number": ID_NUMBER}}),
             ctx.run(as_clerk, intake.submit_case, {**base, "materials": mats(2), "accept": True,
                                                    "processing": "paper",
                                                    "applicant": {"name": "王五", "id_number": ID_NUMBER,
                                                                  "org": "某某商行"}})]
    ctx.run(as_clerk, cases.transition_case, codes[0], cases.Event.ACCEPT, None)
    ctx.run(as_handler, cases.transition_case, codes[0], cases.Event.UNDERTAKE, None, opinion="材料齐全")
    ctx.link_now()
    return codes


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return (v.replace(tzinfo=CST) if v.tzinfo is None else v).isoformat()
    if isinstance(v, (bytes, memoryview)):
        return bytes(v).hex()
    if isinstance(v, date):
        return v.isoformat()
    return v


def _dump(ctx: NodeContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with ctx.factory() as s:
        for model in (Case, CaseTransition, CaseMaterial, Notification):
            t = model.__table__
            out[t.name] = [{k: _plain(v) for k, v in r._mapping.items()}
                           for r in s.execute(select(t).order_by(t.c.id))]
        out["audit"] = [(e.seq, bytes(e.payload).decode(), e.prev_hash, e.hash)
                        for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    return out


def test_the_same_submissions_give_the_same_rows_and_chain_on_both_backends(templates, tmp_path):
    lite = tmp_path / "node.db"
    shutil.copy(templates["sqlite"], lite)
    pg = _pg_copy(templates)
    pg_url = next(pg)
    try:
        a, b = _node(f"sqlite:///{lite}", tmp_path / "a"), _node(pg_url, tmp_path / "b")
        codes_a, codes_b = _feed(a), _feed(b)
        assert codes_a == codes_b
        da, db = _dump(a), _dump(b)
        for table in ("cases", "case_transitions", "case_materials", "notifications"):
            assert da[table] == db[table], table
        assert len(da["cases"]) == 3 and len(da["case_transitions"]) == 6
        new = [e for e in da["audit"] if '"table":"cases"' in e[1]]
        assert len(new) >= 3 + 3  # three inserts, updates by the acceptances and the undertaking
        assert da["audit"] == db["audit"]  # every entry: payload, link and hash
        a.engine.dispose()
        b.engine.dispose()
    finally:
        next(pg, None)
