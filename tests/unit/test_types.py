"""The convention says node and federation are mypy clean: this keeps them so.

mypy runs in-process with the repository's ``[tool.mypy]`` settings. It reuses ``.mypy_cache``,
so a warm run takes well under a second; a cold one (a fresh clone, as in CI) about 10 s.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_clean_over_node_and_federation(monkeypatch: pytest.MonkeyPatch) -> None:
    from mypy import api

    monkeypatch.chdir(ROOT)
    stdout, stderr, status = api.run(["--config-file", "pyproject.toml", "node", "federation"])
    assert status == 0, f"mypy node federation exited {status}:\n{stdout}{stderr}"
