"""An inspector's case file compared with what its owner signed (the shared library's records).

The file is fetched live from the owner's database; the library holds the owner's signed records,
received as they happened. A stage time edited in the owner's database after the fact shows up
here: the file says one thing, the record signed at the time another. Every difference is named
(``field``, both values, the record ``origin#seq``).

Compared: each transition with the signed event of the same rank (transitions and signed case
events are one-to-one; ``evaluation`` and ``extension`` events are not transitions): its event,
time (to the millisecond, what a record carries) and the status it led to; a signed event the file
lacks. The submission and acceptance times (fixed once set) against the library row. The case's
current status, stage, result, conclusion time and deadlines only when the library has a record
of the file's last transition (otherwise the library is behind, not the file wrong).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from node.persistence.models import LibCase
from node.ports import SignedCaseEvent

NOT_TRANSITIONS = frozenset({"evaluation", "extension"})


def _ms(dt: datetime | None) -> int | None:
    return int(dt.timestamp() * 1000) if dt is not None else None


def _show(v: Any) -> Any:
    return v.isoformat() if isinstance(v, (datetime, date)) else v


def discrepancies(case: dict[str, Any], lib: LibCase, history: list[SignedCaseEvent]) -> list[dict[str, Any]]:
    """``case``: the file as loaded by ``CaseSchema``; ``lib``: the library's row of the case;
    ``history``: the signed records held about it, oldest first."""
    out: list[dict[str, Any]] = []
    latest = f"{lib.origin}#{lib.record_seq}"

    def flag(field: str, mine: Any, signed: Any, record: str) -> None:
        out.append({"field": field, "case_file": _show(mine), "signed_record": _show(signed), "record": record})

    signed = [e for e in history if e.event not in NOT_TRANSITIONS]
    transitions = case["transitions"]
    for i, (t, ev) in enumerate(zip(transitions, signed)):
        if t["event"] != ev.event:
            flag(f"transitions[{i}].event", t["event"], ev.event, ev.record)
        if _ms(t["occurred_at"]) != _ms(ev.occurred_at):
            flag(f"transitions[{i}].occurred_at", t["occurred_at"], ev.occurred_at, ev.record)
        if t["to_status"] != ev.status:
            flag(f"transitions[{i}].to_status", t["to_status"], ev.status, ev.record)
    for i in range(len(transitions), len(signed)):
        flag(f"transitions[{i}]", None, signed[i].event, signed[i].record)
    for name in ("submitted_at", "accepted_at"):
        if getattr(lib, name) is not None and _ms(case[name]) != _ms(getattr(lib, name)):
            flag(name, case[name], getattr(lib, name), latest)
    if signed and len(signed) == len(transitions):
        stage = case["stage"]["kind"] if case["stage"] else ""
        for name, mine, theirs in (("status", case["status"], lib.status), ("stage.kind", stage, lib.stage_kind),
                                   ("result", case["result"], lib.result),
                                   ("legal_deadline", case["legal_deadline"], lib.legal_deadline),
                                   ("promised_deadline", case["promised_deadline"], lib.promised_deadline),
                                   ("stage_deadline", case["stage_deadline"], lib.stage_deadline)):
            if mine != theirs:
                flag(name, mine, theirs, latest)
        if lib.concluded_at is not None and _ms(case["concluded_at"]) != _ms(lib.concluded_at):
            flag("concluded_at", case["concluded_at"], lib.concluded_at, latest)
    return out
