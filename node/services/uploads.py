"""Uploads: storing a checked material file within the sender's quota, who may use an upload,
and expiring the ones no application took.

* **Quota.** Each sender (an anonymous client by address, a staff account by id) has a byte and a
  file budget per rolling hour and a cap on uploads no application uses yet. They are counted in
  the database (``uploads.uploaded_by``, ``created_at``, ``size``), under a per-sender lock
  (PostgreSQL advisory lock; SQLite's transactions take the write lock up front), so the budget
  holds across every gunicorn worker.
* **One upload, one application.** An upload is bound to the case that first names it
  (``case_materials.binds`` on that case's first row naming it, one per upload by a partial unique
  index); another application naming it is refused. The
  upload id (128 random bits, given only to its sender) is the sender's token: nobody else learns
  it before it is bound, and once bound it is of no use to anyone else. A staff member's upload
  serves that account only.
* **Expiry.** ``purge_uploads`` deletes uploads no case uses, older than
  ``upload_max_age_hours``: rows first (committed), then the blobs no row references any more. A
  crash between the two leaves an unreferenced blob, never a referenced one missing; the next run
  sweeps it. Idempotent: run it by beat, by ``yiwang uploads purge``, twice, at once.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select, text

from node.config import Settings
from node.domain.errors import InvalidInput, QuotaExceeded
from node.domain.filecheck import check_file
from node.domain.lifecycle import Actor
from node.persistence.models import CaseMaterial, Upload
from node.persistence.uow import SYSTEM

from .context import NodeContext, Work

WINDOW = timedelta(hours=1)
LOCAL = "local"
"""The sender of an in-process upload (seed, tests, scripts): code the node runs, not a client."""


def sender(actor: Actor, client: str | None) -> str:
    """Who the quota counts an upload against: the staff account, else the client's address."""
    if actor.kind == "staff" and actor.staff_id is not None:
        return f"staff:{actor.staff_id}"
    return f"client:{client}" if client else LOCAL


@dataclass(frozen=True)
class Budget:
    bytes: int
    files: int
    pending: int

    @classmethod
    def of(cls, settings: Settings, staff: bool) -> Budget:
        if staff:
            return cls(settings.staff_upload_quota_bytes, settings.staff_upload_quota_files,
                       settings.staff_upload_max_pending)
        return cls(settings.upload_quota_bytes, settings.upload_quota_files, settings.upload_max_pending)


def store_upload(uow: Work, filename: str, data: bytes, content_type: str | None = None,
                 client: str | None = None) -> Upload:
    """Check the file's whole structure, charge it to its sender's quota, store it."""
    settings = uow.ctx.settings
    if not data:
        raise InvalidInput("the file is empty", field="file", location="files")
    if len(data) > settings.max_upload_bytes:
        raise InvalidInput(f"the file is {len(data)} bytes; the limit is {settings.max_upload_bytes}",
                           field="file", location="files")
    try:
        kind = check_file(data, filename or "", content_type)
    except InvalidInput as e:
        raise InvalidInput(e.message, field="file", location="files") from e
    who = sender(uow.actor, client)
    if who != LOCAL:
        charge(uow, who, len(data), Budget.of(settings, who.startswith("staff:")))
    digest = uow.ctx.store.put(data)  # content addressed: a crash leaves at most an unreferenced blob
    up = Upload(id=secrets.token_hex(16), digest=digest, size=len(data), file_type=kind,
                filename=(filename or "upload")[-255:], created_at=uow.now, uploaded_by=who)
    uow.session.add(up)
    uow.session.flush()
    return up


def charge(uow: Work, who: str, size: int, budget: Budget) -> None:
    """Refuse (429, with the seconds to wait) an upload of ``size`` bytes that would take ``who``
    past a budget; the caller's unit of work then inserts the upload under the same lock."""
    s, now = uow.session, uow.now
    if s.connection().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7301))"), {"k": who})
    recent = s.execute(select(Upload.created_at, Upload.size).where(Upload.uploaded_by == who,
                                                                    Upload.created_at > now - WINDOW)
                       .order_by(Upload.created_at)).all()
    if len(recent) + 1 > budget.files:
        frees_at = recent[len(recent) + 1 - budget.files - 1].created_at + WINDOW
        raise _over(f"this sender has uploaded {len(recent)} files in the last hour, the most allowed "
                    f"({budget.files})", frees_at, now)
    used = sum(r.size for r in recent)
    if used + size > budget.bytes:
        excess, freed, frees_at = used + size - budget.bytes, 0, now + WINDOW
        for r in recent:
            freed += r.size
            if freed >= excess:
                frees_at = r.created_at + WINDOW
                break
        raise _over(f"this upload ({size:,} bytes) would take this sender past {budget.bytes:,} bytes in an hour "
                    f"({used:,} used)", frees_at, now)
    pending = s.execute(select(func.count(), func.min(Upload.created_at)).where(
        Upload.uploaded_by == who, ~exists().where(CaseMaterial.upload_id == Upload.id, CaseMaterial.binds))
        .execution_options(all_tenants=True)).one()
    if pending[0] + 1 > budget.pending:
        frees_at = pending[1] + timedelta(hours=uow.ctx.settings.upload_max_age_hours)
        raise _over(f"this sender holds {pending[0]} uploads that no application uses yet, the most allowed "
                    f"({budget.pending}): submit the application that uses them, or wait until they expire",
                    frees_at, now)


