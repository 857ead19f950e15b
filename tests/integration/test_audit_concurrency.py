"""Concurrent submissions keep the audit chain gapless and intact (on PostgreSQL each commit links
what is queued right after it, as the units of work of processes without a background chainer do)."""
import threading

import pytest

from node.persistence.models import AuditEntry, AuditHead, Case
from node.services import intake
from node.services.admin import verify_audit
from tests.support import ID_NUMBER, JPG, PDF, SIGN_ITEM, SIGN_MATERIALS

pytestmark = pytest.mark.integration


def test_concurrent_submissions_chain_cleanly(ctx):
    mats = [{"material_code": m, "upload_id": intake.store_upload(ctx, f"f.{k}", (PDF if k == "pdf" else JPG) + m.encode()).id}
            for m, k in SIGN_MATERIALS.items()]
    data = {"item_code": SIGN_ITEM, "materials": mats, "conditional_materials": [], "form": {},
            "applicant": {"name": "张三明", "id_number": ID_NUMBER, "phone": "13912345678"}}
    with ctx.factory() as s:
        before = s.get(AuditHead, 1).seq
    codes: list[str] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            for _ in range(5):
                codes.append(intake.submit_case(ctx, None, data))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(codes)) == 30
    report = verify_audit(ctx)
    assert report.ok, report
    with ctx.factory() as s:
        head = s.get(AuditHead, 1)
        assert head.seq == report.entries == s.query(AuditEntry).count()
        assert head.seq - before >= 30 * 8  # case, 5 materials, transition, outbox row at least
        assert s.query(Case).filter(Case.code.in_(codes)).count() == 30
