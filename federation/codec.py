"""Canonical bytes, base64 and timestamps for what the identity layer signs and stores.

Signed JSON documents (the node directory, enrollment requests, subtree exports) are produced
once as canonical bytes — sorted keys, no insignificant whitespace, UTF-8, no floats — and those
exact bytes travel base64-encoded next to the signature. Receivers verify the bytes they got and
only then parse them; nothing is re-serialized to be checked, so two JSON libraries disagreeing
about number formatting or key order can never break a signature.

Times are ISO 8601 strings in UTC with millisecond precision (``2026-01-02T03:04:05.678Z``): a
key rotated at 12:00:00.700 must not make a record signed at 12:00:00.500 look like it came after
the rotation, so timestamps are never rounded to the second.
"""
from __future__ import annotations

import base64
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from node.persistence.files import private_dir


def canonical_json(obj: Any) -> bytes:
    """The one byte form of ``obj`` that gets signed; floats are refused (they do not round-trip)."""
    _reject_floats(obj)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def parse_json(data: bytes) -> Any:
    """Parse signed bytes; a float anywhere means the document was not produced by us."""
    def no_float(s: str) -> float:
        raise ValueError(f"floats are not allowed in signed documents (got {s})")

    return json.loads(data.decode("utf-8"), parse_float=no_float)


def _reject_floats(obj: Any) -> None:
    if isinstance(obj, float):
        raise ValueError("floats are not allowed in signed documents")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ValueError("keys of signed documents must be strings")
            _reject_floats(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _reject_floats(v)


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str, what: str = "value") -> bytes:
    """Strict standard base64; a malformed value is a ``ValueError`` naming ``what``."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError, AttributeError):
        raise ValueError(f"{what} is not valid base64") from None


def require_aware(dt: datetime, what: str = "time") -> datetime:
    """Naive datetimes are refused: a node in UTC+8 and one in UTC must agree on every instant."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return dt


def iso(dt: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix."""
    return require_aware(dt).astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str, what: str = "time") -> datetime:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValueError(f"{what} is not an ISO 8601 time: {text!r}") from None
    return require_aware(dt, what)


def truncate_ms(dt: datetime) -> datetime:
    """The instant as it will be stored (times are kept to the millisecond)."""
    return parse_iso(iso(dt))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a key or certificate;
    the file is created with ``mode`` (0600 for private keys) before any byte is written."""
    private_dir(path.parent)  # a node's data and key directories are its own: created 0700
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj: Any) -> None:
    """Local bookkeeping files (not signed): readable, stable key order."""
    write_atomic(path, (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path: Path, default: Any = None) -> Any:
    if not path.exists():
        return default
    return json.loads(path.read_text("utf-8"))
