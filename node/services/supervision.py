"""Electronic supervision (电子监察): lights kept on the library's rows, escalation of own cases
(预警 → 黄牌 → 红牌) through the notification outbox, and the province-wide staff queries
(overdue / yellow lists with keyset paging, counts by stage and light per region, a case's
cross-level timeline from ``lib_events``).
"""
from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from node.domain import lights, servicecode
from node.domain.calendar import WorkingCalendar
from node.domain.errors import InvalidInput, NotFound
from node.domain.lifecycle import TERMINAL, Status
from node.domain.policy import Action, require, require_region
from node.domain.roles import Role
from node.persistence.models import (
    CST,
    Case,
    Escalation,
    LibCase,
    LibEvent,
    Notification,
    Staff,
)

from .context import SYSTEM, NodeContext, Work

ENDED = tuple(s.value for s in TERMINAL)
MAX_PAGE = 200
LEVELS = ("warning", "yellow", "red")
LEVEL_NAMES = {"warning": "预警", "yellow": "黄牌", "red": "红牌"}
TEMPLATE = ("【{hall}电子监察】{level}：{item}（{code}）{what}，时限 {deadline}，"
            "请及时办理。")


# ---------------------------------------------------------------- lights of a library row

def row_lights(row: dict[str, Any], cal: WorkingCalendar, share: float, today: date) -> None:
    """Set ``due_on``, ``light``, ``stage_light`` and ``light_changes_on`` of a ``lib_cases`` row
    (a dict of its columns) as of ``today``."""
    def day(at: datetime | None) -> date | None:
        return at.astimezone(CST).date() if at is not None else None
    got = lights.case_lights(
        accepted_on=day(row["accepted_at"]), promised_deadline=row["promised_deadline"],
        legal_deadline=row["legal_deadline"], stage_started_on=row["stage_started_on"],
        stage_deadline=row["stage_deadline"], concluded_on=day(row["concluded_at"]),
        ended=row["status"] in ENDED, supplement_started_on=row["supplement_started_on"],
        paused_days=row["paused_days"] or 0, today=today, cal=cal, share=share)
    row["due_on"] = row["promised_deadline"] or row["legal_deadline"]
    row["light"], row["stage_light"], row["light_changes_on"] = got.light, got.stage_light, got.changes_on


def refresh_lights(uow: Work, batch: int = 2000) -> int:
    """Recompute the lights of the library rows whose ``light_changes_on`` has come (and only
    those): what the periodic job runs. Returns the rows rewritten."""
    s, cal, share = uow.session, uow.calendar(), uow.ctx.settings.light_warn_share
    today = uow.now.astimezone(CST).date()
    names = [c.key for c in LibCase.__table__.columns]
    done = 0
    last = ""
    while True:
        rows = s.execute(select(LibCase.__table__).where(LibCase.light_changes_on <= today,
                                                         LibCase.service_code > last)
                         .order_by(LibCase.service_code).limit(batch)).all()
        if not rows:
            return done
        params = []
        for r in rows:
            d = dict(zip(names, r))
            row_lights(d, cal, share, today)
            params.append({"_code": d["service_code"], "_due": d["due_on"], "_light": d["light"],
                           "_stage": d["stage_light"], "_changes": d["light_changes_on"]})
        t: Table = LibCase.__table__  # type: ignore[assignment]
        s.execute(update(t).where(t.c.service_code == bindparam("_code"))
                  .values(due_on=bindparam("_due"), light=bindparam("_light"), stage_light=bindparam("_stage"),
                          light_changes_on=bindparam("_changes")), params)
        done += len(rows)
        last = rows[-1][names.index("service_code")]


# ---------------------------------------------------------------- lights of own cases

def own_case_lights(case: Case, cal: WorkingCalendar, share: float, today: date) -> lights.CaseLights:
    return lights.case_lights(
        accepted_on=case.accepted_on, promised_deadline=case.promised_deadline,
        legal_deadline=case.legal_deadline, stage_started_on=case.stage_started_on,
        stage_deadline=case.stage_deadline,
        concluded_on=case.concluded_at.astimezone(CST).date() if case.concluded_at and case.status == Status.CONCLUDED
        else None,
        ended=case.status in ENDED, supplement_started_on=case.supplement_started_on,
        paused_days=case.paused_days or 0, today=today, cal=cal, share=share)


