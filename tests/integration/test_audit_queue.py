"""PostgreSQL commits a change's audit entries to a queue and links them into the chain after the
commit (no chain-head lock held by request transactions); SQLite chains them in the transaction."""
from __future__ import annotations

import time

import pytest

from node.persistence.audit import chain_queued
from node.persistence.models import AuditEntry, AuditHead, AuditQueued, Case
from node.services import intake
from node.services.admin import verify_audit
from node.tasks.dispatch import PostCommitLinker
from tests.support import sign_application, submit_concurrently

pytestmark = pytest.mark.integration

ENTRIES_PER_SUBMISSION = 8  # the case, its transition, five materials (each binding its upload), the outbox row


def _counts(ctx) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with ctx.factory() as s:
        return s.query(AuditEntry).count(), s.query(AuditQueued).count(), s.get(AuditHead, 1).seq


def test_entries_are_committed_with_the_change_and_linked_after_it(ctx):
    data = sign_application(ctx)
    chained_before, queued_before, _ = _counts(ctx)
    assert queued_before == 0
    asked: list[int] = []
    ctx.link_queued = lambda: asked.append(1)  # a linker that never gets to run (the process died)
    code = ctx.run(None, intake.submit_case, data)
    chained, queued, head = _counts(ctx)
    if ctx.engine.dialect.name == "postgresql":
        assert asked == [1]  # the commit asked for linking once
        assert (chained, queued) == (chained_before, ENTRIES_PER_SUBMISSION)  # committed, not linked yet
        with ctx.factory() as s:
            rows = s.query(AuditQueued).order_by(AuditQueued.id).all()
        assert [r.table_name for r in rows] == ["cases", "case_transitions"] + ["case_materials"] * 5 + ["notifications"]
    else:
        assert asked == []  # SQLite chained in the transaction: nothing queued, nothing to ask
        assert (chained, queued) == (chained_before + ENTRIES_PER_SUBMISSION, 0)
    assert head == chained
    report = verify_audit(ctx)  # links whatever is queued first
    assert report.ok, report
    assert report.entries == chained_before + ENTRIES_PER_SUBMISSION
    assert _counts(ctx) == (report.entries, 0, report.entries)
    with ctx.factory() as s:
        case = s.query(Case).filter(Case.code == code).one()
        entry = s.query(AuditEntry).filter(AuditEntry.table_name == "cases", AuditEntry.row_key == str(case.id)).one()
    assert f'"seq":{entry.seq},'.encode() in entry.payload and code.encode() in entry.payload


def test_a_failed_link_leaves_the_change_committed_and_its_entries_queued(ctx):
    data = sign_application(ctx)
    chained_before = _counts(ctx)[0]

    def broken() -> None:
        raise ConnectionError("database went away after the commit")

    ctx.link_queued = broken
    code = ctx.run(None, intake.submit_case, data)  # the applicant gets the code: the change is committed
    with ctx.factory() as s:
        assert s.query(Case).filter(Case.code == code).count() == 1
    pending = _counts(ctx)[1]
    assert pending == (ENTRIES_PER_SUBMISSION if ctx.engine.dialect.name == "postgresql" else 0)
    assert chain_queued(ctx.factory) == pending  # the next linker links them
    assert _counts(ctx)[:2] == (chained_before + ENTRIES_PER_SUBMISSION, 0)
    assert verify_audit(ctx).ok


def test_the_background_linker_links_concurrent_commits_in_order(ctx):
    data = sign_application(ctx)
    chained_before = _counts(ctx)[0]
    linker = PostCommitLinker(ctx.link_now, linger=0.005)
    ctx.link_queued = linker
    submit_concurrently(ctx, data, threads=4, each=5)
    deadline = time.monotonic() + 10
    while _counts(ctx)[1] and time.monotonic() < deadline:
        time.sleep(0.02)
    linker.flush()
    chained, queued, head = _counts(ctx)
    assert queued == 0
    # each submission's fresh upload set (5 upload rows, written before the submissions) too
    assert chained == head == chained_before + 20 * (ENTRIES_PER_SUBMISSION + 5)
    with ctx.factory() as s:
        seqs = [e.seq for e in s.query(AuditEntry).order_by(AuditEntry.seq)]
    assert seqs == list(range(1, chained + 1))
    report = verify_audit(ctx)
    assert report.ok and report.entries == chained


def test_audit_link_plans_each_call_for_the_queue_as_it_is(pg_url):
    """A generic plan cached while the queue was near empty scans the whole queue per batch once
    a large unit of work has queued (migration 0029): the function must plan every call afresh."""
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    try:
        with engine.connect() as c:
            config = c.execute(text("SELECT proconfig FROM pg_proc WHERE proname = 'audit_link'")).scalar_one()
    finally:
        engine.dispose()
    assert config is not None and "plan_cache_mode=force_custom_plan" in config
