"""Task names: what the web process sends and the worker registers."""
from __future__ import annotations

DELIVER = "yiwang.deliver_notification"
DELIVER_MANY = "yiwang.deliver_notifications"
SWEEP = "yiwang.sweep_notifications"
PURGE_UPLOADS = "yiwang.purge_uploads"
VERIFY_AUDIT = "yiwang.verify_audit"
ESCALATE = "yiwang.escalate"
SCAN_INTEGRITY = "yiwang.scan_integrity"