def queue_order(uow: Work, rows: list[Case]) -> list[Case]:
    """A work queue's page ordered by green channel first, then light (red, yellow, green, none),
    then the stage deadline, then newest first (the order the page was read in)."""
    cal, share, today = uow.calendar(), uow.ctx.settings.light_warn_share, uow.now.astimezone(CST).date()

    def key(pair: tuple[int, Case]) -> tuple[int, int, date, int]:
        i, c = pair
        got = own_case_lights(c, cal, share, today)
        worst = lights.worst(got.light, got.stage_light)
        return (0 if c.green_channel else 1, lights.SEVERITY.get(worst, 9) if worst else 9,
                c.stage_deadline or FAR, i)
    return [c for _, c in sorted(enumerate(rows), key=key)]


# ---------------------------------------------------------------- escalation

def _due_levels(case: Case, cal: WorkingCalendar, share: float, red_after: int, today: date) -> list[str]:
    """The levels a case's current stage has reached on ``today``: yellow light → warning;
    overdue → yellow card; ``red_after`` working days overdue → red card. Every level below the
    reached one is due too (a job that did not run for days misses none)."""
    if case.stage_deadline is None or case.status == Status.SUPPLEMENTING:
        return []
    got = lights.clock_light(case.stage_started_on, case.stage_deadline, today, cal, share)
    if got.color == lights.YELLOW:
        return ["warning"]
    if got.color == lights.RED:
        late = lights.overdue_working_days(case.stage_deadline, today, cal)
        return ["warning", "yellow"] + (["red"] if late >= max(red_after, 1) else [])
    return []


def _recipients(uow: Work, case: Case, level: str) -> list[Staff]:
    s = uow.session
    active = Staff.active.is_(True)
    if level == "warning":  # the handler: the assignee, else the department's handlers
        if case.assignee_id is not None:
            one = s.get(Staff, case.assignee_id)
            if one is not None:
                return [one]
        q = select(Staff).where(Staff.department_id == case.department_id, Staff.role == Role.HANDLER, active)
    elif level == "yellow":  # the division head: the department's chief representative
        q = select(Staff).where(Staff.department_id == case.department_id, Staff.role == Role.CHIEF, active)
    else:  # the discipline inspector (监察人员) of the node
        q = select(Staff).where(Staff.role == Role.INSPECTOR, active)
    return list(s.scalars(q.order_by(Staff.id)))


def _claim(uow: Work, case_id: int, stage_index: int, level: str, deadline: date) -> bool:
    """Insert the escalation's row unless it exists: True when this call made it (then, and only
    then, its notifications are written, in the same transaction). A concurrent job inserting the
    same key waits for this one's commit and then inserts nothing."""
    s = uow.session
    values = dict(case_id=case_id, stage_index=stage_index, level=level, deadline=deadline, recipients=0,
                  created_at=uow.now)
    dialect = s.connection().dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(Escalation).values(**values).on_conflict_do_nothing(
            index_elements=["case_id", "stage_index", "level"]).returning(Escalation.id)
    elif dialect == "sqlite":
        stmt = sqlite_insert(Escalation).values(**values).on_conflict_do_nothing(
            index_elements=["case_id", "stage_index", "level"]).returning(Escalation.id)
    else:  # pragma: no cover - the node runs on SQLite or PostgreSQL
        stmt = insert(Escalation).values(**values).returning(Escalation.id)
    return s.execute(stmt).scalar_one_or_none() is not None


