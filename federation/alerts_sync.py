"""Alerts travel upward as records of the raiser's own signed log.

When an incident opens (or opens again) or its state changes, the node seals an ``AlertEvent``
record into its log in the same transaction (``SignedLog.publish_alert``); the uplink carries it
like any record — signed, ordered, relayed verbatim, applied once — and every receiver above
applies it into its own alerts table with ``raised_by`` = the record's origin. So the province's
inspectors see, in their own table, the incidents raised anywhere below them, in the state the
nodes below put them in.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Iterable

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from federation.envelope import Parsed
from federation.pb.v1 import federation_pb2 as pb
from node.persistence.alerts import fingerprint
from node.persistence.models import ALERT_STATES, Alert

CST = timezone(timedelta(hours=8), "CST")
MAX_PROOF = 32 * 1024  # bytes of evidence in a record (a record body is at most 64 KiB)
MAX_DETAIL = 2000


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, CST)


def alert_event(alert: Alert) -> pb.AlertEvent:
    """The record of ``alert`` as it stands now. Evidence larger than a record can carry is named,
    not sent: the raiser keeps it whole."""
    proof = json.dumps(alert.proof or {}, ensure_ascii=False, sort_keys=True, default=str).encode()
    if len(proof) > MAX_PROOF:
        proof = json.dumps({"truncated": True, "bytes": len(proof), "kept_by": alert.raised_by}).encode()
    return pb.AlertEvent(
        kind=alert.kind, origin=alert.origin, subject=alert.subject, detail=alert.detail[:MAX_DETAIL],
        proof_json=proof, peer=alert.peer or "", state=alert.state, sightings=alert.sightings,
        first_seen_ms=_ms(alert.created_at), last_seen_ms=_ms(alert.last_seen), state_by=alert.state_by or "",
        note=alert.note or "", raised_by=alert.raised_by)


def apply_alert_records(session: Session, records: Iterable[Parsed]) -> int:
    """Apply the alert records of a verified batch: insert the incident, or bring the copy held
    here to the state the record states (records of one origin arrive in order). Returns how many."""
    n = 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for rec in records:
        if not rec.msg.HasField("alert"):
            continue
        a = rec.msg.alert
        if len(a.origin) != 6 or not a.origin.isdigit() or a.state not in ALERT_STATES or not a.kind:
            continue  # a record this version cannot place; it is stored and relayed all the same
        try:
            proof = json.loads(a.proof_json or b"{}")
        except ValueError:
            proof = {"unreadable": True}
        changed = _dt(rec.msg.created_at_ms)
        values = dict(kind=a.kind[:30], origin=a.origin, subject=a.subject[:120], detail=a.detail, proof=proof,
                      peer=a.peer[:6] or None, state=a.state, sightings=max(1, a.sightings),
                      last_seen=_dt(a.last_seen_ms or rec.msg.created_at_ms), updated_at=changed,
                      state_by=(a.state_by or None) and f"{rec.origin}:{a.state_by}"[:60], note=a.note or None)
        stmt = insert(Alert).values(fingerprint=fingerprint(a.kind, a.origin, a.subject), raised_by=rec.origin,
                                    created_at=_dt(a.first_seen_ms or rec.msg.created_at_ms), **values)
        stmt = stmt.on_conflict_do_update(index_elements=[Alert.fingerprint], set_=dict(
            state=values["state"], state_by=values["state_by"], note=values["note"], detail=values["detail"],
            updated_at=changed, sightings=stmt.excluded.sightings, last_seen=stmt.excluded.last_seen))
        session.execute(stmt)
        n += 1
    return n
