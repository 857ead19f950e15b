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
| ``YIWANG_UPLOAD_QUOTA_BYTES`` | bytes one anonymous client (address) may upload per rolling hour | ``67108864`` (64 MiB) |
| ``YIWANG_UPLOAD_QUOTA_FILES`` | files one anonymous client may upload per rolling hour | ``100`` |
| ``YIWANG_UPLOAD_MAX_PENDING`` | uploads one anonymous client may hold that no application uses yet | ``50`` |
| ``YIWANG_STAFF_UPLOAD_QUOTA_BYTES`` | bytes one staff account may upload per rolling hour | ``2147483648`` (2 GiB) |
| ``YIWANG_STAFF_UPLOAD_QUOTA_FILES`` | files one staff account may upload per rolling hour | ``1000`` |
| ``YIWANG_STAFF_UPLOAD_MAX_PENDING`` | unused uploads one staff account may hold | ``500`` |
| ``YIWANG_UPLOAD_MAX_AGE_HOURS`` | an upload no application uses is deleted (row and file) after this many hours | ``24`` |
| ``YIWANG_TRUSTED_PROXIES`` | comma-separated addresses or networks of reverse proxies whose ``X-Forwarded-For`` names the client; unset: the peer address is the client | unset |
| ``YIWANG_TOKEN_TTL_HOURS`` | lifetime of a bearer token | ``12`` |
| ``YIWANG_BENCH_ENDPOINTS`` | ``1`` exposes the benchmark's baseline endpoint | ``0`` |
| ``YIWANG_AUDIT_VERIFY_SECONDS`` | how often beat verifies the audit chain against the live rows; ``0``: never | ``3600`` |
| ``YIWANG_INTEGRITY_SCAN_SECONDS`` | how often beat runs the whole-log integrity rules (log gaps, cases that never moved, children that stopped syncing); ``0``: never | ``900`` |
| ``YIWANG_INTEGRITY_IDLE_DAYS`` | working days (the node's calendar) without a record after which an accepted case in progress is a ``never_moved`` finding | ``10`` |
| ``YIWANG_INTEGRITY_STALL_SECONDS`` | how long a child's own log may stay unchanged here while it still calls in before it is a ``stopped_syncing`` finding | ``3600`` |
| ``YIWANG_DB_POOL_SIZE`` | connections per process (server databases) | ``10`` |
| ``YIWANG_DEMO`` | ``1``: demo mode (``yiwang demo``, the benches): the demo secrets and accounts are accepted. Otherwise the node refuses to start with a missing, placeholder (``CHANGE-ME``) or demo secret, or with an account whose password is still the demo one | ``0`` |
| ``YIWANG_LOOKUP_LIMIT`` | public lookups (view, supply, withdraw, rate) per client (IP address) | ``30/minute`` |
| ``YIWANG_LOOKUP_CODE_LIMIT`` | public lookups per service code | ``10/minute`` |
| ``YIWANG_SIGNIN_LIMIT`` | staff sign-in attempts per client | ``20/minute`` |
| ``YIWANG_SIGNIN_ACCOUNT_LIMIT`` | staff sign-in attempts per user name | ``10/minute`` |
| ``YIWANG_LOCK_AFTER`` | wrong second factors (or passwords) in a row that lock a service code (or an account) | ``5`` |
| ``YIWANG_LOCK_CLIENT_AFTER`` | failed sign-ins that lock the client (IP address) | ``20`` |
| ``YIWANG_LOCK_MINUTES`` | how long a lock holds (kept in the database: across workers and restarts) | ``15`` |

Throttling counts in Redis when ``CELERY_BROKER_URL`` is a ``redis://`` URL (shared by every
worker), in the process's memory otherwise; locks are rows of the database either way.
"""
from __future__ import annotations

import math
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
    upload_quota_bytes: int = 64 * 1024 * 1024
    upload_quota_files: int = 100
    upload_max_pending: int = 50
    staff_upload_quota_bytes: int = 2 * 1024 * 1024 * 1024
    staff_upload_quota_files: int = 1000
    staff_upload_max_pending: int = 500
    upload_max_age_hours: float = 24.0
    trusted_proxies: tuple[str, ...] = ()
    token_ttl_hours: int = 12
    bench_endpoints: bool = False
    audit_verify_seconds: float = 3600.0
    pool_size: int = 10
    demo: bool = False
    lookup_limit: str = "30/minute"
    lookup_code_limit: str = "10/minute"
    signin_limit: str = "20/minute"
    signin_account_limit: str = "10/minute"
    lock_after: int = 5
    lock_client_after: int = 20
    lock_minutes: int = 15
    light_warn_share: float = 0.8  # a limit's share used that turns its light yellow (预警)
    red_card_after_days: int = 3  # working days overdue that turn a yellow card (黄牌) into a red card (红牌)
    integrity_scan_seconds: float = 900.0  # the periodic integrity rules (0: off)
    integrity_idle_days: int = 10  # never_moved: working days without a record
    integrity_stall_seconds: float = 3600.0  # stopped_syncing: a child's log unchanged while it calls in
    session_secret: str | None = None  # signs the staff pages' session cookie (None: a key kept in the data dir)
    secure_cookies: bool = False  # the pages' cookies only over HTTPS (set behind a TLS-terminating proxy)
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
            upload_quota_bytes=int(e.get("YIWANG_UPLOAD_QUOTA_BYTES", 64 * 1024 * 1024)),
            upload_quota_files=int(e.get("YIWANG_UPLOAD_QUOTA_FILES", 100)),
            upload_max_pending=int(e.get("YIWANG_UPLOAD_MAX_PENDING", 50)),
            staff_upload_quota_bytes=int(e.get("YIWANG_STAFF_UPLOAD_QUOTA_BYTES", 2 * 1024 * 1024 * 1024)),
            staff_upload_quota_files=int(e.get("YIWANG_STAFF_UPLOAD_QUOTA_FILES", 1000)),
            staff_upload_max_pending=int(e.get("YIWANG_STAFF_UPLOAD_MAX_PENDING", 500)),
            upload_max_age_hours=float(e.get("YIWANG_UPLOAD_MAX_AGE_HOURS", 24)),
            trusted_proxies=_trusted_proxies(e.get("YIWANG_TRUSTED_PROXIES", "")),
            token_ttl_hours=int(e.get("YIWANG_TOKEN_TTL_HOURS", 12)),
            bench_endpoints=e.get("YIWANG_BENCH_ENDPOINTS", "0") == "1",
            audit_verify_seconds=float(e.get("YIWANG_AUDIT_VERIFY_SECONDS", 3600)),
            pool_size=int(e.get("YIWANG_DB_POOL_SIZE", 10)),
            demo=e.get("YIWANG_DEMO", "0") == "1",
            lookup_limit=e.get("YIWANG_LOOKUP_LIMIT", "30/minute"),
            lookup_code_limit=e.get("YIWANG_LOOKUP_CODE_LIMIT", "10/minute"),
            signin_limit=e.get("YIWANG_SIGNIN_LIMIT", "20/minute"),
            signin_account_limit=e.get("YIWANG_SIGNIN_ACCOUNT_LIMIT", "10/minute"),
            lock_after=int(e.get("YIWANG_LOCK_AFTER", 5)),
            lock_client_after=int(e.get("YIWANG_LOCK_CLIENT_AFTER", 20)),
            lock_minutes=int(e.get("YIWANG_LOCK_MINUTES", 15)),
            light_warn_share=float(e.get("YIWANG_LIGHT_WARN_SHARE", 0.8)),
            red_card_after_days=int(e.get("YIWANG_RED_CARD_AFTER_DAYS", 3)),
            integrity_scan_seconds=_number(e, "YIWANG_INTEGRITY_SCAN_SECONDS", 900, float, 0),
            integrity_idle_days=_number(e, "YIWANG_INTEGRITY_IDLE_DAYS", 10, int, 1),
            integrity_stall_seconds=_number(e, "YIWANG_INTEGRITY_STALL_SECONDS", 3600, float, 1),
            session_secret=e.get("YIWANG_SESSION_SECRET") or None,
            secure_cookies=e.get("YIWANG_SECURE_COOKIES", "0") == "1",
        )
        if not 0 < float(values["light_warn_share"]) <= 1:  # type: ignore[arg-type]
            raise ValueError("YIWANG_LIGHT_WARN_SHARE must be a share in (0, 1], e.g. 0.8")
        if int(values["red_card_after_days"]) < 0:  # type: ignore[call-overload]
            raise ValueError("YIWANG_RED_CARD_AFTER_DAYS must be >= 0")
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _number(env: Mapping[str, str], name: str, default: float, kind: type, least: float) -> float:
    """A numeric variable at least ``least``; anything else stops the node at start, naming it."""
    raw = env.get(name)
    if raw is None or raw == "":
        return kind(default)  # type: ignore[no-any-return]
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be {'a whole number' if kind is int else 'a number'}, not {raw!r}") from None
    if math.isnan(value) or value < least:
        raise ValueError(f"{name} must be >= {least:g}, not {raw!r}")
    return value  # type: ignore[no-any-return]


def _trusted_proxies(value: str) -> tuple[str, ...]:
    """Addresses or networks (``10.0.0.0/8``); a malformed one stops the node at start."""
    import ipaddress

    out = tuple(p.strip() for p in value.split(",") if p.strip())
    for p in out:
        try:
            ipaddress.ip_network(p, strict=False)
        except ValueError as e:
            raise ValueError(f"YIWANG_TRUSTED_PROXIES: {p!r} is not an address or network") from e
    return out
