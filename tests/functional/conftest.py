"""Functional tests run real node processes of a demo federation. Each module prepares its own
federation (identities, enrollment, directory of its own), but the nodes' databases -- migrated,
with the demo halls seeded -- are the same every time: they are made once per session by the real
``Federation.prepare`` and copied (``tests.support.prepare_from``), as the integration tests copy their template.
``tests/functional/test_demo_prepare.py`` runs the preparation itself, cut short and redone."""
from __future__ import annotations

from pathlib import Path

import pytest

from federation.demo import Federation


@pytest.fixture(scope="session")
def demo_databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{node id: its database as ``Federation.prepare`` leaves it} for the default demo nodes."""
    f = Federation(tmp_path_factory.mktemp("demo-databases"))
    f.prepare(parallel=True)
    return {node_id: n.data_dir / "yiwang.db" for node_id, n in f.nodes.items()}
