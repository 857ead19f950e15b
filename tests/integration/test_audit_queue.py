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


def test_many_rows_written_at_once_are_audited_as_the_commit_would(ctx):
    """``insert_rows(now=True)`` of many rows (a job's outbox rows): on PostgreSQL one statement
    writes the rows and queues entries whose payloads PostgreSQL puts together around each row's
    JSON. The payloads are byte for byte what the Python path makes (text with quotes, escapes,
    control characters, CJK and emoji), the entries keep the unit of work's order around them,
    and the rows agree with the chain."""
    from sqlalchemy import select

    from node.domain.lifecycle import Actor
    from node.persistence import audit
    from node.persistence.models import Notification
    from node.persistence.sql import allocate_ids

    t = Notification.__table__
    bodies = ['引号"和\\反斜杠', "换行\n制表\t回车\r", "控制\x01\x1f字符", "😀 emoji", "plain", "/斜杠/ <tag> &amp;"]
    with ctx.uow(Actor("system")) as uow:
        first = allocate_ids(uow.session, {t: 1})[t.name]
        audit.insert_rows(uow, t, [_note(first[0], "before", uow.now)], now=True)  # one row: the ordinary path
        ids = allocate_ids(uow.session, {t: 60})[t.name]
        rows = [_note(i, bodies[k % len(bodies)] + str(k), uow.now) for k, i in enumerate(ids)]
        audit.insert_rows(uow, t, rows, now=True)
        last = allocate_ids(uow.session, {t: 1})[t.name]
        audit.insert_rows(uow, t, [_note(last[0], "after", uow.now)])
        at = uow.now.isoformat()
        uow.commit()
    chain_queued(ctx.factory)
    with ctx.factory() as s:
        got = s.execute(select(AuditEntry.row_key, AuditEntry.seq, AuditEntry.payload)
                        .where(AuditEntry.table_name == "notifications").order_by(AuditEntry.seq)).all()
    assert [k for k, _, _ in got] == [str(i) for i in [first[0], *ids, last[0]]]  # the order things were written
    for (key, seq, payload), row in zip(got[1:-1], rows):
        expected = audit.canonical({"seq": seq, "at": at, "actor": "system", "table": "notifications", "key": key,
                                    "op": "insert", "changes": row})
        assert bytes(payload) == expected
    report = verify_audit(ctx)
    assert report.ok and report.differences == [], report.lines()


def _note(i, body, now):  # type: ignore[no-untyped-def]
    return {"id": i, "case_id": None, "recipient": "13900000000", "template": "escalation_warning", "body": body,
            "status": "pending", "attempts": 0, "last_error": None, "created_at": now, "claimed_at": None,
            "sent_at": None}
