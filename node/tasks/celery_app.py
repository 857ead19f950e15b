"""Celery app built from settings (``yiwang worker`` starts a worker on it)."""
from __future__ import annotations

from celery import Celery
from celery.signals import worker_ready

from node.config import Settings

from .names import (  # noqa: F401 - where senders have always found them
    DELIVER,
    DELIVER_MANY,
    ESCALATE,
    PURGE_UPLOADS,
    SCAN_INTEGRITY,
    SWEEP,
    VERIFY_AUDIT,
)


def make_celery(settings: Settings) -> Celery:
    app = Celery("yiwang", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # a worker killed mid-task leaves the message for another
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        beat_schedule={"sweep-notifications": {"task": SWEEP, "schedule": 60.0},
                       "purge-uploads": {"task": PURGE_UPLOADS, "schedule": 3600.0},
                       "escalate": {"task": ESCALATE, "schedule": float(settings.extra.get("escalate_seconds", 300))},
                       **({"verify-audit": {"task": VERIFY_AUDIT, "schedule": settings.audit_verify_seconds}}
                          if settings.audit_verify_seconds > 0 else {}),
                       **({"scan-integrity": {"task": SCAN_INTEGRITY, "schedule": settings.integrity_scan_seconds}}
                          if settings.integrity_scan_seconds > 0 else {})},
        timezone="Asia/Shanghai",
    )
    from . import audit, escalation, integrity, notifications, uploads

    notifications.register(app, settings)
    uploads.register(app, settings)
    audit.register(app, settings)
    escalation.register(app, settings)
    integrity.register(app, settings)

    send = app.send_task

    def sweep_on_start(sender: object = None, **_: object) -> None:
        # A worker killed with -9 leaves the messages it had taken unacknowledged; Redis hands them
        # out again only after its visibility timeout (an hour). The next worker to start sweeps the
        # outbox at once instead (delivery claims each row, so a row also still queued is sent once).
        if getattr(sender, "app", None) is not app:
            return  # another app's worker in this process
        send(SWEEP)

    worker_ready.connect(sweep_on_start, weak=False)
    return app
