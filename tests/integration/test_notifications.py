"""Applicant notifications without a worker: the outbox row, at-most-once delivery, the gateways.

The gateway is the only fake (a recording class at the edge); the database is real (SQLite and
PostgreSQL), and the webhook gateway talks to a real local HTTP server.
"""
from __future__ import annotations

import dataclasses
import socket

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from node.persistence.models import Notification
from node.services.admin import verify_audit
from node.services import notifications as svc
from node.services.notifications import MAX_ATTEMPTS, TransientGatewayError, deliver_notification
from tests.support import ID_NUMBER, at_once

from .sms_provider import SmsProvider

pytestmark = pytest.mark.integration
LAST4 = ID_NUMBER[-4:]


class FakeGateway:
    """Records what it was asked to send; the first ``fail`` sends raise TransientGatewayError."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.calls = 0
        self.sent: list[tuple[int, str, str]] = []

    def send(self, notification_id: int, recipient: str, body: str) -> None:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            raise TransientGatewayError("gateway answered 503")
        self.sent.append((notification_id, recipient, body))


def rows(ctx) -> list[Notification]:  # type: ignore[no-untyped-def]
    with ctx.factory() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def row(ctx, nid: int) -> Notification:  # type: ignore[no-untyped-def]
    with ctx.factory() as s:
        n = s.get(Notification, nid)
        assert n is not None
        return n


def free_port() -> int:
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


# --- the outbox row ---------------------------------------------------------------------------


def test_submission_writes_one_pending_row_and_dispatches_it_after_commit(ctx, api):
    before = len(rows(ctx))
    code = api.apply_online(phone="13900000001")
    new = rows(ctx)[before:]
    assert [(n.template, n.status, n.attempts, n.recipient) for n in new] == [("submitted", "pending", 0, "13900000001")]
    assert code in new[0].body and "拱墅区行政服务中心" in new[0].body
    assert ctx.dispatched == [new[0].id]


def test_each_applicant_facing_step_queues_its_message(ctx, api):
    code = api.apply_online(phone="13900000002")
    api.fire(code, "accept", "clerk")
    api.fire(code, "request_supplement", "cgj-handler", reason="现场照片不清晰",
             missing=[{"material_code": "site-photo", "name": "门头现场照片"}])
    r = api.post(f"/api/v1/public/cases/{code}/supply",
                 {"id_last4": LAST4, "materials": [{"material_code": "site-photo", "upload_id": api.upload("jpg", "again")}]})
    assert r.status_code == 200, r.json
    api.fire(code, "undertake", "cgj-handler", opinion="符合条件")
    api.fire(code, "review", "cgj-reviewer")
    api.fire(code, "approve", "cgj-approver")
    done = api.fire(code, "conclude", "clerk")
    mine = [n for n in rows(ctx) if n.recipient == "13900000002"]
    assert [n.template for n in mine] == ["submitted", "accepted", "supplement", "concluded"]
    assert all(code in n.body for n in mine)
    assert done["promised_deadline"] in mine[1].body
    assert "门头现场照片" in mine[2].body
    assert done["license"]["number"] in mine[3].body
    assert ctx.dispatched == [n.id for n in mine]  # supply and the inner stages notify nobody


def test_refusal_and_denial_tell_the_reason(ctx, api):
    refused = api.apply_online(phone="13900000003")
    api.fire(refused, "refuse", "clerk", reason="不属于本部门职权范围")
    denied = api.apply_online(phone="13900000004")
    api.fire(denied, "accept", "clerk")
    api.fire(denied, "undertake", "cgj-handler", opinion="不符合设置规范")
    api.fire(denied, "deny", "cgj-reviewer", reason="店招尺寸超出规划要求")
    by_phone = {(n.recipient, n.template): n.body for n in rows(ctx)}
    assert "不属于本部门职权范围" in by_phone[("13900000003", "refused")]
    assert "不予许可" in by_phone[("13900000004", "denied")] and "店招尺寸超出规划要求" in by_phone[("13900000004", "denied")]
    assert ("13900000004", "concluded") not in by_phone


def test_no_phone_no_message(ctx, api):
    before = len(rows(ctx))
    code = api.apply_online(phone=None)
    api.fire(code, "accept", "clerk")
    api.fire(code, "refuse", "clerk", expect=409, reason="x")  # illegal now; nothing either
    assert len(rows(ctx)) == before and ctx.dispatched == []


def test_illegal_or_stale_transition_writes_no_row(ctx, api):
    code = api.apply_online(phone="13900000005")
    n0, d0 = len(rows(ctx)), list(ctx.dispatched)
    api.fire(code, "conclude", "clerk", expect=409)  # not allowed from 'submitted'
    version = api.case(code)["version"]
    api.fire(code, "accept", "clerk")
    api.fire(code, "request_supplement", "cgj-handler", expect=409, version=version, reason="stale")
    assert [n.template for n in rows(ctx)[n0:]] == ["accepted"]
    assert ctx.dispatched == d0 + [rows(ctx)[-1].id]


def test_row_and_change_share_one_transaction(ctx, api, monkeypatch):
    """The commit fails after the outbox row was flushed: neither the step nor the row remains,
    and nothing is dispatched."""
    import node.persistence.uow as uow_mod

    code = api.apply_online(phone="13900000006")
    version = api.case(code)["version"]  # signs the clerk in before the commit is sabotaged
    n0, d0 = len(rows(ctx)), list(ctx.dispatched)

    def broken(uow, commit=False):  # type: ignore[no-untyped-def]
        assert any(isinstance(o, Notification) for o in uow.session.identity_map.values()), "row not flushed yet"
        raise RuntimeError("disk full")

    monkeypatch.setattr(uow_mod, "append_pending", broken)
    r = api.post(f"/api/v1/cases/{code}/transitions", {"event": "accept", "version": version}, "clerk")
    assert r.status_code == 500
    monkeypatch.undo()
    assert api.case(code)["status"] == "submitted"
    assert len(rows(ctx)) == n0 and ctx.dispatched == d0


# --- delivery ---------------------------------------------------------------------------------


def test_delivered_once_then_skipped(ctx, api):
    api.apply_online(phone="13900000007")
    nid = ctx.dispatched[-1]
    gw = FakeGateway()
    assert deliver_notification(ctx, nid, gw) == "sent"
    assert deliver_notification(ctx, nid, gw) == "skipped"
    n = row(ctx, nid)
    assert gw.sent == [(nid, "13900000007", n.body)]
    assert (n.status, n.attempts, n.last_error) == ("sent", 1, None)
    assert n.sent_at is not None and nid not in svc.due_notifications(ctx)


def test_transient_failure_puts_the_row_back_then_retry_sends(ctx, api, clock):
    api.apply_online(phone="13900000008")
    nid = ctx.dispatched[-1]
    gw = FakeGateway(fail=2)
    for attempt in (1, 2):
        with pytest.raises(TransientGatewayError):
            deliver_notification(ctx, nid, gw)
        n = row(ctx, nid)
        assert (n.status, n.attempts) == ("pending", attempt) and "503" in (n.last_error or "")
        assert nid in svc.due_notifications(ctx)
        assert nid not in svc.due_notifications(ctx, retrying=True)  # the worker's own retry has it
    clock.advance(minutes=11)  # ... unless that task is overdue by far: then the worker's sweep sends it
    assert nid in svc.due_notifications(ctx, retrying=True)
    assert deliver_notification(ctx, nid, gw) == "sent"
    n = row(ctx, nid)
    assert (n.status, n.attempts, n.last_error) == ("sent", 3, None)
    assert gw.calls == 3 and len(gw.sent) == 1
    # The batch's one UPDATE is audited per row as the row changed (its last error cleared too):
    # the row replayed from the chain agrees with the table.
    report = verify_audit(ctx)
    assert report.ok and report.differences == [], report.lines()


def test_gives_up_after_max_attempts(ctx, api):
    api.apply_online(phone="13900000009")
    nid = ctx.dispatched[-1]
    gw = FakeGateway(fail=10 ** 6)
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(TransientGatewayError):
            deliver_notification(ctx, nid, gw)
    assert deliver_notification(ctx, nid, gw) == "failed"  # no raise: the task must not retry
    n = row(ctx, nid)
    assert (n.status, n.attempts) == ("failed", MAX_ATTEMPTS)
    assert deliver_notification(ctx, nid, gw) == "skipped"
    assert nid not in svc.due_notifications(ctx) and gw.calls == MAX_ATTEMPTS and gw.sent == []


def test_a_claimed_row_is_left_alone_until_its_lease_lapses(ctx, api, clock):
    """A worker that died after claiming: nobody else sends within the lease; afterwards the
    sweep picks the row up again."""
    api.apply_online(phone="13900000010")
    nid = ctx.dispatched[-1]
    with ctx.factory() as s:
        s.execute(update(Notification).where(Notification.id == nid)
                  .values(status="sending", claimed_at=clock.now(), attempts=1))
        s.commit()
    gw = FakeGateway()
    assert nid not in svc.due_notifications(ctx)
    assert deliver_notification(ctx, nid, gw) == "skipped"
    clock.advance(minutes=4)
    assert deliver_notification(ctx, nid, gw) == "skipped"
    clock.advance(minutes=2)
    assert svc.due_notifications(ctx) == [nid]
    assert deliver_notification(ctx, nid, gw) == "sent"
    assert len(gw.sent) == 1 and row(ctx, nid).attempts == 2


# --- gateways and dispatch ----------------------------------------------------------------------


def test_a_batch_is_claimed_and_recorded_together_each_row_at_most_once(ctx, api, clock):
    """``deliver_batch`` (the worker's task for rows committed together): every due row sent once,
    a row the gateway refuses put back for its own retry, a row another worker holds left alone."""
    for phone in ("13900000011", "13900000012", "13900000013", "13900000014"):
        api.apply_online(phone=phone)
    ids = ctx.dispatched[-4:]
    held = ids[3]
    with ctx.factory() as s:  # another worker claimed this one a minute ago
        s.execute(update(Notification).where(Notification.id == held)
                  .values(status="sending", claimed_at=clock.now(), attempts=1))
        s.commit()
    gw = FakeGateway(fail=1)  # the first send of the batch (lowest id) is refused
    got = svc.deliver_batch(ctx, ids + [ids[0]], gw)  # (an id twice is still one row)
    assert got == {ids[0]: "retry", ids[1]: "sent", ids[2]: "sent", held: "skipped"}
    assert [x[0] for x in gw.sent] == ids[1:3] and gw.calls == 3
    first = row(ctx, ids[0])
    assert (first.status, first.attempts) == ("pending", 1) and "503" in (first.last_error or "")
    assert [(row(ctx, i).status, row(ctx, i).attempts) for i in ids[1:3]] == [("sent", 1), ("sent", 1)]
    assert row(ctx, held).status == "sending"
    assert svc.deliver_batch(ctx, ids, gw) == {ids[0]: "sent", ids[1]: "skipped", ids[2]: "skipped",
                                               held: "skipped"}
    assert len(gw.sent) == 3 and row(ctx, ids[0]).attempts == 2
    assert svc.deliver_batch(ctx, [], gw) == {}
    with ctx.factory() as s:  # every claim and every outcome on the audit chain
        from node.persistence.models import AuditEntry

        keys = s.scalars(select(AuditEntry.row_key).where(AuditEntry.table_name == "notifications",
                                                          AuditEntry.op == "update")).all()
    assert sorted(set(keys)) == sorted(str(i) for i in ids[:3])


def test_the_last_refused_attempt_of_a_batch_fails_the_row(ctx, api):
    api.apply_online(phone="13900000015")
    nid = ctx.dispatched[-1]
    with ctx.factory() as s:
        s.execute(update(Notification).where(Notification.id == nid).values(attempts=MAX_ATTEMPTS - 1))
        s.commit()
    assert svc.deliver_batch(ctx, [nid], FakeGateway(fail=1)) == {nid: "failed"}
    assert (row(ctx, nid).status, row(ctx, nid).attempts) == ("failed", MAX_ATTEMPTS)


def test_webhook_gateway_posts_json_with_an_idempotency_key():
    with SmsProvider() as p:
        gw = svc.WebhookGateway(p.url, timeout=5)
        gw.send(41, "13900000011", "【大厅】测试")
        p.fail_first = 1
        with pytest.raises(TransientGatewayError, match="503"):
            gw.send(42, "13900000011", "x")
    assert [(r.key, r.body, r.status) for r in p.requests] == [
        ("yiwang-notification-41", {"id": 41, "to": "13900000011", "text": "【大厅】测试"}, 200),
        ("yiwang-notification-42", {"id": 42, "to": "13900000011", "text": "x"}, 503)]
    with pytest.raises(TransientGatewayError, match="unreachable"):
        svc.WebhookGateway(f"http://127.0.0.1:{free_port()}/sms", timeout=5).send(43, "1", "x")


def test_make_gateway(tmp_path):
    from node.config import Settings

    s = Settings.from_env({}, database_url="sqlite://", data_dir=tmp_path)
    assert isinstance(svc.make_gateway(s), svc.LogGateway)
    hook = dataclasses.replace(s, notify_backend="webhook", notify_webhook_url="http://127.0.0.1:9/x")
    assert isinstance(svc.make_gateway(hook), svc.WebhookGateway)
    with pytest.raises(ValueError, match="YIWANG_NOTIFY_WEBHOOK_URL"):
        svc.make_gateway(dataclasses.replace(hook, notify_webhook_url=None))


def test_without_broker_delivery_runs_in_process_after_commit(ctx, api):
    from node.tasks.dispatch import make_dispatcher

    with SmsProvider() as p:
        ctx.settings = dataclasses.replace(ctx.settings, notify_backend="webhook", notify_webhook_url=p.url)
        ctx.dispatch_notifications = make_dispatcher(ctx)
        code = api.apply_online(phone="13900000012")
        p.fail_first = 1
        api.fire(code, "accept", "clerk")  # the provider is down: the request still succeeds
    sub, acc = rows(ctx)[-2:]
    assert (sub.template, sub.status, sub.attempts) == ("submitted", "sent", 1)
    assert (acc.template, acc.status, acc.attempts) == ("accepted", "pending", 1)
    assert [(r.body["id"], r.status) for r in p.requests] == [(sub.id, 200), (acc.id, 503)]


def test_cli_sweep_counts_gateway_failures_as_not_sent(ctx, api, tmp_path):
    from node.cli import main

    api.apply_online(phone="13900000013")
    api.apply_online(phone="13900000014")
    with SmsProvider() as p:
        env = {"DATABASE_URL": ctx.settings.database_url, "YIWANG_DATA_DIR": str(tmp_path / "cli"),
               "YIWANG_NOTIFY_BACKEND": "webhook", "YIWANG_NOTIFY_WEBHOOK_URL": p.url, "CELERY_BROKER_URL": ""}
        p.fail_first = 1
        r = CliRunner().invoke(main, ["notify", "sweep"], env=env)
        assert r.exit_code == 0, r.output
        assert r.stdout.strip() == "1 sent, 1 not sent" and "503" in r.stderr
        r = CliRunner().invoke(main, ["notify", "sweep"], env=env)
        assert r.exit_code == 0, r.output
        assert r.stdout.strip() == "1 sent, 0 not sent"
    assert sorted(r.body["to"] for r in p.delivered) == ["13900000013", "13900000014"]
    assert all(n.status == "sent" for n in rows(ctx))


def test_broker_down_the_request_succeeds_and_the_row_waits_for_the_sweep(ctx, api):
    from node.tasks.dispatch import make_dispatcher

    ctx.settings = dataclasses.replace(ctx.settings, broker_url=f"redis://127.0.0.1:{free_port()}/9")
    ctx.dispatch_notifications = make_dispatcher(ctx)
    before = len(rows(ctx))
    api.apply_online(phone="13900000015")
    (n,) = rows(ctx)[before:]
    assert (n.status, n.attempts) == ("pending", 0) and svc.due_notifications(ctx) == [n.id]


def test_two_workers_delivering_the_same_batch_send_each_row_once(ctx, api):
    """Two workers given the same rows at once (a redelivered task, a sweep racing the task): the
    claim lets one of them have each row; every row goes out exactly once."""
    import threading

    for phone in ("13900000021", "13900000022", "13900000023"):
        api.apply_online(phone=phone)
    ids = ctx.dispatched[-3:]
    lock = threading.Lock()
    sent: list[int] = []

    class SlowGateway:
        def send(self, notification_id: int, recipient: str, body: str) -> None:
            import time

            time.sleep(0.05)  # still sending while the other worker tries to claim
            with lock:
                sent.append(notification_id)

    def work(gate: threading.Barrier) -> dict[int, str]:
        gate.wait()
        return svc.deliver_batch(ctx, list(ids), SlowGateway())

    outcomes, errors = at_once(work)
    assert not errors, errors
    assert sorted(sent) == sorted(ids)  # each row once
    for i in ids:
        assert sorted(o[i] for o in outcomes) == ["sent", "skipped"]
        assert (row(ctx, i).status, row(ctx, i).attempts) == ("sent", 1)