def _over(message: str, frees_at: datetime, now: datetime) -> QuotaExceeded:
    wait = max(1, int((frees_at - now).total_seconds()) + 1)
    return QuotaExceeded(f"upload quota used up: {message}; try again in {_human(wait)}", retry_after=wait,
                         field="file", location="files")


def _human(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"


def usable_by(actor: Actor, case_id: int | None = None) -> Callable[[Any], str | None]:
    """The problem (or None) with ``actor`` using an upload in an application (``case_id``: the
    case it already belongs to, when materials are supplied to it later)."""
    me = sender(actor, None)

    def problem(up: Any) -> str | None:
        bound = getattr(up, "case_id", None)
        if bound is not None and bound != case_id:
            return "this file is already part of another application; upload it again for this one"
        by = getattr(up, "uploaded_by", None) or ""
        if by.startswith("staff:") and by != me:
            return "this file was uploaded by another account; upload it again yourself"
        return None

    return problem


def binding(uploads: list[Any], case_id: int | None) -> list[bool]:
    """For each of the uploads a case's new material rows name, in order: whether that row binds
    the upload to the case (``CaseMaterial.binds``): the first row naming an upload not yet bound
    to it (``case_id``: the case, None for a new one; ``usable_by`` refused the bound elsewhere)."""
    seen: set[str] = set()
    out = []
    for up in uploads:
        out.append(up.id not in seen and (case_id is None or getattr(up, "case_id", None) != case_id))
        seen.add(up.id)
    return out


def attach(case: Any, given: dict[str, list[Any]], now: datetime) -> list[Any]:
    """The material rows of the uploads ``given`` per material code, added to ``case`` (each upload
    bound to it by its first row, ``binding``); returns them."""
    supplied = [(code, up) for code, ups in given.items() for up in ups]
    rows = [CaseMaterial(case_id=case.id, department_id=case.department_id, material_code=code, upload_id=up.id,
                         digest=up.digest, size=up.size, file_type=up.file_type, filename=up.filename, added_at=now,
                         binds=binds)
            for (code, up), binds in zip(supplied, binding([up for _, up in supplied], case.id), strict=True)]
    case.materials.extend(rows)
    return rows


@dataclass
class PurgeReport:
    rows: int
    blobs: int

    def __str__(self) -> str:
        return f"purged {self.rows} expired uploads and {self.blobs} stored files"


def purge_uploads(ctx: NodeContext, now: datetime | None = None, batch: int = 500) -> PurgeReport:
    """Delete every upload no case uses that is older than the configured age, then every stored
    file no upload references that was not touched within that age."""
    now = now or ctx.clock()
    cutoff = now - timedelta(hours=ctx.settings.upload_max_age_hours)
    rows = 0
    gone: set[str] = set()
    while True:
        with ctx.uow(SYSTEM, now=now) as uow:
            s = uow.session
            q = (select(Upload).where(Upload.created_at < cutoff,
                                      ~exists().where(CaseMaterial.upload_id == Upload.id))
                 .order_by(Upload.created_at).limit(batch))
            if s.connection().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            expired = list(s.scalars(q.execution_options(all_tenants=True)))
            for up in expired:
                gone.add(up.digest)
                s.delete(up)
            uow.commit()
        rows += len(expired)
        if len(expired) < batch:
            break
    # Files age on the file system's clock, whatever clock the node reads (a test's, a replay's).
    untouched = time.time() - ctx.settings.upload_max_age_hours * 3600
    candidates = gone | set(ctx.store.listing(untouched))
    blobs = 0
    with ctx.factory() as s:
        pending = sorted(candidates)
        for i in range(0, len(pending), 500):
            chunk = pending[i:i + 500]
            kept = set(s.scalars(select(Upload.digest).where(Upload.digest.in_(chunk))
                                 .execution_options(all_tenants=True)))
            blobs += sum(ctx.store.remove(d, untouched) for d in chunk if d not in kept)
    return PurgeReport(rows, blobs)
