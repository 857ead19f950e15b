"""Smoke test of the linked-approval benchmark (``bench/linked.py``) in a small run: three real nodes on
PostgreSQL, joint cases with a part at the city driven to conclusion, single cases as the baseline. It
asserts that the run completed and printed its figures, not what the figures are."""
from __future__ import annotations

import re

import pytest

from bench import linked
from tests.conftest import PG_ADMIN_URL, require_postgres

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def test_bench_linked_runs_and_prints_its_figures(capsys, monkeypatch):  # type: ignore[no-untyped-def]
    require_postgres()
    monkeypatch.setenv("YIWANG_BENCH_PG_URL", PG_ADMIN_URL)
    assert linked.main(["--joint", "2", "--clients", "2", "--port-base", "21100"]) == 0
    out = capsys.readouterr().out
    assert "run completed: 2 joint cases, 8 single cases" in out
    for row in ("baseline: single cases", "joint: 4 parts, 1 at the city", "last part result -> joint conclusion",
                "dispatch round trip 330105->330100->330105"):
        assert re.search(re.escape(row) + r"\s+\d+\s+[\d.]+", out), (row, out)
    assert len(re.findall(r"^(PASS|MISS)  ", out, re.MULTILINE)) == 3, out
