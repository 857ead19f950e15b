"""Applicant notifications (短信通知) through an outbox.

The outbox row is written in the transaction of the change it announces; after commit its id is
handed to a Celery task (``deliver_notification``). Delivery claims the row first
(pending -> sending, one UPDATE), so two workers never both send it; the gateway receives the
notification id as an idempotency key, so a retry after a crash between sending and recording
is dropped by the provider rather than reaching the applicant twice.
"""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from node.config import Settings
from node.domain.errors import InvalidInput, NotFound
from node.domain.lifecycle import Actor
from node.domain.masking import mask_phone
from node.domain.policy import Action, require
from node.persistence import audit
from node.persistence.models import Case, Notification, NotificationSetting

from .context import NodeContext, Work

log = logging.getLogger("yiwang.notify")
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)

TEMPLATES = {
    "submitted": "【{hall}】您申请的“{item}”已提交，统一服务监管码 {code}，请凭此码和身份证件号后四位查询办理进度。",
    "accepted": "【{hall}】您申请的“{item}”已受理，统一服务监管码 {code}，承诺于 {promised} 前办结。",
    "supplement": "【{hall}】您申请的“{item}”（{code}）需补正材料：{detail}。请一次性补齐后提交。",
    "refused": "【{hall}】您申请的“{item}”（{code}）不予受理，原因：{detail}。",
    "denied": "【{hall}】您申请的“{item}”（{code}）已办结，结果：不予许可，原因：{detail}。",
    "concluded": "【{hall}】您申请的“{item}”（{code}）已办结，结果：准予许可。{detail}",
    "joint_concluded": "【{hall}】您申请的“{item}”（{code}）各部门均已办结，结果：{detail}。请凭统一服务监管码查询或领取。",
    "joint_withdrawn": "【{hall}】您申请的“{item}”（{code}）已撤回，未办结的事项均已撤回。{detail}",
}


MANDATORY = frozenset({"supplement", "refused", "denied"})
"""Notices the applicant must be given (一次性告知, 不予受理, 不予许可 with the reason: 《中华人民共和国行政许可法》
第三十二条、第三十八条): the hall admin cannot turn their message off."""


class TransientGatewayError(Exception):
    """The gateway could not deliver now; try again later."""


class Gateway(Protocol):
    def send(self, notification_id: int, recipient: str, body: str) -> None: ...


class LogGateway:
    def send(self, notification_id: int, recipient: str, body: str) -> None:
        log.info("SMS #%s to %s: %s", notification_id, recipient, body)


