"""``node.ports.SignedHistory``: the signed records this node holds about one case.

The records are not indexed by case: the origin's records whose bytes hold the service code are
found by the database (a byte search, no parse), then parsed and kept if their case event is that
case's. Used when an inspector fetches a case file (one case, on demand)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from federation.envelope import parse
from node.persistence.models import FedRecord
from node.ports import SignedCaseEvent

CST = timezone(timedelta(hours=8), "CST")


class SignedHistoryReader:
    def case_events(self, session: Session, origin: str, service_code: str) -> list[SignedCaseEvent]:
        out = []
        needle = service_code.encode()
        if session.get_bind().dialect.name == "sqlite":  # (its LIKE stops at a blob's first NUL byte)
            holds = func.instr(FedRecord.body, needle) > 0
        else:
            holds = FedRecord.body.like(b"%" + needle + b"%")
        q = (select(FedRecord.body, FedRecord.signature).where(FedRecord.origin == origin, holds)
             .order_by(FedRecord.seq))
        for body, sig in session.execute(q):
            rec = parse(bytes(body), bytes(sig))
            if not rec.msg.HasField("case_event") or rec.msg.case_event.service_code != service_code:
                continue
            ev = rec.msg.case_event
            at = datetime.fromtimestamp(ev.occurred_at_ms / 1000, CST) if ev.occurred_at_ms else None
            out.append(SignedCaseEvent(f"{rec.origin}#{rec.seq}", ev.event, ev.status, at))
        return out
