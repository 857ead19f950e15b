"""No silent weak secrets: outside demo mode the node refuses to start with a missing,
placeholder or demo ID hash key, a placeholder in its settings, or an account still on the demo
password — on SQLite and on PostgreSQL — and says which and how to fix it. In demo mode
(``YIWANG_DEMO=1``) it starts.

The app factory gunicorn calls (``create_app(settings)``) is what is tried here; the command
line's refusal (``yiwang node run``, ``federation serve``, ``worker``) with its exit code is in
tests/functional/test_refuse_weak_secrets.py.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from federation.demo import DEMO_ID_KEY
from federation.identity import init_identity
from node.api import create_app
from node.config import Settings
from node.persistence.models import Staff
from node.services import org
from node.services.context import SYSTEM, NodeContext
from node.services.secrets import WeakSecrets, demo_accounts
from node.domain.errors import InvalidInput
from node.domain.passwords import DEMO_PASSWORD

pytestmark = pytest.mark.integration

STRONG_KEY = "9f1c3a77e2b04d5c8a6e1f0b3d2c4e5f"
NEW_PASSWORD = "Lantern-river-1987!"


def settings_for(db_url: str, data_dir: Path, **over: Any) -> Settings:
    return Settings.from_env({}, database_url=db_url, data_dir=data_dir, **over)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A county node with a federation identity (it hashes ID numbers into signed records)."""
    d = tmp_path / "data"
    init_identity(d, "330105", "拱墅区", "330100", now=datetime.now(timezone.utc))
    return d


def refusal(db_url: str, data_dir: Path, **over: Any) -> str:
    with pytest.raises(WeakSecrets) as e:
        create_app(settings_for(db_url, data_dir, **over))
    return str(e.value)


def real_passwords(db_url: str, data_dir: Path) -> None:
    """Every demo account given a real password (one hash for all: set-up, not what is tested;
    ``set_password`` itself is used in test_demo_accounts_are_refused_even_with_a_strong_key)."""
    ctx = NodeContext.build(settings_for(db_url, data_dir))
    with ctx.factory() as s:
        s.execute(update(Staff).values(password_hash=generate_password_hash(NEW_PASSWORD)))
        s.commit()
    ctx.engine.dispose()


def test_a_node_with_an_identity_and_no_key_refuses_to_start(db_url, data_dir, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("YIWANG_ID_HASH_KEY", raising=False)
    msg = refusal(db_url, data_dir)
    assert "YIWANG_ID_HASH_KEY is not set" in msg and "openssl rand -hex 32" in msg
    assert "'admin'" in msg and "demo password" in msg and "yiwang staff set-password" in msg  # and the accounts
    assert "YIWANG_DEMO=1" in msg


@pytest.mark.parametrize(("key", "named"), [
    ("CHANGE-ME-federation-wide-id-hash-key", "placeholder"),  # deploy/node.env.example, secret.example.yaml
    (DEMO_ID_KEY, "demo key"),
    ("short-key", "shorter than 16"),
])
def test_a_placeholder_demo_or_short_key_is_refused(db_url, data_dir, monkeypatch, key, named):  # type: ignore[no-untyped-def]
    real_passwords(db_url, data_dir)
    monkeypatch.setenv("YIWANG_ID_HASH_KEY", key)
    msg = refusal(db_url, data_dir)
    assert named in msg and "1 weak or demo secret " in msg and "account" not in msg


def test_the_key_file_counts_like_the_variable(db_url, data_dir, monkeypatch):  # type: ignore[no-untyped-def]
    real_passwords(db_url, data_dir)
    monkeypatch.delenv("YIWANG_ID_HASH_KEY", raising=False)
    (data_dir / "federation" / "id_hash.key").write_text(DEMO_ID_KEY + "\n")
    assert "demo key" in refusal(db_url, data_dir)
    (data_dir / "federation" / "id_hash.key").write_text(STRONG_KEY + "\n")
    create_app(settings_for(db_url, data_dir))


def test_demo_accounts_are_refused_even_with_a_strong_key(db_url, data_dir, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("YIWANG_ID_HASH_KEY", STRONG_KEY)
    ctx = NodeContext.build(settings_for(db_url, data_dir))
    with ctx.factory() as s:
        users = list(s.scalars(select(Staff.username).order_by(Staff.id)))
    with ctx.factory() as s:
        s.execute(update(Staff).where(Staff.username != users[0])
                  .values(password_hash=generate_password_hash(NEW_PASSWORD)))
        s.commit()
    assert demo_accounts(ctx) == [users[0]]
    msg = refusal(db_url, data_dir)
    assert f"account '{users[0]}' still has the demo password" in msg and "YIWANG_ID_HASH_KEY" not in msg
    ctx.run(SYSTEM, org.set_password, users[0], NEW_PASSWORD)
    app = create_app(settings_for(db_url, data_dir))  # every secret real: it starts
    assert app.test_client().get("/healthz").status_code == 200
    with pytest.raises(InvalidInput) as e:  # and no account goes back to the demo password
        ctx.run(SYSTEM, org.set_password, users[1], DEMO_PASSWORD)
    assert e.value.field == "password"
    with ctx.factory() as s:  # not even behind the node's back: the next start finds it
        s.execute(update(Staff).where(Staff.username == users[1])
                  .values(password_hash=generate_password_hash(DEMO_PASSWORD)))
        s.commit()
    assert f"account '{users[1]}' still has the demo password" in refusal(db_url, data_dir)
    ctx.engine.dispose()


def test_placeholders_in_the_settings_are_refused(db_url, data_dir, monkeypatch):  # type: ignore[no-untyped-def]
    real_passwords(db_url, data_dir)
    monkeypatch.setenv("YIWANG_ID_HASH_KEY", STRONG_KEY)
    msg = refusal(db_url, data_dir, broker_url="redis://:CHANGE-ME-redis-password@CHANGE-ME-redis-host:6379/0",
                  notify_webhook_url="https://sms.example.org/hook?token=CHANGE-ME")
    assert "CELERY_BROKER_URL still holds the shipped placeholder" in msg
    assert "YIWANG_NOTIFY_WEBHOOK_URL still holds the shipped placeholder" in msg
    assert "CHANGE-ME-redis-password" not in msg  # the message names the setting, never prints its value


def test_a_node_without_an_identity_needs_no_key(db_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("YIWANG_ID_HASH_KEY", raising=False)
    real_passwords(db_url, tmp_path / "hall")
    create_app(settings_for(db_url, tmp_path / "hall"))  # a hall on its own hashes nothing


def test_demo_mode_starts_with_the_demo_key_and_accounts(db_url, data_dir, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("YIWANG_ID_HASH_KEY", DEMO_ID_KEY)
    s = Settings.from_env({"YIWANG_DEMO": "1"}, database_url=db_url, data_dir=data_dir)
    assert s.demo
    api = create_app(s).test_client()
    r = api.post("/api/v1/auth/token", json={"username": "admin", "password": "yiwang-demo"})
    assert r.status_code == 201
