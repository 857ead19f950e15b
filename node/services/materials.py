"""The completeness check against an item version, with the named uploads read from the database."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from node.domain.completeness import Notice, check
from node.persistence.cases import read_uploads
from node.persistence.models import ItemVersion


def completeness(s: Session, version: ItemVersion, materials: list[dict[str, Any]], conditional: list[str],
                 uploads: dict[str, Any] | None = None, usable: Callable[[Any], str | None] | None = None,
                 ) -> tuple[Notice, dict[str, list[Any]]]:
    """``domain.completeness.check`` of the given materials; the uploads (read here unless given,
    by id, with the case each is bound to) come back as rows. ``usable`` names what forbids using
    an upload (bound to another case, another account's), if anything."""
    if uploads is None:
        uploads = read_uploads(s, [m["upload_id"] for m in materials])
    return check(version.item.code, version.name, version.materials, materials, conditional, uploads, usable)
