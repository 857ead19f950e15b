"""Tables of one node. Tenant-scoped rows carry ``department_id`` (see ``TenantScoped``).

One module per domain; every name is re-exported here, so ``from node.persistence.models import X``
is the way to import them."""
from __future__ import annotations

from .base import NAMING, CST, TZDateTime, Base, TenantScoped, Audited
from .org import Department, Staff, ApiToken
from .catalog import Item, ItemVersion, CalendarYear, CatalogChange
from .cases import Upload, Case, CaseMaterial, CaseTransition, Extension, License, Evaluation, Rectification, CasePart, StageSignoff, CasePrerequisite
from .notifications import Notification, NotificationSetting
from .audit import AuditHead, AuditEntry, AuditQueued, AuditAnchor
from .bench import BenchRow
from .alerts import ALERT_STATES, Alert
from .links import FedLink
from .federation import FedRecord, FedHead, FedQueued, FedCheckpoint, FedTreeNode, LibAssessment, LibAssessmentItem, LibCase, LibLicense
from .access import AccessLock
from .addressed import FedAddressed, FedDown, FedDownCursor
from .orders import Complaint, Dispute, SupOrder
from .supervision import LibCount, LibEvent, Escalation
from .integrity import IntegrityFinding

__all__ = [
    "NAMING", "CST", "TZDateTime", "Base", "TenantScoped", "Audited",
    "Department", "Staff", "ApiToken",
    "Item", "ItemVersion", "CalendarYear", "CatalogChange",
    "Upload", "Case", "CaseMaterial", "CaseTransition", "Extension", "License", "Evaluation", "Rectification", "CasePart", "StageSignoff", "CasePrerequisite",
    "Notification",
    "NotificationSetting",
    "AuditHead", "AuditEntry", "AuditQueued", "AuditAnchor",
    "BenchRow",
    "ALERT_STATES", "Alert",
    "FedLink",
    "FedRecord", "FedHead", "FedQueued", "FedCheckpoint", "FedTreeNode", "LibAssessment", "LibAssessmentItem", "LibCase", "LibLicense",
    "LibEvent", "LibCount", "Escalation",
    "AccessLock",
    "FedAddressed", "FedDown", "FedDownCursor",
    "SupOrder", "Complaint", "Dispute", "IntegrityFinding",
]
