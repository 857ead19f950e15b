"""Tables of one node. Tenant-scoped rows carry ``department_id`` (see ``TenantScoped``).

One module per domain; every name is re-exported here, so ``from node.persistence.models import X``
is the way to import them."""
from __future__ import annotations

from .base import NAMING, CST, TZDateTime, Base, TenantScoped, Audited
from .org import Department, Staff, ApiToken
from .catalog import Item, ItemVersion, CalendarYear, CatalogChange
from .cases import Upload, Case, CaseMaterial, CaseTransition, Extension, License, Evaluation, Rectification
from .notifications import Notification
from .audit import AuditHead, AuditEntry, AuditQueued
from .bench import BenchRow
from .access import AccessLock
from .federation import FedRecord, FedHead, FedQueued, FedCheckpoint, FedAlert, LibCase, LibLicense

__all__ = [
    "NAMING", "CST", "TZDateTime", "Base", "TenantScoped", "Audited",
    "Department", "Staff", "ApiToken",
    "Item", "ItemVersion", "CalendarYear", "CatalogChange",
    "Upload", "Case", "CaseMaterial", "CaseTransition", "Extension", "License", "Evaluation", "Rectification",
    "Notification",
    "AuditHead", "AuditEntry", "AuditQueued",
    "BenchRow",
    "AccessLock",
    "FedRecord", "FedHead", "FedQueued", "FedCheckpoint", "FedAlert", "LibCase", "LibLicense",
]
