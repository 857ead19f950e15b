"""The shared resource library (审批资源共享库): verified records applied into queryable tables.

Applying is idempotent and ordered per origin: the same record applied twice leaves the same
row; a record older than what a row already reflects does not move it back.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy.orm import Session

from federation.envelope import Parsed
from node.persistence.models import LibCase, LibLicense

CST = timezone(timedelta(hours=8), "CST")


def _dt(ms: int) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, CST) if ms else None


def _date(s: str) -> date | None:
    return date.fromisoformat(s) if s else None


def apply_record(session: Session, rec: Parsed) -> None:
    if not rec.msg.HasField("case_event"):
        return
    ev = rec.msg.case_event
    at = _dt(ev.occurred_at_ms) or _dt(rec.msg.created_at_ms)
    signed_at = _dt(rec.msg.created_at_ms)
    row = session.get(LibCase, ev.service_code)
    if row is None:
        row = LibCase(service_code=ev.service_code, origin=rec.origin, record_seq=0)
        session.add(row)
    elif row.origin != rec.origin or row.record_seq >= rec.seq:
        return
    row.item_code, row.item_name = ev.item_code, ev.item_name
    row.department_code, row.department_name = ev.department_code, ev.department_name
    row.status, row.stage_kind, row.stage_name = ev.status, ev.stage_kind, ev.stage_name
    row.last_event, row.last_event_at = ev.event, at
    if ev.event == "submit":
        row.submitted_at = at
    if ev.event == "accept":
        row.accepted_at = at
    if ev.status == "concluded" and row.concluded_at is None:
        row.concluded_at = at
    row.legal_deadline, row.promised_deadline = _date(ev.legal_deadline), _date(ev.promised_deadline)
    row.stage_deadline = _date(ev.stage_deadline)
    row.result = ev.result or None
    row.applicant_id_hash, row.applicant_name_masked = ev.applicant_id_hash, ev.applicant_name_masked
    row.record_seq, row.record_hash, row.key_id, row.signed_at = rec.seq, rec.hash.hex(), rec.msg.key_id, signed_at
    if ev.HasField("license") and ev.license.number:
        lic = ev.license
        lrow = session.get(LibLicense, lic.number)
        if lrow is None:
            lrow = LibLicense(number=lic.number, origin=rec.origin)
            session.add(lrow)
        elif lrow.origin != rec.origin or lrow.record_seq >= rec.seq:
            return
        lrow.service_code, lrow.name, lrow.holder_hash, lrow.holder_masked = ev.service_code, lic.name, lic.holder_hash, lic.holder_masked
        lrow.valid_from, lrow.valid_until = _date(lic.valid_from), _date(lic.valid_until)
        lrow.issuing_department, lrow.status, lrow.digest = lic.issuing_department, lic.status, lic.digest
        lrow.record_seq, lrow.key_id, lrow.signed_at = rec.seq, rec.msg.key_id, signed_at