class WebhookGateway:
    """POSTs JSON to an SMS provider; ``Idempotency-Key`` lets the provider drop repeats."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, notification_id: int, recipient: str, body: str) -> None:
        data = json.dumps({"id": notification_id, "to": recipient, "text": body}, ensure_ascii=False).encode()
        req = urllib.request.Request(self.url, data=data, method="POST", headers={
            "Content-Type": "application/json", "Idempotency-Key": f"yiwang-notification-{notification_id}"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                if resp.status >= 300:
                    raise TransientGatewayError(f"gateway answered {resp.status}")
        except urllib.error.HTTPError as e:
            raise TransientGatewayError(f"gateway answered {e.code}") from e
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            raise TransientGatewayError(f"gateway unreachable: {e}") from e


def make_gateway(settings: Settings) -> Gateway:
    if settings.notify_backend == "webhook":
        if not settings.notify_webhook_url:
            raise ValueError("YIWANG_NOTIFY_WEBHOOK_URL is required for the webhook backend")
        return WebhookGateway(settings.notify_webhook_url)
    return LogGateway()


def outbox_row(now: datetime, hall: str, *, case_id: int, code: str, phone: str | None,
               promised: date | None, item_name: str, template: str, detail: str = "") -> dict[str, Any] | None:
    """The outbox row telling the applicant of case ``code`` (every column but the id); None
    without a phone number."""
    if not phone:
        return None
    body = TEMPLATES[template].format(hall=hall, item=item_name, code=code, detail=detail,
                                      promised=promised.isoformat() if promised else "")
    return {"case_id": case_id, "recipient": phone, "template": template, "body": body,
            "status": "pending", "attempts": 0, "last_error": None, "created_at": now, "claimed_at": None,
            "sent_at": None}


def queue(session: Session, now: datetime, hall: str, case: Case, item_name: str, template: str,
          detail: str = "", muted: frozenset[str] = frozenset()) -> Notification | None:
    """Write an outbox row for the applicant; no phone number, or a kind the hall admin turned off
    (``muted``), no message."""
    if template in muted and template not in MANDATORY:
        return None
    row = outbox_row(now, hall, case_id=case.id, code=case.code, phone=case.applicant_phone,
                     promised=case.promised_deadline, item_name=item_name, template=template, detail=detail)
    if row is None:
        return None
    n = Notification(**row)
    session.add(n)
    return n


def deliver_notification(ctx: NodeContext, notification_id: int, gateway: Gateway) -> str:
    """Deliver one outbox row at most once (``deliver_batch`` of one). Returns the row's final
    status for this attempt. Raises TransientGatewayError (after putting the row back to pending)
    so the task retries."""
    got = deliver_batch(ctx, [notification_id], gateway)[notification_id]
    if got == "retry":
        with ctx.factory() as s:
            raise TransientGatewayError(s.scalar(select(Notification.last_error)
                                                 .where(Notification.id == notification_id)) or "not taken")
    return got


def deliver_batch(ctx: NodeContext, notification_ids: list[int], gateway: Gateway) -> dict[int, str]:
    """Deliver several outbox rows at most once each, in two transactions for the batch instead of
    two per row: claim every one still due (one UPDATE, audited per row), send each, then record
    the sent ones (one more unit of work). A row the gateway does not take now is put back to
    pending (or failed after the last attempt) and reported "retry" -- the caller retries it on its
    own. Returns each id's outcome: sent, skipped (not due: sent or claimed by another), failed, retry."""
    out: dict[int, str] = {i: "skipped" for i in notification_ids}
    if not notification_ids:
        return out
    now = ctx.clock()
    with ctx.uow(Actor("system"), now) as uow:
        claimed = uow.session.execute(
            update(Notification)
            .where(Notification.id.in_(sorted(set(notification_ids))),
                   or_(Notification.status == "pending",
                       (Notification.status == "sending") & (Notification.claimed_at < now - LEASE)))
            .values(status="sending", claimed_at=now, attempts=Notification.attempts + 1)
            .returning(Notification.id, Notification.attempts, Notification.recipient, Notification.body,
                       Notification.last_error)
            .execution_options(synchronize_session=False)  # no row of it is loaded in this session
        ).all()
        for nid, attempts, _, _, _ in claimed:  # (a Core update is not seen by the flush's capture)
            audit.record(uow, "notifications", str(nid), "update",
                         {"status": [None, "sending"], "claimed_at": [None, now], "attempts": [None, attempts]})
        uow.commit()
    if not claimed:
        return out
    sent: list[int] = []
    refused: dict[int, tuple[str, str]] = {}
    last_errors = {nid: err for nid, _, _, _, err in claimed}
    for nid, attempts, recipient, body, _ in sorted(claimed):
        try:
            gateway.send(nid, recipient, body)
            sent.append(nid)
        except TransientGatewayError as e:
            refused[nid] = ("failed" if attempts >= MAX_ATTEMPTS else "pending", str(e)[:500])
    with ctx.uow(Actor("system")) as uow:
        if sent:  # one UPDATE for the batch (the rows are ours: claimed above), audited per row
            uow.session.execute(update(Notification).where(Notification.id.in_(sent))
                                .values(status="sent", sent_at=uow.now, last_error=None)
                                .execution_options(synchronize_session=False))
            for nid in sent:
                changes: dict[str, Any] = {"status": ["sending", "sent"], "sent_at": [None, uow.now]}
                if last_errors[nid] is not None:
                    changes["last_error"] = [last_errors[nid], None]
                audit.record(uow, "notifications", str(nid), "update", changes)
                out[nid] = "sent"
        if refused:  # rare: a provider that did not take the message now
            rows = {n.id: n for n in uow.session.scalars(select(Notification).where(Notification.id.in_(list(refused))))}
            for nid, (final, err) in refused.items():
                rows[nid].status, rows[nid].last_error = final, err
                out[nid] = "failed" if final == "failed" else "retry"
        uow.commit()
    return out


RETRY_OVERDUE = timedelta(minutes=10)  # twice the delivery task's longest countdown between attempts


