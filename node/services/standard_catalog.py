"""The province's standard item catalog (标准事项目录) and its adoption below.

The province publishes changes — add, modify, repeal, delegate (下放: the item is handled one level
lower from now on) — each signed and numbered without gaps (``federation.catalog``). Every signed
body carries the item's complete standard state after the change (name, legal limit, kind,
level), so a node folds the changes of an item in order to know where it stands and what each
change changed. Lower nodes adopt the standard into their own catalog and localize it (promised
limit ≤ legal, stages, materials, fees); items themselves are only ever written through
``node.services.catalog``, so adoption publishes versions like any other edit and cases keep the
version they were submitted under.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from node.domain.divisions import LEVELS, level_of
from node.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from node.domain.items import CATALOG_CHANGES as CHANGES, ItemKind, ItemStatus, validate_limits, validate_power_code
from node.domain.policy import Action, require
from node.domain.roles import Role
from node.persistence.models import CatalogChange, Item, ItemVersion
from node.ports import CatalogChangeFields, StandardCatalogCodec

from . import catalog
from .catalog import can_manage as can_manage_items
from .context import NodeContext, Work, as_cst

STATE_FIELDS = ("name", "legal_limit_days", "kind", "level", "status")
LABELS_ZH = {"name": "事项名称", "legal_limit_days": "法定时限", "kind": "办件类型", "level": "办理层级", "status": "状态"}
LEVEL_ZH = {"province": "省级", "city": "市级", "county": "县级"}
KIND_ZH = {"immediate": "即办件", "promised": "承诺件", "joint": "联办件", "reported": "上报件"}
STATUS_ZH = {"active": "有效", "repealed": "已取消"}
CHANGE_ZH = {"add": "新增", "modify": "变更", "repeal": "取消", "delegate": "下放"}
MAX_LEGAL_DAYS = 3650
LOCALIZATION_FIELDS = ("promised_limit_days", "stages", "materials", "fees", "conditions", "legal_basis",
                       "procedure", "issues_license", "license_name", "license_validity_days", "change_note")


@dataclass(frozen=True)
class StandardState:
    """An item's standard as it stands after a change."""

    name: str
    legal_limit_days: int
    kind: str
    level: str
    status: str  # active, repealed

    def get(self, f: str) -> Any:
        return getattr(self, f)


@dataclass
class StandardChange:
    """One change as a node sees it: the signed fields, what it changed, and where this node stands."""

    publisher: str
    seq: int
    change: str
    item_code: str
    name: str
    legal_limit_days: int
    kind: str
    level: str
    note: str
    key_id: str
    published_at: datetime
    received_at: datetime
    diff: list[dict[str, Any]]
    summary: str
    applies_here: bool
    latest: bool
    adopted: bool
    action: str | None  # what adopting the item now would do: publish, revise, repeal, retire, acknowledge
    reason: str  # why adoption is not possible here (action None), else ""
    local: dict[str, Any] | None = None
    standard: StandardState | None = field(default=None, repr=False)


@dataclass
class Adoption:
    item_code: str
    publisher: str
    seq: int
    change: str
    action: str
    item: ItemVersion | None


def head(session: Session, publisher: str) -> int:
    """The highest change number held from ``publisher`` (0: none)."""
    return int(session.scalar(select(func.coalesce(func.max(CatalogChange.seq), 0))
                              .where(CatalogChange.publisher == publisher)) or 0)


def _codec(ctx: NodeContext) -> StandardCatalogCodec:
    if ctx.catalog_codec is None:
        raise Conflict("this node has no federation identity, so it cannot read or sign catalog changes: "
                       "run 'yiwang federation init' first", field="publisher")
    return ctx.catalog_codec


def _fmt(f: str, v: Any) -> str:
    if v is None:
        return "—"
    if f == "legal_limit_days":
        return f"{v}个工作日"
    return {"level": LEVEL_ZH, "kind": KIND_ZH, "status": STATUS_ZH}.get(f, {}).get(v, str(v))


def _step(prev: StandardState | None, msg: CatalogChangeFields) -> StandardState | None:
    if msg.change not in CHANGES:
        return prev  # a change type from a newer province: kept verbatim, no effect here
    return StandardState(msg.name, msg.legal_limit_days, msg.kind, msg.level,
                         "repealed" if msg.change == "repeal" else "active")


def _diff(prev: StandardState | None, cur: StandardState | None) -> list[dict[str, Any]]:
    if cur is None:
        return []
    return [{"field": f, "from": prev.get(f) if prev else None, "to": cur.get(f)}
            for f in STATE_FIELDS if prev is None or prev.get(f) != cur.get(f)]


