"""Escalation (预警 → 黄牌 → 红牌): each level once per case and stage, through the outbox; across
clock jumps, a second run at the same time (PostgreSQL), and a real Celery worker restarted."""
from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from node.domain.lifecycle import Actor
from node.persistence.models import Escalation, Notification, Staff
from node.services import supervision
from node.services.context import CST
from node.tasks.names import ESCALATE
from tests.support import at_once

from .test_notifications_worker import (  # noqa: F401 - fixtures
    Web,
    Worker,
    broker,
    provider,
    redis_db,
    settle,
    web,
    worker,
    worker_env,
)

pytestmark = pytest.mark.integration
SYSTEM = Actor("system")


def _on(clock, d: date) -> None:
    clock.set(datetime.combine(d, datetime.min.time(), CST).replace(hour=9))


def _escalations(ctx) -> list[tuple[int, str, int]]:
    with ctx.factory() as s:
        return [(e.stage_index, e.level, e.recipients) for e in
                s.scalars(select(Escalation).order_by(Escalation.stage_index, Escalation.id))]


def _outbox(ctx) -> list[tuple[str, str]]:
    with ctx.factory() as s:
        return [(n.template, n.recipient) for n in s.scalars(
            select(Notification).where(Notification.template.startswith("escalation_")).order_by(Notification.id))]


def _people(ctx, **where) -> set[str]:
    with ctx.factory() as s:
        q = select(Staff).where(Staff.active.is_(True))
        for k, v in where.items():
            q = q.where(getattr(Staff, k) == v)
        return {p.phone or f"staff:{p.id}" for p in s.scalars(q)}


def test_each_level_once_per_stage_whatever_the_clock_does(api, ctx, clock):
    code = api.apply_online()
    api.fire(code, "accept", "clerk")  # Monday 2 March: the undertake stage is due Wednesday 4th
    dept = api.case(code)["department_id"]
    handlers, chiefs, inspectors = (_people(ctx, department_id=dept, role="handler"),
                                    _people(ctx, department_id=dept, role="chief"), _people(ctx, role="inspector"))
    assert handlers and chiefs and inspectors
    assert ctx.run(SYSTEM, supervision.escalate) == []  # green: nothing
    _on(clock, date(2026, 3, 3))  # one working day left: a warning to the handlers
    ids = ctx.run(SYSTEM, supervision.escalate)
    assert _escalations(ctx) == [(1, "warning", len(handlers))] and len(ids) == len(handlers)
    assert {r for t, r in _outbox(ctx)} == handlers and "预警" in _body(ctx, ids[0])
    assert ctx.run(SYSTEM, supervision.escalate) == []  # the same day again: nothing
    _on(clock, date(2026, 3, 5))  # overdue: a yellow card to the chief
    ctx.run(SYSTEM, supervision.escalate)
    assert [lv for _, lv, _ in _escalations(ctx)] == ["warning", "yellow"]
    _on(clock, date(2026, 3, 2))  # the clock jumps back: nothing repeats
    assert ctx.run(SYSTEM, supervision.escalate) == []
    _on(clock, date(2026, 3, 9))  # three working days overdue: a red card to the inspector
    ids = ctx.run(SYSTEM, supervision.escalate)
    assert {r for t, r in _outbox(ctx) if t == "escalation_red"} == inspectors and len(ids) == len(inspectors)
    _on(clock, date(2026, 6, 1))  # far forward: still nothing repeats
    assert ctx.run(SYSTEM, supervision.escalate) == []
    assert [lv for _, lv, _ in _escalations(ctx)] == ["warning", "yellow", "red"]
    out = _outbox(ctx)
    assert len(out) == len(set(out)) == len(handlers) + len(chiefs) + len(inspectors)
    # the next stage has its own limit and its own escalations
    api.fire(code, "undertake", "cgj-handler", opinion="材料齐全，符合条件")
    _on(clock, date(2026, 6, 10))
    ctx.run(SYSTEM, supervision.escalate)
    assert [(i, lv) for i, lv, _ in _escalations(ctx)][3:] == [(2, "warning"), (2, "yellow"), (2, "red")]


