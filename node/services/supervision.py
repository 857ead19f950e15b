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

from sqlalchemy import (
    Table,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from node.domain import lights, servicecode
from node.domain.calendar import WorkingCalendar
from node.domain.errors import InvalidInput, NotFound
from node.domain.lifecycle import TERMINAL, Status
from node.domain.policy import Action, require, require_region
from node.domain.roles import Role
from node.persistence import audit
from node.persistence.models import (
    CST,
    Case,
    Escalation,
    ItemVersion,
    LibCase,
    LibCount,
    LibEvent,
    Notification,
    Staff,
)
from node.persistence.sql import allocate_ids, insert_new

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


CountKey = tuple[str, str, str]  # (origin, stage kind, light): a row of lib_counts


def count_key(row: dict[str, Any] | None) -> CountKey | None:
    """The ``lib_counts`` row a library case counts in (None: it has no light, it counts nowhere)."""
    if row is None or row.get("light") is None:
        return None
    return (row["origin"], row["stage_kind"] or "", row["light"])


def move_count(delta: dict[CountKey, int], old: CountKey | None, new: CountKey | None) -> None:
    if old == new:
        return
    if old is not None:
        delta[old] = delta.get(old, 0) - 1
    if new is not None:
        delta[new] = delta.get(new, 0) + 1


def bump_counts(session: Session, delta: dict[CountKey, int]) -> None:
    """Add ``delta`` into lib_counts (this transaction; upserts in key order, so two writers lock
    the rows they share in the same order)."""
    rows = [{"origin": o, "stage_kind": k, "light": lt, "n": n} for (o, k, lt), n in sorted(delta.items()) if n]
    if not rows:
        return
    make = pg_insert if session.connection().dialect.name == "postgresql" else sqlite_insert
    for i in range(0, len(rows), 500):
        stmt = make(LibCount).values(rows[i:i + 500])
        session.execute(stmt.on_conflict_do_update(index_elements=["origin", "stage_kind", "light"],
                                                   set_={"n": LibCount.n + stmt.excluded.n}))


def rebuild_counts(session: Session) -> int:
    """lib_counts recounted from lib_cases (as migration 0026 fills it): for rows written around
    the apply path, e.g. a bulk load. Returns the cases counted."""
    session.execute(delete(LibCount))
    session.execute(insert(LibCount).from_select(
        ["origin", "stage_kind", "light", "n"],
        select(LibCase.origin, LibCase.stage_kind, LibCase.light, func.count())
        .where(LibCase.light.is_not(None)).group_by(LibCase.origin, LibCase.stage_kind, LibCase.light)))
    return int(session.scalar(select(func.coalesce(func.sum(LibCount.n), 0))) or 0)


def refresh_lights(uow: Work, batch: int = 2000) -> int:
    """Recompute the lights of the library rows whose ``light_changes_on`` has come (and only
    those): what the periodic job runs. Returns the rows rewritten. The counts move with them
    (one upsert at the end: the job commits right after)."""
    s, cal, share = uow.session, uow.calendar(), uow.ctx.settings.light_warn_share
    today = uow.now.astimezone(CST).date()
    names = [c.key for c in LibCase.__table__.columns]
    done = 0
    last = ""
    moved: dict[CountKey, int] = {}
    while True:
        rows = s.execute(select(LibCase.__table__).where(LibCase.light_changes_on <= today,
                                                         LibCase.service_code > last)
                         .order_by(LibCase.service_code).limit(batch)).all()
        if not rows:
            bump_counts(s, moved)
            return done
        params = []
        for r in rows:
            d = dict(zip(names, r))
            old = count_key(d)
            row_lights(d, cal, share, today)
            move_count(moved, old, count_key(d))
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
    return _levels_due(case.status, case.stage_started_on, case.stage_deadline, cal, share, red_after, today)


def _levels_due(status: str, started: date | None, deadline: date | None, cal: WorkingCalendar, share: float,
                red_after: int, today: date) -> list[str]:
    if deadline is None or status == Status.SUPPLEMENTING:
        return []
    got = lights.clock_light(started, deadline, today, cal, share)
    if got.color == lights.YELLOW:
        return ["warning"]
    if got.color == lights.RED:
        late = lights.overdue_working_days(deadline, today, cal)
        return ["warning", "yellow"] + (["red"] if late >= max(red_after, 1) else [])
    return []


def _recipients(uow: Work, case: Any, level: str,
                cache: dict[tuple[str, int], list[Staff]] | None = None) -> list[Staff]:
    """Who gets the escalation of ``level`` of ``case`` (a case, or a row with its ``department_id``
    and ``assignee_id``); ``cache`` keeps a run's answers per (level, department) (a department's
    handlers, its chief representatives, the node's inspectors) and per assignee."""
    s = uow.session
    if level == "warning" and case.assignee_id is not None:  # the handler: the assignee, else the department's handlers
        mine = cache.get(("assignee", case.assignee_id)) if cache is not None else None
        if mine is None:
            one = s.get(Staff, case.assignee_id)
            mine = [one] if one is not None else []
            if cache is not None:
                cache[("assignee", case.assignee_id)] = mine
        if mine:
            return mine
    key = (level, case.department_id if level != "red" else 0)
    if cache is not None and key in cache:
        return cache[key]
    active = Staff.active.is_(True)
    if level == "warning":
        q = select(Staff).where(Staff.department_id == case.department_id, Staff.role == Role.HANDLER, active)
    elif level == "yellow":  # the division head: the department's chief representative
        q = select(Staff).where(Staff.department_id == case.department_id, Staff.role == Role.CHIEF, active)
    else:  # the discipline inspector (监察人员) of the node
        q = select(Staff).where(Staff.role == Role.INSPECTOR, active)
    got = list(s.scalars(q.order_by(Staff.id)))
    if cache is not None:
        cache[key] = got
    return got


Key = tuple[int, int, str]  # an escalation's unique key: (case id, stage index, level)


def _claim(uow: Work, rows: list[dict[str, Any]]) -> set[Key]:
    """Insert the escalations' rows (in key order: case, stage, level) unless they exist: the keys this call made
    (then, and only then, their notifications are written, in the same transaction). A concurrent
    job inserting the same keys waits for this one's commit and then inserts nothing (both insert
    in key order, so neither waits on the other in a cycle)."""
    made = insert_new(uow.session.connection(), Escalation.__table__,  # type: ignore[arg-type]
                      rows, ("case_id", "stage_index", "level"))
    return made  # type: ignore[return-value]


def escalate(uow: Work, batch: int = 5000) -> list[int]:
    """One run of the escalation job over the node's open cases: each (case, stage, level) that
    is due and not escalated yet gets its escalation row and one outbox row per recipient.
    Returns the notification ids written (to hand to the delivery task after the commit).

    Per batch of open cases (keyset by id): the columns the levels and the messages need are read
    as tuples without loading the cases (the items' names once a run); the keys already escalated
    are read in one query and skipped (a run finds most of them there); the rest are claimed in one
    statement and their outbox rows inserted (audited) in one more."""
    s, cal = uow.session, uow.calendar()
    share, red_after = uow.ctx.settings.light_warn_share, uow.ctx.settings.red_card_after_days
    today = uow.now.astimezone(CST).date()
    hall = uow.ctx.settings.node_name
    out: list[int] = []
    people: dict[tuple[str, int], list[Staff]] = {}  # (level, department) -> recipients, read once a run
    levels: dict[tuple[str, date | None, date | None], list[str]] = {}  # (status, start, deadline) -> due
    names: dict[int, str] = {}  # item version -> the item's name, read once a run
    open_ = (Case.status.notin_(ENDED + (Status.SUPPLEMENTING,)), Case.stage_deadline.is_not(None),
             Case.stage_deadline <= today + timedelta(days=400))
    # a notification row but for its case, recipient and text (the rest is the same for the run)
    base = {"status": "pending", "attempts": 0, "last_error": None, "created_at": uow.now, "claimed_at": None,
            "sent_at": None}
    what = {"warning": "办理时限即将届满", "yellow": "已超期", "red": "已超期"}
    order = {level: k for k, level in enumerate(LEVELS)}
    last = 0
    while True:
        # the columns the levels and the messages need, as plain tuples (no ORM rows: a backlog is large)
        rows = s.execute(select(Case.id, Case.status, Case.stage_index, Case.stage_started_on, Case.stage_deadline,
                                Case.code, Case.department_id, Case.assignee_id, Case.item_version_id)
                         .where(Case.id > last, *open_).order_by(Case.id).limit(batch)).tuples().all()
        if not rows:
            break
        last = rows[-1][0]
        due: list[tuple[int, int, str, Any]] = []  # (case id, stage index, level, the case's row)
        for r in rows:
            _, status, idx, started, deadline = r[:5]
            got = levels.get((status, started, deadline))
            if got is None:  # many cases share a stage's start and deadline: their levels are computed once
                got = levels[(status, started, deadline)] = _levels_due(status, started, deadline, cal, share,
                                                                       red_after, today)
            for level in got:
                due.append((r[0], idx if idx is not None else -1, level, r))
        if not due:
            continue
        # the batch's id range (not an IN list of its ids): an index range scan whatever the size of
        # the tables, where a long IN list let the planner hash-join a scan of all of ``escalations``
        have = set(s.execute(select(Escalation.case_id, Escalation.stage_index, Escalation.level)
                             .where(Escalation.case_id >= due[0][0], Escalation.case_id <= due[-1][0])).tuples())
        due = [d for d in due if d[:3] not in have]
        if not due:
            continue
        missing = {d[3].item_version_id for d in due} - names.keys()
        if missing:
            names.update(s.execute(select(ItemVersion.id, ItemVersion.name)
                                   .where(ItemVersion.id.in_(missing))).tuples().all())
        due.sort(key=lambda d: (d[0], d[1], order[d[2]]))
        todo = [(d, _recipients(uow, d[3], d[2], people)) for d in due]  # (the row has department and assignee)
        made = _claim(uow, [{"case_id": d[0], "stage_index": d[1], "level": d[2], "deadline": d[3].stage_deadline,
                             "recipients": len(to), "created_at": uow.now} for d, to in todo])
        notes = []
        for (cid, idx, level, r), to in todo:
            if (cid, idx, level) not in made:
                continue
            body = TEMPLATE.format(hall=hall, level=LEVEL_NAMES[level], item=names[r.item_version_id], code=r.code,
                                   what=what[level], deadline=r.stage_deadline.isoformat())
            template = f"escalation_{level}"
            notes += [{**base, "case_id": cid, "recipient": p.phone or f"staff:{p.id}", "template": template,
                       "body": body} for p in to]
        if notes:
            t: Table = Notification.__table__  # type: ignore[assignment]
            for n, i in zip(notes, allocate_ids(s, {t: len(notes)})[t.name]):
                n["id"] = i
                out.append(i)
            audit.insert_rows(uow, t, notes, now=True)  # at once: a backlog's rows would outgrow one jsonb at commit
    return out


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
    """Open cases (and those concluded, with on_time / late) by region, stage and light: from
    lib_counts (O(groups)), or with a channel or department filter by a GROUP BY of the cases."""
    require(uow.actor, Action.READ_SUPERVISION)
    prefix = _region(uow, region)
    if by not in ("origin", "city"):
        raise InvalidInput("by is 'origin' (each node) or 'city' (4-digit prefix)", field="by")
    if not channel and not department:
        ckey = LibCount.origin if by == "origin" else func.substr(LibCount.origin, 1, 4)
        total = func.sum(LibCount.n)
        cq = select(ckey.label("region"), LibCount.stage_kind, LibCount.light, total)
        if prefix:
            cq = cq.where(LibCount.origin.startswith(prefix))
        cq = cq.group_by(ckey, LibCount.stage_kind, LibCount.light).having(total > 0) \
            .order_by(ckey, LibCount.stage_kind, LibCount.light)
        return [{"region": r, "stage_kind": k, "light": light, "count": int(n)}
                for r, k, light, n in uow.session.execute(cq)]
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

