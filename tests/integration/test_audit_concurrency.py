"""Concurrent submissions keep the audit chain gapless and intact (on PostgreSQL each commit links
what is queued right after it, as the units of work of processes without a background linker do)."""
import pytest

from node.persistence.models import AuditEntry, AuditHead, Case
from node.services.admin import verify_audit
from tests.support import sign_application, submit_concurrently

pytestmark = pytest.mark.integration


def test_concurrent_submissions_chain_cleanly(ctx):
    data = sign_application(ctx)
    with ctx.factory() as s:
        before = s.get(AuditHead, 1).seq
    codes = submit_concurrently(ctx, data, threads=6, each=5)
    assert len(set(codes)) == 30
    report = verify_audit(ctx)
    assert report.ok, report
    with ctx.factory() as s:
        head = s.get(AuditHead, 1)
        assert head.seq == report.entries == s.query(AuditEntry).count()
        assert head.seq - before >= 30 * 8  # case, 5 materials (binding their uploads), transition, outbox row at least
        assert s.query(Case).filter(Case.code.in_(codes)).count() == 30
