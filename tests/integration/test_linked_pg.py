"""The linked-part flow across levels (dispatch, apply, progress, result, conclusion, refusals) over
real gRPC with mutual TLS with every node on PostgreSQL: each node its own fresh database cloned from
the migrated, seeded template. The tests are those of ``test_linked_parts`` (collected here again)
run against this module's ``fed`` fixture."""
from __future__ import annotations

import shutil
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from federation.demo import Federation
from federation.plugin import attach_identity
from node.config import Settings
from node.services.context import NodeContext
from tests.conftest import CI, _pg_exec, _pg_url
from tests.integration.test_linked_parts import (  # noqa: F401 - collected here on PostgreSQL
    test_a_city_part_is_dispatched_worked_at_the_city_and_concludes_the_joint_case,
    test_a_dispatch_to_an_unknown_or_revoked_node_is_refused_at_acceptance,
    test_a_remote_part_denied_denies_the_joint_case,
    test_refusals_item_not_owned_unknown_part_not_the_owner,
)

pytestmark = pytest.mark.integration


def pg_federation(tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    """A province, a city and two districts, each on its own PostgreSQL database (yields the
    ``Federation`` with ``ctxs``); the databases are dropped afterwards."""
    if "postgresql" not in templates:
        if CI:
            pytest.fail(f"CI=true but {templates['postgresql_missing']}")
        pytest.skip(templates["postgresql_missing"])
    monkeypatch.setenv("YIWANG_ID_HASH_KEY", "test-federation-key")
    f = Federation(tmp_path / "fed", http_base=0, grpc_base=0)
    f.prepare_identities()
    clock.set(datetime.now(timezone.utc) + timedelta(seconds=1))  # records are signed after the keys exist
    ctxs: dict[str, NodeContext] = {}
    names: list[str] = []
    try:
        for node_id, n in f.nodes.items():
            name = f"yiwang_l{node_id}_{uuid.uuid4().hex[:8]}"
            _pg_exec(f"CREATE DATABASE {name} TEMPLATE {templates['postgresql']}")
            names.append(name)
            c = NodeContext.build(Settings.from_env({}, database_url=_pg_url(name), data_dir=n.data_dir,
                                                    node_id=node_id), clock=clock.now)
            assert c.engine.dialect.name == "postgresql"
            attach_identity(c)
            c.dispatch_notifications = lambda ids: None
            ctxs[node_id] = c
        f.ctxs = ctxs  # type: ignore[attr-defined]
        yield f
    finally:
        for c in ctxs.values():
            c.engine.dispose()
        for name in names:
            _pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def sqlite_federation(tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    """The same on SQLite (as ``test_federation_grpc.fed``), for modules that run on both."""
    monkeypatch.setenv("YIWANG_ID_HASH_KEY", "test-federation-key")
    f = Federation(tmp_path / "fed", http_base=0, grpc_base=0)
    f.prepare_identities()
    clock.set(datetime.now(timezone.utc) + timedelta(seconds=1))
    ctxs: dict[str, NodeContext] = {}
    for node_id, n in f.nodes.items():
        shutil.copy(templates["sqlite"], n.data_dir / "yiwang.db")
        c = NodeContext.build(Settings.from_env({}, database_url=f"sqlite:///{n.data_dir / 'yiwang.db'}",
                                                data_dir=n.data_dir, node_id=node_id), clock=clock.now)
        attach_identity(c)
        c.dispatch_notifications = lambda ids: None
        ctxs[node_id] = c
    f.ctxs = ctxs  # type: ignore[attr-defined]
    try:
        yield f
    finally:
        for c in ctxs.values():
            c.engine.dispose()


@pytest.fixture
def fed(tmp_path, templates, clock, monkeypatch):  # type: ignore[no-untyped-def]
    yield from pg_federation(tmp_path, templates, clock, monkeypatch)