def escalate(uow: Work, batch: int = 1000) -> list[int]:
    """One run of the escalation job over the node's open cases: each (case, stage, level) that
    is due and not escalated yet gets its escalation row and one outbox row per recipient.
    Returns the notification ids written (to hand to the delivery task after the commit)."""
    s, cal = uow.session, uow.calendar()
    share, red_after = uow.ctx.settings.light_warn_share, uow.ctx.settings.red_card_after_days
    today = uow.now.astimezone(CST).date()
    hall = uow.ctx.settings.node_name
    out: list[Notification] = []
    last = 0
    while True:
        cases = list(s.scalars(select(Case).where(Case.id > last, Case.status.notin_(ENDED + (Status.SUPPLEMENTING,)),
                                                  Case.stage_deadline.is_not(None), Case.stage_deadline <= today
                                                  + timedelta(days=400))
                               .order_by(Case.id).limit(batch)))
        if not cases:
            break
        for case in cases:
            for level in _due_levels(case, cal, share, red_after, today):
                assert case.stage_deadline is not None
                if not _claim(uow, case.id, case.stage_index if case.stage_index is not None else -1, level,
                              case.stage_deadline):
                    continue
                what = "办理时限即将届满" if level == "warning" else "已超期"
                body = TEMPLATE.format(hall=hall, level=LEVEL_NAMES[level], item=case.item_version.name,
                                       code=case.code, what=what, deadline=case.stage_deadline.isoformat())
                people = _recipients(uow, case, level)
                for p in people:
                    n = Notification(case_id=case.id, recipient=p.phone or f"staff:{p.id}",
                                     template=f"escalation_{level}", body=body, status="pending", attempts=0,
                                     created_at=uow.now)
                    s.add(n)
                    out.append(n)
                s.execute(update(Escalation).where(Escalation.case_id == case.id,
                                                   Escalation.stage_index == (case.stage_index if case.stage_index
                                                                              is not None else -1),
                                                   Escalation.level == level).values(recipients=len(people)))
        last = cases[-1].id
    s.flush()
    return [n.id for n in out]


def run_escalation(ctx: NodeContext) -> list[int]:
    """The beat task's body: one transaction (a crash writes nothing; the next run does it all)."""
    with ctx.uow(SYSTEM) as uow:
        ids = escalate(uow)
        refresh_lights(uow)
        uow.commit()
    return ids


# ---------------------------------------------------------------- province-wide queries

def _region(uow: Work, region: str | None) -> str:
    """The prefix the query is confined to: the asked region, which must lie in this node's subtree."""
    node = uow.ctx.settings.node_id
    if region is None:
        return ""
    if not region.isdigit() or not 2 <= len(region) <= 6:
        raise InvalidInput("a region is 2-6 leading digits of a division code, e.g. 3301", field="region")
    require_region(uow.actor, node, region)
    return region


def _cursor(token: str | None, n: int) -> list[str] | None:
    if not token:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("not a cursor this API gave out", field="cursor") from None
    if not isinstance(raw, list) or len(raw) != n or not all(isinstance(x, str) for x in raw):
        raise InvalidInput("not a cursor this API gave out", field="cursor")
    return raw


