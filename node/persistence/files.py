"""The node's files are private to the account that runs it: the SQLite database (and its WAL,
shared-memory and rollback journal) 0600, the data directory 0700 — like the keys.

The database holds ID numbers, phone numbers and the audit chain; a world-readable file hands
them to every local account. SQLite creates its ``-wal``/``-shm``/``-journal`` files with the
permissions of the database file, so the file is created 0600 before SQLite first opens it, and a
file left readable by an older version is tightened when the node starts.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

FILE_MODE = 0o600
DIR_MODE = 0o700
SIDE_FILES = ("-wal", "-shm", "-journal")

log = logging.getLogger("yiwang.files")


def sqlite_path(url: str) -> Path | None:
    """The database file a SQLite URL names (None: not SQLite, in memory, or a URI filename)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def private_dir(path: Path, *, tighten: bool = False) -> None:
    """Create ``path`` (and missing parents) 0700; with ``tighten``, an existing directory that
    others may enter is made 0700 too (the node's own data directory, not a shared parent)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(p, DIR_MODE)  # mkdir's mode is masked by the umask; 0700 is what is meant
    if tighten and not missing:
        _tighten(path, DIR_MODE)


def secure_sqlite(url: str) -> None:
    """Before SQLite opens the database: create its directory 0700 and the file 0600 if missing,
    and tighten an existing database and its side files that group or others may read."""
    path = sqlite_path(url)
    if path is None:
        return
    private_dir(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
    for p in (path, *(path.with_name(path.name + s) for s in SIDE_FILES)):
        if p.exists():
            _tighten(p, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077 == 0:
        return
    try:
        os.chmod(path, mode)
    except PermissionError:  # not ours (a mounted volume): say so rather than refuse to start
        log.warning("%s is readable by others (mode %o) and could not be made %o", path, current, mode)
        return
    log.warning("%s was readable by others (mode %o); now %o", path, current, mode)
