"""Item catalog (事项目录): publish, revise (new version), suspend, resume, repeal; public guide."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from node.domain import joint
from node.domain.errors import Conflict, InvalidInput, NotFound
from node.domain.items import (
    JOINT_STAGES,
    ItemKind,
    ItemStatus,
    StageDef,
    validate_limits,
    validate_materials,
    validate_power_code,
    validate_stages,
)
from node.domain.lifecycle import Actor
from node.domain.prerequisites import validate_prerequisites
from node.domain.policy import Action, Target, require
from node.persistence.models import Department, Item, ItemVersion

from .context import Work

VERSION_FIELDS = ("name", "kind", "legal_limit_days", "promised_limit_days", "materials", "stages", "fees",
                  "conditions", "legal_basis", "procedure", "issues_license", "license_name",
                  "license_validity_days", "parts", "decision", "fields", "prerequisites")


ITEM_OWNERS = ("department", "town", "subdistrict")
"""The units that own items and work their stages (a town's items are worked by its own staff)."""


def stage_defs(version: ItemVersion) -> list[StageDef]:
    return validate_stages(version.stages, version.promised_limit_days)


def _check_content(data: dict[str, Any], s: Any = None, code: str | None = None) -> None:
    try:
        ItemKind(data["kind"])
    except ValueError:
        raise InvalidInput(f"must be one of {', '.join(k.value for k in ItemKind)}", field="kind") from None
    validate_limits(data["legal_limit_days"], data["promised_limit_days"])
    validate_materials(data.get("materials", []))
    stages = validate_stages(data["stages"], data["promised_limit_days"])
    data["prerequisites"] = validate_prerequisites(data.get("prerequisites") or [], code or "")
    if s is not None:
        _check_joint(s, data, code)
        _check_stage_departments(s, stages)
    if data.get("issues_license") and not (data.get("license_name") or "").strip():
        raise InvalidInput("an item that issues a license must name it", field="license_name")
    if data["kind"] == ItemKind.IMMEDIATE and data["promised_limit_days"] > 0 and len(data["stages"]) > 2:
        raise InvalidInput("an immediate item (即办件) is accepted and concluded on the spot: "
                           "only the accept and conclude stages", field="stages")


def _check_joint(s: Any, data: dict[str, Any], code: str | None) -> None:
    """A joint item's parts: at least two, none twice, each an existing item of this hall that is
    not itself joint (a part runs its own stages; nesting is not allowed), and the merged form
    mapped onto them. An item that is not joint lists no parts."""
    parts, decision, fields = data.get("parts"), data.get("decision"), data.get("fields")
    if data["kind"] != ItemKind.JOINT:
        for name, value in (("parts", parts), ("decision", decision), ("fields", fields)):
            if value:
                raise InvalidInput(f"only a joint item (联办件) has '{name}'", field=name)
        return
    if not parts and not fields and not decision:
        return  # a joint item worked by one department at its own stages (as before parts existed)
    codes = joint.validate_parts(parts, decision)
    uow = s.info.get("uow")
    here = uow.ctx.node_id if uow is not None and hasattr(uow, "ctx") else ""
    for i, pc in enumerate(codes):
        if pc == code:
            raise InvalidInput("a joint item cannot be its own part", field=f"parts[{i}].item_code")
        if joint.remote_node(parts[i], here):  # type: ignore[index]
            continue  # another node's item (市区两级联动): that node checks it when the part is dispatched
        try:
            v = current_version(s, pc)
        except NotFound:
            raise InvalidInput(f"no item '{pc}' in this hall's catalog", field=f"parts[{i}].item_code") from None
        if v.item.status == ItemStatus.REPEALED:
            raise InvalidInput(f"item '{pc}' is repealed", field=f"parts[{i}].item_code")
        if v.kind == ItemKind.JOINT and v.parts:
            raise InvalidInput(f"item '{pc}' is itself a joint item; a part is an item of one department",
                               field=f"parts[{i}].item_code")
    joint.validate_fields(fields, codes)


def _check_stage_departments(s: Any, stages: list[StageDef]) -> None:
    for i, st in enumerate(stages):
        if st.kind not in JOINT_STAGES:
            continue
        known = set(s.scalars(select(Department.code).where(Department.code.in_(st.departments),
                                                             Department.kind.in_(("department", "town")))))
        for d in st.departments:
            if d not in known:
                raise InvalidInput(f"no department with code '{d}'", field=f"stages[{i}].departments")


def can_manage(actor: Actor, department_id: int) -> None:
    require(actor, Action.MANAGE_ITEMS, Target(department_id=department_id))


def publish_item(uow: Work, data: dict[str, Any]) -> ItemVersion:
    actor = uow.actor
    validate_power_code(data["code"])
    dept_id = data.get("department_id") or actor.department_id
    if dept_id is None:
        raise InvalidInput("say which department the item belongs to", field="department_id")
    can_manage(actor, dept_id)
    s = uow.session
    _check_content(data, s, data["code"])
    dept = s.get(Department, dept_id)
    if dept is None or dept.kind not in ITEM_OWNERS:
        raise InvalidInput(f"department {dept_id} does not exist (items belong to a department, a town or a "
                           "sub-district office; not to a service point)", field="department_id")
    if s.scalar(select(Item.id).where(Item.code == data["code"]).execution_options(all_tenants=True)):
        raise Conflict(f"an item with code '{data['code']}' exists already; revise it instead", field="code")
    item = Item(code=data["code"], department_id=dept_id, status=ItemStatus.ACTIVE.value, current_version=1,
                created_at=uow.now, updated_at=uow.now)
    s.add(item)
    s.flush()
    v = ItemVersion(item_id=item.id, department_id=dept_id, version=1, published_at=uow.now,
                    published_by=actor.staff_id, change_note=data.get("change_note") or "首次发布",
                    **{k: data.get(k) for k in VERSION_FIELDS if k in data})
    v.materials = data.get("materials", [])
    v.prerequisites = data["prerequisites"]
    v.fees = data.get("fees", [])
    s.add(v)
    s.flush()
    v.item = item
    return v


def revise_item(uow: Work, code: str, data: dict[str, Any], expected_version: int) -> ItemVersion:
    """A modification publishes a new version; cases keep the version they were submitted under."""
    actor = uow.actor
    s = uow.session
    item = s.scalar(select(Item).where(Item.code == code).with_for_update())
    if item is None:
        raise NotFound(f"no item with code '{code}'", field="code")
    can_manage(actor, item.department_id)
    if item.status == ItemStatus.REPEALED:
        raise Conflict("a repealed item cannot be modified", field="code")
    if expected_version != item.current_version:
        raise Conflict(f"the item is at version {item.current_version}, not {expected_version}: "
                       "someone else changed it; reload and try again", field="version",
                       current_version=item.current_version)
    cur = s.scalar(select(ItemVersion).where(ItemVersion.item_id == item.id,
                                             ItemVersion.version == item.current_version))
    merged = {k: getattr(cur, k) for k in VERSION_FIELDS}
    merged.update({k: v for k, v in data.items() if k in VERSION_FIELDS})
    _check_content(merged, s, code)
    item.current_version += 1
    item.updated_at = uow.now
    v = ItemVersion(item_id=item.id, department_id=item.department_id, version=item.current_version,
                    published_at=uow.now, published_by=actor.staff_id,
                    change_note=data.get("change_note") or "", **merged)
    s.add(v)
    s.flush()
    v.item = item
    return v


_STATUS_MOVES = {
    ItemStatus.ACTIVE: {ItemStatus.SUSPENDED, ItemStatus.REPEALED},
    ItemStatus.SUSPENDED: {ItemStatus.ACTIVE, ItemStatus.REPEALED},
    ItemStatus.REPEALED: set(),
}


def set_item_status(uow: Work, code: str, status: str, note: str = "") -> Item:
    actor = uow.actor
    try:
        new = ItemStatus(status)
    except ValueError:
        raise InvalidInput("must be active, suspended or repealed", field="status") from None
    item = uow.session.scalar(select(Item).where(Item.code == code).with_for_update())
    if item is None:
        raise NotFound(f"no item with code '{code}'", field="code")
    can_manage(actor, item.department_id)
    if new not in _STATUS_MOVES[ItemStatus(item.status)]:
        raise Conflict(f"an item that is '{item.status}' cannot become '{new}'", field="status")
    item.status = new.value
    item.updated_at = uow.now
    return item


def current_version(s: Any, code: str, all_tenants: bool = True) -> ItemVersion:
    v = s.scalar(
        select(ItemVersion).join(Item, Item.id == ItemVersion.item_id)
        .where(Item.code == code, ItemVersion.version == Item.current_version)
        .options(contains_eager(ItemVersion.item)).execution_options(all_tenants=all_tenants)
    )  # the item comes from the join already there: one query, not a second SELECT
    if v is None:
        raise NotFound(f"no item with code '{code}' in the catalog", field="item_code")
    return v


# The catalog is public: its reads are not confined to the reader's department.


def get_item(uow: Work, code: str, version: int | None = None) -> ItemVersion:
    s = uow.session
    if version is None:
        return current_version(s, code)
    v = s.scalar(select(ItemVersion).join(Item, Item.id == ItemVersion.item_id)
                 .where(Item.code == code, ItemVersion.version == version)
                 .options(selectinload(ItemVersion.item)).execution_options(all_tenants=True))
    if v is None:
        raise NotFound(f"item '{code}' has no version {version}", field="version")
    return v


def list_items(uow: Work, *, department_id: int | None = None, status: str | None = None,
               q: str | None = None, public: bool = True) -> list[ItemVersion]:
    s = uow.session
    stmt = (select(ItemVersion).join(Item, Item.id == ItemVersion.item_id)
            .where(ItemVersion.version == Item.current_version)
            .options(selectinload(ItemVersion.item)).order_by(Item.code).execution_options(all_tenants=True))
    if public:
        stmt = stmt.where(Item.status != ItemStatus.REPEALED.value)
    if department_id is not None:
        stmt = stmt.where(Item.department_id == department_id)
    if status:
        stmt = stmt.where(Item.status == status)
    if q:
        stmt = stmt.where(ItemVersion.name.contains(q) | Item.code.contains(q))
    return list(s.scalars(stmt))


def item_history(uow: Work, code: str) -> list[ItemVersion]:
    s = uow.session
    item = s.scalar(select(Item).where(Item.code == code).options(selectinload(Item.versions))
                    .execution_options(all_tenants=True))
    if item is None:
        raise NotFound(f"no item with code '{code}'", field="code")
    for v in item.versions:
        v.item = item
    return list(item.versions)