def test_a_job_that_missed_days_sends_every_level_and_a_supplement_stops_it(api, ctx, clock):
    stopped = api.apply_online()
    api.fire(stopped, "accept", "clerk")
    api.fire(stopped, "request_supplement", "cgj-handler", reason="现场照片不清晰",
             missing=[{"material_code": "site-photo", "name": "门头现场照片"}])
    late = api.apply_online()
    api.fire(late, "accept", "clerk")
    _on(clock, date(2026, 3, 20))
    ctx.run(SYSTEM, supervision.escalate)
    with ctx.factory() as s:
        rows = list(s.scalars(select(Escalation)))
        case_ids = {e.case_id for e in rows}
    assert sorted(e.level for e in rows) == ["red", "warning", "yellow"] and len(case_ids) == 1


def _body(ctx, nid: int) -> str:
    with ctx.factory() as s:
        n = s.get(Notification, nid)
        assert n is not None
        return n.body


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # PostgreSQL's case alone
def test_two_jobs_at_once_escalate_once(api, ctx, clock, db_url):
    codes = [api.apply_online() for _ in range(3)]
    for c in codes:
        api.fire(c, "accept", "clerk")
    _on(clock, date(2026, 3, 20))

    def run(start: threading.Barrier) -> list[int]:
        with ctx.uow(SYSTEM) as uow:
            start.wait(10)
            ids = supervision.escalate(uow)
            uow.commit()
        return ids

    got, errors = at_once(run)
    assert not errors, errors
    assert len(_escalations(ctx)) == 9  # 3 cases x 3 levels, once each
    with ctx.factory() as s:
        n = s.scalar(select(func.count()).select_from(Notification).where(Notification.template.startswith("escalation_")))
    assert n == sum(len(g) for g in got) == sum(r for _, _, r in _escalations(ctx))


@pytest.mark.slow
def test_real_worker_escalates_once_across_repeats_and_a_restart(web: Web, worker: Worker, provider):  # noqa: F811
    api = web.api
    code = api.apply_online(phone="13911119001")
    api.fire(code, "accept", "clerk")  # March 2026 on the web side's clock; the worker's clock is today
    web.celery.send_task(ESCALATE)
    web.wait(lambda: {n.template for n in web.notifications(status="sent")} >=
             {"escalation_warning", "escalation_yellow", "escalation_red"}, "three levels sent")
    first = [(n.id, n.template, n.recipient) for n in web.notifications() if n.template.startswith("escalation_")]
    web.celery.send_task(ESCALATE)
    web.celery.send_task(ESCALATE)  # two at once (the worker runs two processes)
    worker.kill9()
    worker.start()
    web.celery.send_task(ESCALATE)
    settle(provider, 4)
    again = [(n.id, n.template, n.recipient) for n in web.notifications() if n.template.startswith("escalation_")]
    assert again == first
    web.wait(lambda: all(n.status == "sent" for n in web.notifications() if n.template.startswith("escalation_")),
             "every escalation sent")
    sent = {r.body["id"] for r in provider.accepted if "电子监察" in r.body["text"]}
    assert sent == {i for i, _, _ in first}


def test_a_large_run_is_audited_in_chunks_outside_the_pipeline(api, ctx, clock, monkeypatch):
    """A catch-up run over many cases writes its outbox rows' audit entries in several queue inserts
    and without psycopg's pipeline (both thresholds lowered here): the chain still replays intact."""
    from node.persistence import audit
    from node.services.admin import verify_audit

    monkeypatch.setattr(audit, "QUEUE_CHUNK", 2)
    monkeypatch.setattr(audit, "PIPELINE_MAX_BYTES", 10)
    codes = [api.apply_online() for _ in range(3)]
    for c in codes:
        api.fire(c, "accept", "clerk")
    _on(clock, date(2026, 3, 20))
    ids = ctx.run(SYSTEM, supervision.escalate)
    assert len(ids) == sum(r for _, _, r in _escalations(ctx)) > 2
    report = verify_audit(ctx)
    assert report.ok, report
