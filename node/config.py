"""Typed settings built from environment variables (never read at import time).

| variable | meaning | default |
|---|---|---|
| ``DATABASE_URL`` | SQLAlchemy URL of the node's database | ``sqlite:///<data dir>/yiwang.db`` |
| ``YIWANG_DATA_DIR`` | where the SQLite file and stored materials live | ``./var`` |
| ``YIWANG_NODE_ID`` | the node's administrative division code (6 digits) | ``330105`` |
| ``YIWANG_NODE_NAME`` | the hall's display name | ``拱墅区行政服务中心`` |
| ``CELERY_BROKER_URL`` | Celery broker (e.g. ``redis://127.0.0.1:6379/0``); unset: deliver in-process after commit | unset |
| ``YIWANG_NOTIFY_BACKEND`` | ``log`` or ``webhook`` | ``log`` |
| ``YIWANG_NOTIFY_WEBHOOK_URL`` | the SMS provider's webhook for the ``webhook`` backend | unset |
| ``YIWANG_MAX_UPLOAD_BYTES`` | largest accepted material file | ``20971520`` (20 MiB) |
| ``YIWANG_TOKEN_TTL_HOURS`` | lifetime of a bearer token | ``12`` |
| ``YIWANG_BENCH_ENDPOINTS`` | ``1`` exposes the benchmark's baseline endpoint | ``0`` |
| ``YIWANG_AUDIT_VERIFY_SECONDS`` | how often beat verifies the audit chain against the live rows; ``0``: never | ``3600`` |
| ``YIWANG_DB_POOL_SIZE`` | connections per process (server databases) | ``10`` |
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    node_id: str = "330105"
    node_name: str = "拱墅区行政服务中心"
    broker_url: str | None = None
    notify_backend: str = "log"
    notify_webhook_url: str | None = None
    max_upload_bytes: int = 20 * 1024 * 1024
    token_ttl_hours: int = 12
    bench_endpoints: bool = False
    audit_verify_seconds: float = 3600.0
    pool_size: int = 10
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "materials"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        e = dict(os.environ if env is None else env)
        data_dir = Path(e.get("YIWANG_DATA_DIR", "var"))
        url = e.get("DATABASE_URL") or f"sqlite:///{data_dir / 'yiwang.db'}"
        node_id = e.get("YIWANG_NODE_ID", "330105")
        if not re.fullmatch(r"\d{6}", node_id):
            raise ValueError("YIWANG_NODE_ID must be a 6-digit administrative division code")
        backend = e.get("YIWANG_NOTIFY_BACKEND", "log")
        if backend not in ("log", "webhook"):
            raise ValueError("YIWANG_NOTIFY_BACKEND must be 'log' or 'webhook'")
        values: dict[str, object] = dict(
            database_url=url,
            data_dir=data_dir,
            node_id=node_id,
            node_name=e.get("YIWANG_NODE_NAME", "拱墅区行政服务中心"),
            broker_url=e.get("CELERY_BROKER_URL") or None,
            notify_backend=backend,
            notify_webhook_url=e.get("YIWANG_NOTIFY_WEBHOOK_URL") or None,
            max_upload_bytes=int(e.get("YIWANG_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)),
            token_ttl_hours=int(e.get("YIWANG_TOKEN_TTL_HOURS", 12)),
            bench_endpoints=e.get("YIWANG_BENCH_ENDPOINTS", "0") == "1",
            audit_verify_seconds=float(e.get("YIWANG_AUDIT_VERIFY_SECONDS", 3600)),
            pool_size=int(e.get("YIWANG_DB_POOL_SIZE", 10)),
        )
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