def due_notifications(ctx: NodeContext, limit: int = 500, *, retrying: bool = False) -> list[int]:
    """Rows a sweep should (re)dispatch: pending ones, and 'sending' ones whose lease lapsed.

    ``retrying=True`` (the worker's sweeps, where each failed row has its own task retrying it with
    backoff): a row put back after a failed attempt is left to that task until it is overdue
    (``RETRY_OVERDUE``) -- a sweep does not cut a provider's backoff short, and still finds a row whose
    task was lost. Without it (``yiwang notify sweep``, the embedded node): every pending row."""
    now = ctx.clock()
    pending = Notification.status == "pending"
    if retrying:
        pending = pending & ((Notification.attempts == 0) | (Notification.claimed_at < now - RETRY_OVERDUE))
    with ctx.factory() as s:
        return list(s.scalars(
            select(Notification.id).where(or_(pending,
                                              (Notification.status == "sending") & (Notification.claimed_at < now - LEASE)))
            .order_by(Notification.id).limit(limit)))


# -- the hall admin's settings (短信通知设置) ----------------------------------------------------

def _setting_view(template: str, row: NotificationSetting | None) -> dict[str, Any]:
    return {"template": template, "text": TEMPLATES[template], "mandatory": template in MANDATORY,
            "enabled": template in MANDATORY or row is None or row.enabled,
            "updated_at": row.updated_at if row else None, "updated_by": row.updated_by if row else None}


def notification_settings(uow: Work) -> list[dict[str, Any]]:
    """Every message kind the node sends applicants, its text and whether it is sent (hall admin)."""
    require(uow.actor, Action.MANAGE_NOTIFICATIONS)
    rows = {r.template: r for r in uow.session.scalars(select(NotificationSetting))}
    return [_setting_view(t, rows.get(t)) for t in TEMPLATES]


def set_notification(uow: Work, template: str, enabled: Any) -> dict[str, Any]:
    """Turn one message kind on or off (audited); a notice the law requires stays on (422)."""
    require(uow.actor, Action.MANAGE_NOTIFICATIONS)
    if template not in TEMPLATES:
        raise InvalidInput(f"no message kind '{template}'; one of {', '.join(TEMPLATES)}", field="template")
    if not isinstance(enabled, bool):
        raise InvalidInput("true (send) or false (do not send)", field="enabled")
    if template in MANDATORY and not enabled:
        raise InvalidInput(f"the '{template}' notice is one the applicant must be given (《行政许可法》第三十二条、"
                           f"第三十八条): it cannot be turned off", field="enabled")
    s = uow.session
    row = s.get(NotificationSetting, template)
    if row is None:
        row = NotificationSetting(template=template, enabled=enabled, updated_at=uow.now, updated_by=uow.actor.label)
        s.add(row)
    else:
        row.enabled, row.updated_at, row.updated_by = enabled, uow.now, uow.actor.label
    s.flush()
    ctx = uow.ctx
    uow.after_commit(ctx.forget_muted_notifications)
    return _setting_view(template, row)


def outbox_summary(uow: Work, limit: int = 20) -> dict[str, Any]:
    """How the outbox stands: rows by status and the latest that could not be delivered (the
    recipient masked), for the hall admin to see and send again."""
    require(uow.actor, Action.MANAGE_NOTIFICATIONS)
    s = uow.session
    counts = dict(s.execute(select(Notification.status, func.count()).group_by(Notification.status)).tuples().all())
    failed = list(s.scalars(select(Notification).where(Notification.status == "failed")
                            .order_by(Notification.id.desc()).limit(limit)))
    codes = dict(s.execute(select(Case.id, Case.code).where(Case.id.in_([n.case_id for n in failed if n.case_id]))
                           .execution_options(all_tenants=True)).tuples().all()) if failed else {}
    return {"counts": {k: int(counts.get(k, 0)) for k in ("pending", "sending", "sent", "failed")},
            "failed": [{"id": n.id, "case_code": codes.get(n.case_id) if n.case_id else None, "template": n.template,
                        "recipient": mask_phone(n.recipient), "attempts": n.attempts, "last_error": n.last_error,
                        "created_at": n.created_at} for n in failed]}


def retry_notification(uow: Work, notification_id: int) -> dict[str, Any]:
    """Send a message that could not be delivered once more (a failed row back to pending, its
    attempts from zero), handed to the worker after the commit."""
    require(uow.actor, Action.MANAGE_NOTIFICATIONS)
    n = uow.session.get(Notification, notification_id)
    if n is None:
        raise NotFound(f"no notification #{notification_id}", field="notification_id")
    if n.status != "failed":
        raise InvalidInput(f"notification #{notification_id} is {n.status}: only a failed one is sent again",
                           field="notification_id")
    n.status, n.attempts, n.last_error, n.claimed_at = "pending", 0, None, None
    uow.session.flush()
    ctx = uow.ctx
    uow.after_commit(lambda: ctx.dispatch_notifications([notification_id]))
    return {"id": n.id, "status": n.status}
