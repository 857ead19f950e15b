"""Anchors of the audit chain: heads a verification found intact, checked by the next one.

The chain is an unkeyed hash chain: whoever can edit the database can delete its last entries and
set ``audit_head`` back to the last one kept, and the walk alone finds nothing. So every intact
verification records the head it saw -- in ``audit_heads`` and in ``<data dir>/audit-head.json``
(outside the database: someone who can only reach the database, a DBA or an injected statement,
cannot move it) -- and every later one checks that the chain still holds that entry with that
hash. Because each entry commits to the one before it, the newest anchor vouches for the whole
chain up to it. What was appended after the newest anchor and cut before the next verification
is not caught here (the row replay still finds the rows those entries changed, unless they were
put back too); only an anchor held by another node (the federation) would catch that.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from .models import AuditAnchor, AuditEntry

ANCHOR_FILE = "audit-head.json"


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    verified_at: str
    where: str


def anchors(conn: Connection, data_dir: Path) -> list[Anchor]:
    """The newest anchor in the database and the one in the data directory (either may be absent)."""
    out = []
    row = conn.execute(select(AuditAnchor).order_by(AuditAnchor.seq.desc(), AuditAnchor.id.desc()).limit(1)).first()
    if row is not None:
        out.append(Anchor(row.seq, row.hash, row.verified_at.isoformat(), "audit_heads"))
    f = data_dir / ANCHOR_FILE
    if f.exists():
        try:
            d = json.loads(f.read_text("utf-8"))
            out.append(Anchor(int(d["seq"]), str(d["hash"]), str(d["verified_at"]), str(f.name)))
        except (ValueError, KeyError, TypeError):
            out.append(Anchor(-1, "", "", f.name))
    return out


def check_anchors(conn: Connection, data_dir: Path) -> list[str]:
    """What the chain no longer holds of the heads earlier verifications found intact."""
    problems = []
    for a in anchors(conn, data_dir):
        if a.seq < 0:
            problems.append(f"{a.where} is unreadable: the anchor outside the database was damaged")
            continue
        if a.seq == 0:
            continue
        h = conn.execute(select(AuditEntry.hash).where(AuditEntry.seq == a.seq)).scalar_one_or_none()
        if h is None:
            problems.append(f"entry {a.seq}, found intact on {a.verified_at} ({a.where}), is gone: "
                            "the chain was cut back")
        elif h != a.hash:
            problems.append(f"entry {a.seq} is not the one found intact on {a.verified_at} ({a.where}): "
                            "the chain was rewritten")
    return problems


def record_anchor(session: Session, data_dir: Path, seq: int, hash_: str, at: datetime) -> None:
    """Keep an intact head (in ``session``'s transaction, and in the data directory)."""
    session.add(AuditAnchor(seq=seq, hash=hash_, verified_at=at))
    data_dir.mkdir(parents=True, exist_ok=True)
    f = data_dir / ANCHOR_FILE
    tmp = f.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"seq": seq, "hash": hash_, "verified_at": at.isoformat()}, out)
    os.replace(tmp, f)
