"""Smoke test of the supervision benchmark (``bench/supervision.py``) in a tiny run: a province's
library of signed records loaded into PostgreSQL, the four inspector queries over the node's HTTP
API and its service functions while records are ingested through the receive path, the full-scan
baselines, the escalation job over an own node's open cases. It asserts that the run completed and
printed its figures, not what the figures are."""
from __future__ import annotations

import re

import pytest

from bench import supervision
from tests.conftest import PG_ADMIN_URL, require_postgres

pytestmark = [pytest.mark.functional, pytest.mark.slow]


def test_bench_supervision_runs_and_prints_its_figures(capsys, monkeypatch):  # type: ignore[no-untyped-def]
    require_postgres()
    monkeypatch.setenv("YIWANG_BENCH_PG_URL", PG_ADMIN_URL)
    assert supervision.main(["--records", "20000", "--open-cases", "2000", "--duration", "3", "--clients", "4",
                             "--baseline-runs", "1", "--alone", "0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"run completed: [\d,]+ records, [\d,]+ queries, [\d,]+ records ingested, 2,000 open cases", out)
    for via in ("http", "service"):
        assert f"via {via} (3 s, ingest running)" in out, out
        assert re.search(rf"ingest while queried \({via}\): [\d,]+ of [\d,]+ records applied", out), out
    for label in supervision.LABELS.values():  # a row per query and phase: n, p50, p95, p99, max, baseline, ratio
        assert len(re.findall(re.escape(label) + r"\s+\d+(\s+[\d.]+){6}", out)) == 2, (label, out)
    for q in supervision.QUERIES:
        assert re.search(rf"^baseline {q}\s+\S", out, re.MULTILINE), out
    assert "same 50 cases, same order" in out and "same events" in out, out
    assert re.search(r"escalation over 2,000 open cases .* run 1 [\d.]+s .* run 2 [\d.]+s", out), out
    assert len(re.findall(r"^(PASS|MISS)  ", out, re.MULTILINE)) == 2 * 8 + 2, out
