"""The case repository: the one way a case is read and written.

A new case (the case row, its first transition, its materials, its notification) is written by
``add_case`` on every backend from complete rows (every column: the given value or the column's
default), audited from exactly those values; PostgreSQL's fast path — ids reserved and the rows
written by the very statement that queues their audit entries, sent with the COMMIT — lives
here and in ``audit``/``sql``, behind the same interface. Later changes of a case go through the
ORM object ``load_case`` returns (its ``version`` column makes a concurrent change fail, and
``lock=True`` makes a second writer wait for the first and see what it wrote).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, text
from sqlalchemy.orm import Session, joinedload, selectinload

from node.domain import servicecode
from node.domain.errors import NotFound

from .audit import insert_rows
from .models import Case, CaseMaterial, CasePart, CaseTransition, Item, ItemVersion, Notification, Upload
from .sql import RESERVE_IDS_SQL, allocate_ids, id_request, pipelined
from .uow import UnitOfWork

CASES = cast(Table, Case.__table__)
TRANSITIONS = cast(Table, CaseTransition.__table__)
MATERIALS = cast(Table, CaseMaterial.__table__)
NOTIFICATIONS = cast(Table, Notification.__table__)
UPLOADS = cast(Table, Upload.__table__)
_ITEMS = cast(Table, Item.__table__)
_VERSIONS = cast(Table, ItemVersion.__table__)


def is_code_clash(e: Exception) -> bool:
    """The unique service code was taken (found when the case's rows reach the database)."""
    text_ = str(getattr(e, "orig", e))
    return "cases_code" in text_ or "cases.code" in text_


def load_case(s: Session, code: str, lock: bool = False, all_tenants: bool = False) -> Case:
    """The case with its history, materials and license (within the reader's tenancy, unless
    ``all_tenants``: for a caller that checks the reader's right itself)."""
    code = servicecode.normalize(code)
    q = select(Case).where(Case.code == code).options(selectinload(Case.transitions), selectinload(Case.materials),
                                                      selectinload(Case.license), selectinload(Case.prerequisites))
    if all_tenants:
        q = q.execution_options(all_tenants=True)
    if lock:
        q = q.with_for_update(of=Case).execution_options(populate_existing=True)
    case = s.scalar(q)
    if case is None:
        raise NotFound(f"no case {code} that you may see", field="code")
    return case


_DEFAULTS: dict[Table, dict[str, Any]] = {}


def full_row(table: Table, **values: Any) -> dict[str, Any]:
    """Every column of ``table``: the value given, else the column's scalar default, else None
    (so the row written and its audit entry are complete and agree with an ORM insert)."""
    defaults = _DEFAULTS.get(table)
    if defaults is None:
        defaults = _DEFAULTS[table] = {
            c.key: (getattr(c.default, "arg", None) if c.default is not None and c.default.is_scalar else None)
            for c in table.c}
    row = dict(defaults)
    row.update(values)
    return row


class UploadRef(NamedTuple):
    id: str
    digest: str
    size: int
    file_type: str
    filename: str
    uploaded_by: str | None
    case_id: int | None  # the case it is bound to, if any


@dataclass
class IntakeRead:
    """What a submission reads: the item's current version and status now, the uploads the
    application names, and the ids reserved for the new case's rows (by table name)."""

    version_id: int
    item_status: str
    uploads: dict[str, Any]
    ids: dict[str, list[int]]


_CURRENT = (select(_ITEMS.c.status, _VERSIONS.c.id)
            .join(_VERSIONS, (_VERSIONS.c.item_id == _ITEMS.c.id) & (_VERSIONS.c.version == _ITEMS.c.current_version))
            .where(_ITEMS.c.code == bindparam("code")))
# An upload's case: the one whose material row binds it (``CaseMaterial.binds``), whoever reads.
_UPLOADS = (select(UPLOADS.c.id, UPLOADS.c.digest, UPLOADS.c.size, UPLOADS.c.file_type, UPLOADS.c.filename,
                   UPLOADS.c.uploaded_by, MATERIALS.c.case_id)
            .outerjoin(MATERIALS, (MATERIALS.c.upload_id == UPLOADS.c.id) & MATERIALS.c.binds)
            .where(UPLOADS.c.id.in_(bindparam("ids", expanding=True)))
            .execution_options(all_tenants=True))

# PostgreSQL: everything a submission reads, and the ids its rows will take, in one round trip
# (sent with the transaction's BEGIN).
_READ_PG = text(f"""
SELECT i.status, v.id AS version_id,
       (SELECT coalesce(json_agg(json_build_array(u.id, u.digest, u.size, u.file_type, u.filename, u.uploaded_by,
                                                  (SELECT b.case_id FROM case_materials b
                                                   WHERE b.upload_id = u.id AND b.binds))), '[]')
        FROM uploads u WHERE u.id = ANY(CAST(:upload_ids AS varchar[]))) AS uploads,
       {RESERVE_IDS_SQL} AS ids
FROM items i JOIN item_versions v ON v.item_id = i.id AND v.version = i.current_version
WHERE i.code = :code""")


def read_uploads(s: Session, ids: list[str]) -> dict[str, Any]:
    """The named uploads by id, each with the case it is bound to (``case_id``, None: pending)."""
    return {u.id: u for u in s.execute(_UPLOADS, {"ids": ids})} if ids else {}


def read_for_intake(uow: UnitOfWork, item_code: str, upload_ids: list[str], materials: int,
                    notification: bool) -> IntakeRead:
    counts = {CASES: 1, TRANSITIONS: 1, MATERIALS: materials, NOTIFICATIONS: 1 if notification else 0}
    s = uow.session
    conn = s.connection()
    if conn.dialect.driver == "psycopg":
        req = id_request(s, counts)
        rows = pipelined(conn, [(_READ_PG, {"code": item_code, "upload_ids": upload_ids, **req.params})])
        if not rows:
            raise NotFound(f"no item with code '{item_code}' in the catalog", field="item_code")
        status, vid, ups, ids = rows[0]
        return IntakeRead(vid, status, {u[0]: UploadRef(*u) for u in ups}, req.split(ids))
    row = s.execute(_CURRENT, {"code": item_code}).one_or_none()
    if row is None:
        raise NotFound(f"no item with code '{item_code}' in the catalog", field="item_code")
    return IntakeRead(row.id, row.status, read_uploads(s, upload_ids), allocate_ids(s, counts))


def item_version(s: Session, vid: int) -> ItemVersion:
    """A published version with its item, detached (a published version never changes)."""
    v = s.scalar(select(ItemVersion).where(ItemVersion.id == vid).options(joinedload(ItemVersion.item))
                 .execution_options(all_tenants=True))
    assert v is not None
    s.expunge(v.item)
    s.expunge(v)
    return v


@dataclass
class NewCase:
    """The rows of a case being submitted (complete rows: see ``full_row``). A material row that
    ``binds`` its upload makes the insert fail if another case took the upload meanwhile."""

    case: dict[str, Any]
    transition: dict[str, Any]
    materials: list[dict[str, Any]]
    notification: dict[str, Any] | None = None


def add_case(uow: UnitOfWork, new: NewCase, readable: bool = False) -> None:
    """Write a new case's rows, audited as inserts, in ``uow``'s transaction. PostgreSQL writes
    them at commit, with the audit queue insert, unless ``readable``: then at once, so the same
    unit of work can go on with the case (accepting it at the window)."""
    insert_rows(uow, CASES, [new.case], now=readable)
    insert_rows(uow, TRANSITIONS, [new.transition], now=readable)
    if new.materials:
        insert_rows(uow, MATERIALS, new.materials, now=readable)
    if new.notification is not None:
        insert_rows(uow, NOTIFICATIONS, [new.notification], now=readable)


def joint_links(s: Session, case: Any) -> tuple[str, int]:
    """(joint code, part number) a case's signed event carries: a part's joint case and number
    (``case_parts``); a joint case with parts its own code and 0; any other case ("", 0)."""
    if getattr(case, "joint_case_id", None) is not None:
        row = s.execute(select(Case.code, CasePart.part_no).join(CasePart, CasePart.joint_case_id == Case.id)
                        .where(CasePart.local_case_id == case.id).execution_options(all_tenants=True)).first()
        return (row[0], row[1]) if row is not None else ("", 0)
    linked = getattr(case, "linked_from", None)
    if linked:  # a part of another node's joint case: origin:joint_code:part
        _, code, no = linked.rsplit(":", 2)
        return code, int(no)
    v = getattr(case, "item_version", None)
    if v is not None and v.kind == "joint" and v.parts:
        return case.code, 0
    return "", 0