def _token(values: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


FAR = date(9999, 12, 31)


def light_list(uow: Work, *, light: str, scope: str = "case", region: str | None = None,
               department: str | None = None, item_code: str | None = None, channel: str | None = None,
               stage: str | None = None, cursor: str | None = None, page_size: int = 50) -> dict[str, Any]:
    """Open cases of the subtree with the given light, the most urgent (earliest deadline) first:
    keyset paging on (deadline, service code), no OFFSET and no count."""
    require(uow.actor, Action.READ_SUPERVISION)
    if light not in lights.LIGHTS:
        raise InvalidInput(f"light is one of {', '.join(lights.LIGHTS)}", field="light")
    if scope not in ("case", "stage"):
        raise InvalidInput("scope is 'case' (the case's limit) or 'stage' (its current stage's)", field="scope")
    if not 1 <= page_size <= MAX_PAGE:
        raise InvalidInput(f"page_size is 1-{MAX_PAGE}", field="page_size")
    prefix = _region(uow, region)
    col = LibCase.light if scope == "case" else LibCase.stage_light
    due = LibCase.due_on if scope == "case" else LibCase.stage_deadline
    q = select(LibCase).where(col == light)
    if prefix:
        q = q.where(LibCase.origin.startswith(prefix))
    if department:
        q = q.where(LibCase.department_code == department)
    if item_code:
        q = q.where(LibCase.item_code == item_code)
    if channel:
        q = q.where(LibCase.channel == channel)
    if stage:
        q = q.where(LibCase.stage_kind == stage)
    after = _cursor(cursor, 2)
    if after is not None:
        try:
            after_due = date.fromisoformat(after[0])
        except ValueError:
            raise InvalidInput("not a cursor this API gave out", field="cursor") from None
        # deadlines are never NULL for a light other than None (the list never holds such rows)
        q = q.where(tuple_(due, LibCase.service_code) > tuple_(after_due, after[1]))
    rows = list(uow.session.scalars(q.order_by(due, LibCase.service_code).limit(page_size + 1)))
    more = len(rows) > page_size
    rows = rows[:page_size]
    nxt = None
    if more:
        last = rows[-1]
        d = last.due_on if scope == "case" else last.stage_deadline
        nxt = _token([(d or FAR).isoformat(), last.service_code])
    return {"items": [lib_row(r) for r in rows], "next_cursor": nxt}


def lib_row(r: LibCase) -> dict[str, Any]:
    return {c.key: getattr(r, c.key) for c in LibCase.__table__.columns}


def counts(uow: Work, *, region: str | None = None, by: str = "origin", channel: str | None = None,
           department: str | None = None) -> list[dict[str, Any]]:
    """Open cases (and those concluded, with on_time / late) by region, stage and light."""
    require(uow.actor, Action.READ_SUPERVISION)
    prefix = _region(uow, region)
    if by not in ("origin", "city"):
        raise InvalidInput("by is 'origin' (each node) or 'city' (4-digit prefix)", field="by")
    key = LibCase.origin if by == "origin" else func.substr(LibCase.origin, 1, 4)
    q = select(key.label("region"), LibCase.stage_kind, LibCase.light, func.count().label("n")) \
        .where(LibCase.light.is_not(None))
    if prefix:
        q = q.where(LibCase.origin.startswith(prefix))
    if channel:
        q = q.where(LibCase.channel == channel)
    if department:
        q = q.where(LibCase.department_code == department)
    q = q.group_by(key, LibCase.stage_kind, LibCase.light).order_by(key, LibCase.stage_kind, LibCase.light)
    return [{"region": r, "stage_kind": k, "light": light, "count": n} for r, k, light, n in uow.session.execute(q)]


def timeline(uow: Work, code: str) -> dict[str, Any]:
    """A case's full history across levels: every record of it and, for a joint case or a part,
    of every part of its joint case, at every node of the subtree, in time order."""
    require(uow.actor, Action.READ_SUPERVISION)
    code = servicecode.normalize(code, field="code")
    s = uow.session
    row = s.get(LibCase, code)
    joint = row.joint_code if row is not None and row.joint_code else None
    if joint is None:
        joint = s.scalar(select(LibEvent.joint_code).where(LibEvent.service_code == code,
                                                           LibEvent.joint_code.is_not(None)).limit(1))
    cond = LibEvent.service_code == code
    if joint:
        cond = or_(cond, LibEvent.joint_code == joint, LibEvent.service_code == joint)
    events = list(s.scalars(select(LibEvent).where(cond).order_by(LibEvent.at, LibEvent.origin, LibEvent.seq)))
    if not events and row is None:
        raise NotFound(f"the library holds no record of case {code}", field="code")
    parts = sorted({(e.service_code, e.origin, e.part_no) for e in events}, key=lambda p: (p[2] or 0, p[0]))
    lit = {c.service_code: c for c in s.scalars(select(LibCase).where(LibCase.service_code.in_([p[0] for p in parts])))}
    return {
        "service_code": code, "joint_code": joint,
        "parts": [{"service_code": c, "origin": o, "part_no": n,
                   "light": lit[c].light if c in lit else None,
                   "stage_light": lit[c].stage_light if c in lit else None,
                   "status": lit[c].status if c in lit else None} for c, o, n in parts],
        "events": [{c.key: getattr(e, c.key) for c in LibEvent.__table__.columns} for e in events],
    }

