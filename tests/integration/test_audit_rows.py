"""Rows edited behind the audit log are found: ``yiwang audit verify`` replays the chain against the
live rows (names table, key, column and both values), anchors of earlier verifications catch a
chain cut back, and the periodic check raises one ``audit_mismatch`` alert per row."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, text, update

from node.persistence.audit_anchor import ANCHOR_FILE
from node.persistence.models import Alert, AuditAnchor, AuditEntry, AuditHead, Case, CaseTransition, Notification
from node.services import notifications as notify
from node.services.admin import verify_audit, watch_audit
from tests.integration.test_notifications_worker import broker, redis_db  # noqa: F401 - fixtures: a Redis database of our own

pytestmark = pytest.mark.integration


def _busy_node(api, ctx):  # type: ignore[no-untyped-def]
    """A case through every stage, a second one refused, the outbox delivered: most audited tables written."""
    code = api.apply_online()
    api.to_conclusion(code)
    other = api.apply_online(name="李四", phone="13900000001")
    api.fire(other, "accept", "clerk")
    gw = notify.make_gateway(ctx.settings)
    for nid in ctx.dispatched:
        notify.deliver_notification(ctx, nid, gw)
    return code, other


def _case(ctx, code):  # type: ignore[no-untyped-def]
    with ctx.factory() as s:
        return s.scalars(select(Case).where(Case.code == code)).one()


def _sql(ctx, stmt, **params):  # type: ignore[no-untyped-def]
    """A change made straight in the database, behind the application (and its audit capture)."""
    with ctx.engine.begin() as c:
        c.execute(text(stmt) if isinstance(stmt, str) else stmt, params)


def _cli(ctx, tmp_path):  # type: ignore[no-untyped-def]
    from node.cli import main

    env = {"DATABASE_URL": ctx.settings.database_url, "YIWANG_DATA_DIR": str(ctx.settings.data_dir)}
    return CliRunner().invoke(main, ["audit", "verify"], env=env)


def test_a_clean_busy_node_is_intact_and_the_command_says_so(api, ctx, tmp_path):
    _busy_node(api, ctx)
    r = verify_audit(ctx)
    assert r.ok, r.lines()
    assert r.rows > 30 and r.differences == [] and r.anchor_problems == []
    with ctx.factory() as s:
        assert r.entries == s.scalar(select(func.count()).select_from(AuditEntry))
        anchor = s.scalars(select(AuditAnchor)).one()  # the intact head is kept as the next anchor
        assert (anchor.seq, anchor.hash) == (r.entries, s.get(AuditHead, 1).hash)
    assert json.loads((ctx.settings.data_dir / ANCHOR_FILE).read_text())["seq"] == r.entries
    out = _cli(ctx, tmp_path)
    assert out.exit_code == 0, out.output
    assert f"audit chain intact: {r.entries} entries" in out.output


def test_stage_times_edited_with_sql_are_named_by_row_and_column(api, ctx, tmp_path):
    code, _ = _busy_node(api, ctx)
    case = _case(ctx, code)
    with ctx.factory() as s:
        accept = s.scalars(select(CaseTransition).where(CaseTransition.case_id == case.id,
                                                        CaseTransition.event == "accept")).one()
    earlier = case.accepted_at - timedelta(days=3)
    _sql(ctx, update(CaseTransition).where(CaseTransition.id == accept.id).values(occurred_at=earlier))
    _sql(ctx, update(Case).where(Case.id == case.id).values(accepted_at=earlier))
    assert verify_audit(ctx).chain_ok  # the chain itself is untouched: the walk alone passed this
    r = verify_audit(ctx)
    assert not r.ok
    found = {(d.table, d.key, d.column): d for d in r.differences}
    assert set(found) == {("case_transitions", str(accept.id), "occurred_at"), ("cases", str(case.id), "accepted_at")}
    d = found[("cases", str(case.id), "accepted_at")]
    assert d.problem == "differs" and d.live == earlier and d.chain == case.accepted_at.isoformat()
    assert d.seq is not None
    out = _cli(ctx, tmp_path)
    assert out.exit_code == 1
    assert f"cases:{case.id} column accepted_at: the chain recorded '{case.accepted_at.isoformat()}'" in out.output
    assert f"case_transitions:{accept.id} column occurred_at" in out.output


def test_rows_added_or_removed_with_sql_are_found(api, ctx):
    code, other = _busy_node(api, ctx)
    doomed = _case(ctx, other)
    with ctx.factory() as s:
        n = s.scalars(select(Notification).where(Notification.case_id == doomed.id).order_by(Notification.id)).first()
        t = s.scalars(select(CaseTransition).where(CaseTransition.case_id == doomed.id)
                      .order_by(CaseTransition.seq.desc())).first()
    _sql(ctx, delete(Notification).where(Notification.id == n.id))
    _sql(ctx, "INSERT INTO case_transitions (id, case_id, department_id, seq, event, from_status, from_stage, "
              "to_status, to_stage, actor, actor_role, occurred_at, recorded_at, backfilled, stage_deadline, reason, "
              "data) SELECT 9999, case_id, department_id, 99, 'conclude', to_status, to_stage, 'concluded', NULL, "
              "actor, actor_role, occurred_at, recorded_at, backfilled, NULL, reason, data FROM case_transitions "
              "WHERE id = :id", id=t.id)
    r = verify_audit(ctx)
    problems = {(d.table, d.key, d.problem) for d in r.differences}
    assert problems == {("notifications", str(n.id), "missing"), ("case_transitions", "9999", "extra")}


def _cut_back(ctx, keep: int) -> None:  # type: ignore[no-untyped-def]
    """Delete every entry after ``keep`` and set the head back to match: the walk alone sees a whole chain."""
    with ctx.factory() as s:
        h = s.scalars(select(AuditEntry.hash).where(AuditEntry.seq == keep)).one()
        s.execute(delete(AuditEntry).where(AuditEntry.seq > keep))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=keep, hash=h))
        s.commit()


def test_deleting_the_last_entries_does_not_pass_as_intact(api, ctx):
    code, other = _busy_node(api, ctx)
    with ctx.factory() as s:
        total = s.get(AuditHead, 1).seq
    _cut_back(ctx, total - 3)  # the last delivery's entries: rows they changed no longer agree
    r = verify_audit(ctx)
    assert r.chain_ok and not r.ok
    assert {d.table for d in r.differences} == {"notifications"}


def test_a_chain_cut_back_with_its_rows_put_back_is_caught_by_the_anchors(api, ctx):
    code = api.apply_online()
    assert verify_audit(ctx).ok  # anchor: the head as it stands
    with ctx.factory() as s:
        before = s.get(AuditHead, 1).seq
    api.fire(code, "accept", "clerk")  # entries after the anchor ...
    assert verify_audit(ctx).ok  # ... anchored too
    # the attacker undoes the acceptance everywhere: rows, entries and head, consistently
    case = _case(ctx, code)
    with ctx.factory() as s:
        s.execute(delete(Notification).where(Notification.case_id == case.id, Notification.template == "accepted"))
        s.execute(delete(CaseTransition).where(CaseTransition.case_id == case.id, CaseTransition.event == "accept"))
        s.commit()
    entries = {}
    with ctx.factory() as s:
        for e in s.scalars(select(AuditEntry).where(AuditEntry.seq <= before, AuditEntry.table_name == "cases",
                                                    AuditEntry.row_key == str(case.id))):
            entries.update(json.loads(e.payload)["changes"])
    cols = {k: v for k, v in entries.items() if k in ("status", "stage_index", "accepted_at", "accepted_on", "legal_deadline",
                                                     "promised_deadline", "stage_started_on", "stage_deadline", "version")}
    _sql(ctx, update(Case).where(Case.id == case.id).values(
        status=cols["status"], stage_index=cols["stage_index"], accepted_at=None, accepted_on=None,
        legal_deadline=None, promised_deadline=None, stage_started_on=None, stage_deadline=None,
        version=cols["version"], assignee_id=None))
    _cut_back(ctx, before)
    r = verify_audit(ctx)
    assert r.chain_ok and r.differences == [], r.lines()  # rows and chain agree again ...
    assert not r.ok and len(r.anchor_problems) == 2  # ... but both anchors name the entry that is gone
    assert all("is gone: the chain was cut back" in p for p in r.anchor_problems)
    _sql(ctx, delete(AuditAnchor))  # the database-only attacker wipes the anchors it can reach
    r = verify_audit(ctx)
    assert not r.ok and r.anchor_problems == [p for p in r.anchor_problems if ANCHOR_FILE in p] != []


def test_the_periodic_check_raises_one_alert_per_row_and_counts_sightings(api, ctx):
    code, _ = _busy_node(api, ctx)
    case = _case(ctx, code)
    _sql(ctx, update(Case).where(Case.id == case.id).values(accepted_at=case.accepted_at - timedelta(hours=5),
                                                            result="denied"))
    assert not watch_audit(ctx).ok
    assert not watch_audit(ctx).ok  # seen again on the next round
    with ctx.factory() as s:
        alerts = list(s.scalars(select(Alert)))
    assert [(a.kind, a.subject, a.origin, a.raised_by, a.sightings) for a in alerts] == [
        ("audit_mismatch", f"cases:{case.id}", ctx.node_id, ctx.node_id, 2)]
    assert "accepted_at" in alerts[0].detail and "result" in alerts[0].detail
    cols = {d["column"] for d in alerts[0].proof["differences"]}
    assert cols == {"accepted_at", "result"}


def test_a_clean_node_raises_no_alert(api, ctx):
    _busy_node(api, ctx)
    assert watch_audit(ctx).ok
    with ctx.factory() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 0


def test_beat_is_scheduled_from_the_settings():
    from node.config import Settings
    from node.tasks.celery_app import VERIFY_AUDIT, make_celery

    s = Settings.from_env({"YIWANG_AUDIT_VERIFY_SECONDS": "900", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15"})
    app = make_celery(s)
    assert app.conf.beat_schedule["verify-audit"] == {"task": VERIFY_AUDIT, "schedule": 900.0}
    assert VERIFY_AUDIT in app.tasks
    off = make_celery(Settings.from_env({"YIWANG_AUDIT_VERIFY_SECONDS": "0"}))
    assert "verify-audit" not in off.conf.beat_schedule


def test_the_task_itself_raises_the_alert(api, ctx):  # type: ignore[no-untyped-def]
    from node.tasks.celery_app import VERIFY_AUDIT, make_celery

    code, _ = _busy_node(api, ctx)
    task = make_celery(ctx.settings).tasks[VERIFY_AUDIT]
    assert task()["ok"] is True
    case = _case(ctx, code)
    _sql(ctx, update(Case).where(Case.id == case.id).values(concluded_at=case.concluded_at + timedelta(days=1)))
    out = task()
    assert (out["ok"], out["differences"]) == (False, 1)
    task()
    with ctx.factory() as s:
        assert [(a.kind, a.subject, a.sightings) for a in s.scalars(select(Alert))] == [
            ("audit_mismatch", f"cases:{case.id}", 2)]


@pytest.mark.slow
def test_a_real_worker_with_beat_raises_the_alert_once(api, ctx, tmp_path, broker):  # type: ignore[no-untyped-def]
    """``yiwang worker --beat`` with the check every second: beat sends the task, the worker runs it
    against the node's database, the edited row becomes one alert whose sightings keep counting."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    code, _ = _busy_node(api, ctx)
    case = _case(ctx, code)
    _sql(ctx, update(Case).where(Case.id == case.id).values(result_reason="改过的理由"))
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "YIWANG_"))}
    env.update(DATABASE_URL=ctx.settings.database_url, YIWANG_DATA_DIR=str(tmp_path / "worker-data"),
               CELERY_BROKER_URL=broker, YIWANG_AUDIT_VERIFY_SECONDS="1", PYTHONUNBUFFERED="1",
               YIWANG_DEMO="1",  # the seeded template's demo accounts (node.services.secrets)
               PYTHONPATH=os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")])))
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "node.cli", "worker", "--concurrency", "1", "--beat"],
                                env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def alerts() -> list[Alert]:
        with ctx.factory() as s:
            return list(s.scalars(select(Alert)))

    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (alerts() and alerts()[0].sightings >= 2):
            assert proc.poll() is None, log.read_text(errors="replace")
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    found = alerts()
    assert [(a.kind, a.subject) for a in found] == [("audit_mismatch", f"cases:{case.id}")], log.read_text(errors="replace")
    assert found[0].sightings >= 2 and "result_reason" in found[0].detail
    assert "yiwang.verify_audit" in log.read_text(errors="replace")


def test_uploads_bindings_purges_and_refused_lookups_keep_the_node_intact(api, ctx, clock):
    """What the other hardening writes — materials binding their uploads, the purge of unused uploads (rows deleted
    through the audit), the failed second factors (audited, never a row) — replays cleanly."""
    from node.services.uploads import purge_uploads

    code = api.apply_online()
    api.upload("pdf", tag="never used")  # an upload no application takes
    r = api.post(f"/api/v1/public/cases/{code}/lookup", {"id_last4": "0000"})
    assert r.status_code in (404, 422, 423), r.json  # a wrong factor: refused and audited
    clock.advance(days=3)
    assert purge_uploads(ctx, clock.now()).rows >= 1
    report = verify_audit(ctx)
    assert report.ok, report.lines()
    assert report.differences == []
