"""Material storage. Content addressed by SHA-256; the backend is pluggable (``BlobStore``)."""
from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...

    def exists(self, digest: str) -> bool: ...

    def remove(self, digest: str, untouched_since: float) -> bool: ...

    def listing(self, untouched_since: float) -> Iterator[str]: ...


class LocalBlobStore:
    """Files under ``root/ab/cd/<digest>``, written to a temporary file, fsynced and renamed,
    so a crash never leaves a partial file under a digest's name.

    Removal is safe against a concurrent upload of the same content: ``put`` of a file that
    exists touches it (under a shared lock), and ``remove`` only unlinks a file untouched since
    the cut-off (under an exclusive lock) — so a blob an upload is about to reference is never
    removed under it, whatever the database said a moment before."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    @contextmanager
    def _lock(self, mode: int) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), mode)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        with self._lock(fcntl.LOCK_SH):
            if path.exists():
                os.utime(path)
                return digest
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".up-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return digest

    def get(self, digest: str) -> bytes:
        return self._path(digest).read_bytes()

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def remove(self, digest: str, untouched_since: float) -> bool:
        """Unlink the blob if it exists and was neither written nor touched since ``untouched_since``
        (a POSIX time); whether it was removed."""
        path = self._path(digest)
        with self._lock(fcntl.LOCK_EX):
            try:
                if path.stat().st_mtime >= untouched_since:
                    return False
                path.unlink()
            except FileNotFoundError:
                return False
        return True

    def listing(self, untouched_since: float) -> Iterator[str]:
        """Digests of the blobs untouched since ``untouched_since``; temporary files a crash left
        behind that long ago are removed on the way."""
        if not self.root.exists():
            return
        for path in self.root.glob("??/??/*"):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            if mtime >= untouched_since:
                continue
            if path.name.startswith(".up-"):
                path.unlink(missing_ok=True)
            elif len(path.name) == 64:
                yield path.name