def _summary(change: str, diff: list[dict[str, Any]]) -> str:
    parts = [f"{LABELS_ZH[d['field']]} {_fmt(d['field'], d['to'])}" if d["from"] is None
             else f"{LABELS_ZH[d['field']]} {_fmt(d['field'], d['from'])}→{_fmt(d['field'], d['to'])}" for d in diff]
    return f"{CHANGE_ZH.get(change, change)}：{'；'.join(parts) if parts else '无字段变化'}"


def _local_view(item: Item | None, version: ItemVersion | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {"department_id": item.department_id, "status": item.status, "version": item.current_version,
            "name": version.name if version else None,
            "legal_limit_days": version.legal_limit_days if version else None,
            "promised_limit_days": version.promised_limit_days if version else None}


def _plan(code: str, state: StandardState, local: Item | None, here: str, me: str) -> tuple[str | None, str]:
    """What adopting the item's current standard does at this node, or (None, why not)."""
    live = local is not None and local.status != ItemStatus.REPEALED
    if state.status == "repealed":
        if live:
            return "repeal", ""
        if state.level == here or local is not None:
            return "acknowledge", ""
        return None, (f"事项 {code} 已被省级标准目录取消，且由{LEVEL_ZH.get(state.level, state.level)}办理，"
                      f"本节点（{me}，{LEVEL_ZH[here]}）无需处理")
    if state.level != here:
        if live:
            return "retire", ""  # delegated away from this level: this node stops handling it
        return None, (f"事项 {code} 由{LEVEL_ZH.get(state.level, state.level)}办理，不适用于本节点"
                      f"（{me}，{LEVEL_ZH[here]}），不能采用")
    if local is None:
        return "publish", ""
    if not live:
        return None, f"本地事项 {code} 已废止，不能再按标准目录采用"
    return "revise", ""


def _items(s: Session, codes: Iterable[str]) -> dict[str, tuple[Item, ItemVersion | None]]:
    codes = list(set(codes))
    if not codes:
        return {}
    rows = s.execute(select(Item, ItemVersion).outerjoin(
        ItemVersion, (ItemVersion.item_id == Item.id) & (ItemVersion.version == Item.current_version))
        .where(Item.code.in_(codes)).execution_options(all_tenants=True)).all()
    return {i.code: (i, v) for i, v in rows}


def _views(ctx: NodeContext, s: Session, rows: list[CatalogChange]) -> list[StandardChange]:
    me = ctx.node_id
    here = level_of(me)
    local = _items(s, (r.item_code for r in rows))
    states: dict[tuple[str, str], StandardState | None] = {}
    last: dict[tuple[str, str], int] = {}
    out: list[StandardChange] = []
    codec = _codec(ctx) if rows else None
    for r in rows:
        k = (r.publisher, r.item_code)
        last[k] = len(out)
        assert codec is not None
        msg = codec.parse_change(bytes(r.body))
        prev = states.get(k)
        cur = _step(prev, msg)
        states[k] = cur
        diff = _diff(prev, cur) if cur is not prev else []
        item, version = local.get(r.item_code, (None, None))
        out.append(StandardChange(
            publisher=r.publisher, seq=r.seq, change=msg.change, item_code=msg.item_code, name=msg.name,
            legal_limit_days=msg.legal_limit_days, kind=msg.kind, level=msg.level, note=msg.note, key_id=msg.key_id,
            published_at=msg.published_at, received_at=as_cst(r.received_at), diff=diff,
            summary=_summary(msg.change, diff), applies_here=here in {s.level for s in (prev, cur) if s is not None},
            latest=False, adopted=bool(r.adopted), action=None, reason="", local=_local_view(item, version),
            standard=cur))
    for (_, code), i in last.items():
        v = out[i]
        v.latest = True
        if v.standard is not None:
            item = local.get(code, (None, None))[0]
            v.action, v.reason = _plan(code, v.standard, item, here, me)
    return out


def _changes_of(s: Session, item_code: str | None = None) -> list[CatalogChange]:
    stmt = select(CatalogChange).order_by(CatalogChange.publisher, CatalogChange.seq)
    if item_code is not None:
        stmt = stmt.where(CatalogChange.item_code == item_code)
    return list(s.scalars(stmt))


# -- the province ------------------------------------------------------------------------------

def _require_province(ctx: NodeContext) -> str:
    if ctx.signer is None or ctx.catalog_codec is None or ctx.events is None:
        raise Conflict("this node has no federation identity, so it cannot sign catalog changes: "
                       "run 'yiwang federation init' first", field="publisher")
    if level_of(ctx.signer.node_id) != "province":
        raise PermissionDenied(f"only the province (xx0000) publishes the standard catalog; this node is "
                               f"{ctx.signer.node_id} ({LEVEL_ZH[level_of(ctx.signer.node_id)]})", field="publisher")
    return ctx.signer.node_id


def _new_state(change: str, cur: StandardState | None, name: str | None, legal: int | None, kind: str | None,
               level: str | None) -> StandardState:
    """The standard after ``change``, or the error naming the field that does not fit."""
    if legal is not None and not 0 <= legal <= MAX_LEGAL_DAYS:
        raise InvalidInput(f"must be 0 to {MAX_LEGAL_DAYS} working days", field="legal_limit_days")
    if kind is not None and kind not in {k.value for k in ItemKind}:
        raise InvalidInput(f"must be one of {', '.join(k.value for k in ItemKind)}", field="kind")
    if level is not None and level not in LEVELS:
        raise InvalidInput("must be province, city or county", field="level")
    if name is not None and not (name := name.strip()):
        raise InvalidInput("the item needs a name", field="name")
    if change == "add":
        for f, v in (("name", name), ("legal_limit_days", legal), ("kind", kind), ("level", level)):
            if v is None:
                raise InvalidInput("a new standard item needs its name, legal limit, kind and level", field=f)
        return StandardState(name, legal, kind, level, "active")  # type: ignore[arg-type]
    assert cur is not None
    asked = {"name": name, "legal_limit_days": legal, "kind": kind, "level": level}
    if change == "modify":
        if level is not None and level != cur.level:
            raise InvalidInput("a modification keeps the level: use delegate (下放) to move an item down",
                               field="level")
        new = StandardState(name if name is not None else cur.name, legal if legal is not None else cur.legal_limit_days,
                            kind or cur.kind, cur.level, "active")
        if new == cur:
            raise InvalidInput("nothing to modify: name, legal limit and kind are as published", field="change")
        return new
    for f, v in asked.items():
        if v is not None and v != cur.get(f) and not (change == "delegate" and f == "level"):
            raise InvalidInput(f"a {change} changes only {'the level' if change == 'delegate' else 'the status'}; "
                               f"publish a modify for the {f}", field=f)
    if change == "delegate":
        if level is None:
            raise InvalidInput("say which level the item is delegated to (city or county)", field="level")
        if LEVELS.index(level) <= LEVELS.index(cur.level):  # type: ignore[arg-type]
            raise InvalidInput(f"下放 moves an item down: it is handled at the {cur.level} level now, "
                               f"so it can only go to a level below", field="level")
        return StandardState(cur.name, cur.legal_limit_days, cur.kind, level, "active")
    return StandardState(cur.name, cur.legal_limit_days, cur.kind, cur.level, "repealed")


def publish_standard_change(uow: Work, change: str, item_code: str, name: str | None = None,
                            legal_limit_days: int | None = None, kind: str | None = None, level: str | None = None,
                            note: str = "") -> StandardChange:
    """Sign and store the next change of the standard catalog (province hall admin only). Fields
    not given are carried over from the item's current standard, so every signed body is whole."""
    ctx = uow.ctx
    require(uow.actor, Action.PUBLISH_STANDARD)
    publisher = _require_province(ctx)
    if change not in CHANGES:
        raise InvalidInput(f"must be one of {', '.join(CHANGES)}", field="change")
    try:
        validate_power_code(item_code)
    except InvalidInput as e:
        raise InvalidInput(e.message, field="item_code") from None
    if len(note or "") > 1000:
        raise InvalidInput("at most 1000 characters", field="note")
    s = uow.session
    views = _views(ctx, s, [r for r in _changes_of(s, item_code) if r.publisher == publisher])
    cur = views[-1].standard if views else None
    if change == "add" and cur is not None:
        raise Conflict(f"item {item_code} is in the standard catalog already (#{views[0].seq})"
                       + ("; it was repealed and its code is not reused" if cur.status == "repealed" else
                          "; publish a modify instead"), field="item_code")
    if change != "add" and cur is None:
        raise NotFound(f"item {item_code} is not in the standard catalog: add it first", field="item_code")
    if cur is not None and cur.status == "repealed":
        raise Conflict(f"item {item_code} was repealed (#{views[-1].seq}) and can no longer change",
                       field="item_code")
    new = _new_state(change, cur, name, legal_limit_days, kind, level)
    seq = head(s, publisher) + 1
    body, sig = _codec(ctx).sign_change(seq, change, item_code, new.name, new.legal_limit_days,
                                        new.kind, new.level, note or "", uow.now)
    row = CatalogChange(publisher=publisher, seq=seq, body=body, signature=sig, item_code=item_code,
                        change=change, received_at=uow.now, adopted=False)
    s.add(row)
    s.flush()
    return _views(ctx, s, [r for r in _changes_of(s, item_code) if r.publisher == publisher])[-1]


# -- every node ---------------------------------------------------------------------------------

def list_standard_changes(uow: Work, item_code: str | None = None, pending: bool = False) -> list[StandardChange]:
    """Every change received (at the province: published), oldest first, each with what it
    changed; ``pending``: only the items whose latest change awaits adoption here."""
    require(uow.actor, Action.READ_STANDARD)
    s = uow.session
    out = _views(uow.ctx, s, _changes_of(s, item_code))
    if pending:
        out = [v for v in out if v.latest and not v.adopted and v.action is not None]
    return out


def adopt_standard_item(uow: Work, item_code: str, department_id: int | None = None,
                        localization: dict[str, Any] | None = None) -> Adoption:
    """Bring the local item to the item's current standard and mark its changes adopted.

    A standard for this node's level is published as a new local item (``department_id`` and the
    localization — promised limit ≤ legal, stages, materials, fees — required) or revised (only
    what differs becomes a new version); a repeal repeals the local item; an item delegated away
    from this level retires (repeals) the local one. Anything else is not for this node (409).
    The item is written by ``catalog`` and the changes marked adopted in the same unit of work:
    all of it or none of it."""
    ctx, actor = uow.ctx, uow.actor
    require(actor, Action.ADOPT_STANDARD)
    loc = dict(localization or {})
    unknown = sorted(set(loc) - set(LOCALIZATION_FIELDS))
    if unknown:
        raise InvalidInput(f"not a localization field; the name, legal limit and kind come from the standard",
                           field=unknown[0])
    me = ctx.node_id
    s = uow.session
    views = _views(ctx, s, _changes_of(s, item_code))
    local = _items(s, [item_code]).get(item_code)
    if not views:
        raise NotFound(f"item {item_code} is not in the standard catalog received by this node", field="item_code")
    latest = views[-1]
    state = latest.standard
    if state is None:
        raise Conflict(f"item {item_code}'s changes are of a kind this node does not know; upgrade it",
                       field="item_code")
    item, version = local if local else (None, None)
    if latest.action is None:
        raise Conflict(latest.reason, field="item_code", level=state.level, node_level=level_of(me))
    action = latest.action
    note = loc.pop("change_note", "") or f"采用省级标准目录 {latest.publisher}#{latest.seq}（{latest.summary}）"[:1000]
    if action == "publish":
        dept = department_id or actor.department_id
        for f in ("promised_limit_days", "stages"):
            if f not in loc:
                raise InvalidInput("a new local item needs its promised limit and stages", field=f)
        validate_limits(state.legal_limit_days, loc["promised_limit_days"])
        catalog.publish_item(uow, {"code": item_code, "department_id": dept, "name": state.name,
                                          "kind": state.kind, "legal_limit_days": state.legal_limit_days,
                                          "change_note": note, **loc})
    elif action == "revise":
        assert item is not None and version is not None
        if department_id is not None and department_id != item.department_id:
            raise InvalidInput(f"the local item belongs to department {item.department_id}; adoption does not "
                               "move it", field="department_id")
        can_manage_items(actor, item.department_id)
        promised = loc.get("promised_limit_days", version.promised_limit_days)
        if promised > state.legal_limit_days:
            given = "promised_limit_days" in loc
            raise InvalidInput(
                f"the promised limit ({promised}) may not exceed the standard's legal limit "
                f"({state.legal_limit_days}) working days" + ("" if given else
                                                                "; the local item's promised limit must be lowered"),
                field="promised_limit_days")
        wanted = {"name": state.name, "kind": state.kind, "legal_limit_days": state.legal_limit_days, **loc}
        updates = {k: v for k, v in wanted.items() if getattr(version, k) != v}
        if updates:
            catalog.revise_item(uow, item_code, {**updates, "change_note": note}, item.current_version)
    elif action in ("repeal", "retire"):
        assert item is not None
        why = (f"省级标准目录取消该事项（{latest.publisher}#{latest.seq}）" if action == "repeal" else
               f"该事项已下放至{LEVEL_ZH.get(state.level, state.level)}办理（{latest.publisher}#{latest.seq}）")
        catalog.set_item_status(uow, item_code, ItemStatus.REPEALED.value, f"{why} {latest.note}".strip())
    else:  # acknowledge: nothing to change locally
        if item is not None:
            can_manage_items(actor, item.department_id)
        elif actor.role != Role.ADMIN:
            can_manage_items(actor, -1)
    s.execute(update(CatalogChange).where(
        CatalogChange.publisher == latest.publisher, CatalogChange.item_code == item_code,
        CatalogChange.seq <= latest.seq).values(adopted=True))
    current = catalog.get_item(uow, item_code) if item is not None or action == "publish" else None
    return Adoption(item_code, latest.publisher, latest.seq, latest.change, action, current)
