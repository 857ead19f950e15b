"""Integrity rules (环节完整性监察): pure checks over the signed case events an upper node holds.

Input is a case's events in log order as observed from the signed records (origin, seq, record
hash, and the fields of ``CaseEvent`` that matter). Output is a list of :class:`Finding` — each
with a unique key (kind + subject) and the evidence records, so anyone can re-verify them against
the origin's key. No clock is read here: "now" and tolerances are arguments.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from .lifecycle import NEXT, PREV, TABLE, TERMINAL, Event, Status


class Kind:
    OUT_OF_ORDER = "out_of_order"  # an event the state machine does not allow at that point
    SKIPPED_STAGE = "skipped_stage"  # the stage index jumped over a stage
    RESULT_WITHOUT_ACCEPTANCE = "result_without_acceptance"
    ACCEPT_AFTER_REFUSAL = "accept_after_refusal"
    TIME_BACKWARDS = "time_backwards"
    FUTURE_TIME = "future_time"
    NEVER_MOVED = "never_moved"
    LOG_GAP = "log_gap"
    STOPPED_SYNCING = "stopped_syncing"


ALL_KINDS = frozenset(v for k, v in vars(Kind).items() if not k.startswith("_"))

RESULT_EVENTS = frozenset({Event.CONCLUDE, Event.DENY, Event.RECORD_PAPER_RESULT, Event.CONCLUDE_JOINT})
CST = timezone(timedelta(hours=8), "CST")
"""Working days are counted on the dates of China Standard Time."""


@dataclass(frozen=True)
class Evidence:
    origin: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Observed:
    """One case event as read from a signed record."""

    origin: str
    seq: int
    hash: str
    service_code: str
    event: str
    status: str  # status after the event
    stage_index: int  # -1 when not at a stage
    stage_kind: str
    occurred_at_ms: int
    received_at_ms: int | None = None  # the receiving node's clock when it applied the record

    @property
    def evidence(self) -> Evidence:
        return Evidence(self.origin, self.seq, self.hash)


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # a service code or an origin node code
    origin: str
    detail: str
    evidence: tuple[Evidence, ...] = field(default=())
    head_seq: int | None = None  # stopped_syncing: the head that stalled

    @property
    def key(self) -> str:
        """Raised once per kind + subject + the first evidence record: a per-event finding once per
        record, ``never_moved`` once per idle stretch (its evidence is the case's last record);
        ``stopped_syncing`` once per stall (the stalled head's seq); ``log_gap`` once per origin."""
        if self.kind == Kind.STOPPED_SYNCING:
            return f"{self.kind}:{self.subject}@{self.head_seq}"
        first = self.evidence[0] if self.evidence else None
        tail = f":{first.origin}/{first.seq}" if first else ""
        return f"{self.kind}:{self.subject}{tail}"


def _position(ev: Observed) -> str:
    if ev.status == Status.IN_PROGRESS:
        return ev.stage_kind
    return ev.status


def check_case(events: Sequence[Observed], future_tolerance_ms: int = 5 * 60_000, *,
               from_start: bool | None = None) -> list[Finding]:
    """Per-case rules over the case's events in log order (the first is normally ``submit``).

    ``from_start`` (default: the first event is ``submit``) says the events are the case's whole
    history. When they are not (a library whose history began after the case did), the first
    event is only where the case stood, and ``result_without_acceptance`` is not judged: the
    acceptance may lie in the part not seen."""
    out: list[Finding] = []
    if not events:
        return out
    if from_start is None:
        from_start = events[0].event == "submit"
    sc = events[0].service_code
    accepted = refused = False
    for i, ev in enumerate(events):
        prev = events[i - 1] if i else None
        if ev.received_at_ms is not None and ev.occurred_at_ms > ev.received_at_ms + future_tolerance_ms:
            out.append(Finding(Kind.FUTURE_TIME, sc, ev.origin,
                               f"event '{ev.event}' dated {ev.occurred_at_ms} after receipt {ev.received_at_ms}",
                               (ev.evidence,)))
        if prev is not None and ev.occurred_at_ms < prev.occurred_at_ms:
            out.append(Finding(Kind.TIME_BACKWARDS, sc, ev.origin,
                               f"event '{ev.event}' is earlier than its predecessor '{prev.event}'",
                               (prev.evidence, ev.evidence)))
        if ev.event == Event.REFUSE:
            refused = True
        if ev.event == Event.ACCEPT:
            if refused:
                out.append(Finding(Kind.ACCEPT_AFTER_REFUSAL, sc, ev.origin,
                                   "accepted after it was refused",
                                   tuple(e.evidence for e in events[: i + 1] if e.event in ("refuse", "accept"))))
            accepted = True
        try:
            is_result = Event(ev.event) in RESULT_EVENTS
        except ValueError:
            is_result = False
        if is_result and not accepted and from_start:
            out.append(Finding(Kind.RESULT_WITHOUT_ACCEPTANCE, sc, ev.origin,
                               f"result '{ev.event}' with no acceptance before it", (ev.evidence,)))
        if prev is None or ev.event == "submit":
            continue
        try:
            event = Event(ev.event)
        except ValueError:
            continue  # an event outside the state machine (e.g. complaint, rating) — not a transition
        pos = _position(prev)
        target = TABLE.get((pos, event))
        if target is None:
            out.append(Finding(Kind.OUT_OF_ORDER, sc, ev.origin,
                               f"'{ev.event}' is not allowed at '{pos}'", (prev.evidence, ev.evidence)))
            continue
        if target == NEXT and ev.status == Status.IN_PROGRESS:
            expected = 1 if prev.status == Status.SUBMITTED else prev.stage_index + 1
            if ev.stage_index > expected:
                out.append(Finding(Kind.SKIPPED_STAGE, sc, ev.origin,
                                   f"stage {expected} skipped: went from {prev.stage_index} to {ev.stage_index}",
                                   (prev.evidence, ev.evidence)))
        elif target == PREV and ev.stage_index != prev.stage_index - 1:
            out.append(Finding(Kind.SKIPPED_STAGE, sc, ev.origin,
                               f"sent back from {prev.stage_index} to {ev.stage_index}",
                               (prev.evidence, ev.evidence)))
    return out


def check_never_moved(events: Sequence[Observed], today: date, max_working_days: int,
                      working_days_between: Callable[[date, date], int]) -> Finding | None:
    """A case accepted, not ended, with no record for more than ``max_working_days`` working days."""
    if not events:
        return None
    return check_idle(events[-1], any(e.event == Event.ACCEPT for e in events), today, max_working_days,
                      working_days_between)


def check_idle(last: Observed, accepted: bool, today: date, max_working_days: int,
               working_days_between: Callable[[date, date], int]) -> Finding | None:
    """``never_moved`` from a case's last record alone (what a library row keeps): accepted, not
    ended, not waiting for the applicant (补正: the clock is stopped), and more than
    ``max_working_days`` working days (``working_days_between(a, b)``: working days in (a, b],
    the node's calendar) between the day of its last record (China time) and ``today``."""
    if not accepted:
        return None
    if last.status in {s.value for s in TERMINAL}:
        return None
    if last.status == Status.SUPPLEMENTING:
        return None  # the clock is stopped: waiting for the applicant
    last_day = datetime.fromtimestamp(last.occurred_at_ms / 1000, tz=CST).date()
    idle = working_days_between(last_day, today)
    if idle <= max_working_days:
        return None
    return Finding(Kind.NEVER_MOVED, last.service_code, last.origin,
                   f"no record for {idle} working days since {last_day.isoformat()} (limit {max_working_days})",
                   (last.evidence,))


def check_log_gap(origin: str, seqs: Sequence[int], head_seq: int) -> Finding | None:
    """Sequence holes below the origin's known head (records 1..head_seq should all be held)."""
    return log_gap(origin, missing_ranges(seqs, head_seq), head_seq)


def missing_ranges(seqs: Sequence[int], head_seq: int) -> list[tuple[int, int]]:
    """The runs ``(first, last)`` of 1..head_seq that ``seqs`` lacks, in order."""
    out: list[tuple[int, int]] = []
    expect = 1
    for s in sorted(set(seqs)):
        if s > head_seq:
            break
        if s > expect:
            out.append((expect, s - 1))
        expect = max(expect, s + 1)
    if expect <= head_seq:
        out.append((expect, head_seq))
    return out


def log_gap(origin: str, missing: Sequence[tuple[int, int]], head_seq: int) -> Finding | None:
    """The ``log_gap`` finding for the missing runs of an origin's log below ``head_seq``."""
    if not missing:
        return None
    total = sum(b - a + 1 for a, b in missing)
    shown = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in missing[:20])
    more = " …" if len(missing) > 20 else ""
    return Finding(Kind.LOG_GAP, origin, origin, f"missing seq {shown}{more} below head {head_seq} "
                   f"({total} record{'s' if total != 1 else ''})", ())


def check_stopped_syncing(origin: str, head_seq: int, head_updated_ms: int, last_seen_ms: int | None,
                          now_ms: int, stale_ms: int, head_hash: str | None = None) -> Finding | None:
    """A child that still talks to its parent but whose log stopped arriving: its head here has
    not advanced for more than ``stale_ms`` and the parent saw it call in (``last_seen_ms``) after
    that stretch had already passed (``head_updated_ms + stale_ms``) -- so it is not simply offline
    (not seen since) nor merely slow. One finding per stall: the key holds ``head_seq``.
    ``head_hash`` (the hash of record ``head_seq``) becomes the evidence: the last record it sent."""
    if last_seen_ms is None or now_ms - head_updated_ms <= stale_ms or last_seen_ms <= head_updated_ms + stale_ms:
        return None
    stalled = datetime.fromtimestamp(head_updated_ms / 1000, tz=CST).isoformat(timespec="seconds")
    seen = datetime.fromtimestamp(last_seen_ms / 1000, tz=CST).isoformat(timespec="seconds")
    evidence = (Evidence(origin, head_seq, head_hash),) if head_hash else ()
    return Finding(Kind.STOPPED_SYNCING, origin, origin,
                   f"head stuck at seq {head_seq} since {stalled} while the node still called in at {seen}",
                   evidence, head_seq=head_seq)
