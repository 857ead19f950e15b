"""The supervision counts kept as records apply (lib_counts, migration 0027): after signed records
of several origins applied in random batches with replays, after the lights' refresh on a later
day and after a rebuild, they equal the GROUP BY of the library's cases, and the counts endpoint's
service answers the same from them as from the cases (SQLite and PostgreSQL)."""
from __future__ import annotations

import random
from datetime import datetime

import pytest
from sqlalchemy import func, select

from federation.library import apply_records
from node.domain.lifecycle import Actor
from node.persistence.models import LibCase, LibCount
from node.services import supervision
from node.services.context import CST
from tests.integration.test_assessment import INSPECTOR, make_records, province

pytestmark = pytest.mark.integration
SYSTEM = Actor("system")


def grouped(s) -> dict:  # type: ignore[no-untyped-def]
    q = select(LibCase.origin, LibCase.stage_kind, LibCase.light, func.count()).where(LibCase.light.is_not(None)) \
        .group_by(LibCase.origin, LibCase.stage_kind, LibCase.light)
    return {(o, k, lt): n for o, k, lt, n in s.execute(q)}


def kept(s) -> dict:  # type: ignore[no-untyped-def]
    return {(r.origin, r.stage_kind, r.light): r.n for r in s.scalars(select(LibCount)) if r.n}


def test_counts_kept_as_records_apply_equal_the_cases(ctx, db_url, tmp_path, clock):  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    recs = make_records(rng)
    clock.set(datetime(2026, 2, 2, 9, 0, tzinfo=CST))  # lights as of early February: green, yellow and red
    p = province(db_url, tmp_path, clock)
    try:
        i = 0
        while i < len(recs):
            n = rng.randint(1, 120)
            batch = recs[i:i + n]
            if i and rng.random() < 0.4:  # a replay of records already applied moves nothing
                batch = recs[max(0, i - rng.randint(1, 40)):i] + batch
            with p.uow(SYSTEM) as uow:
                apply_records(uow.session, batch)
                uow.commit()
            i += n
        with p.factory() as s:
            want = grouped(s)
            assert len({k[2] for k in want}) >= 4, want  # several lights, open and concluded
            assert kept(s) == want
        clock.set(datetime(2026, 5, 4, 9, 0, tzinfo=CST))  # three months on: the refresh turns lights
        assert p.run(SYSTEM, supervision.refresh_lights) > 0
        with p.factory() as s:
            later = grouped(s)
            assert later != want and kept(s) == later
        with p.uow(INSPECTOR) as uow:  # the endpoint's answer: the same from lib_counts as from the cases
            for by in ("origin", "city"):
                for region in (None, "3301", "330105"):
                    fast = supervision.counts(uow, by=by, region=region)
                    # the slow path (a GROUP BY of the cases), once per department: together every case
                    # (channels do not cover them all: some records carry none)
                    depts = uow.session.scalars(select(LibCase.department_code).distinct()).all()
                    assert depts and all(depts)
                    slow = [r for d in depts for r in supervision.counts(uow, by=by, region=region, department=d)]
                    total: dict = {}
                    for r in slow:
                        k = (r["region"], r["stage_kind"], r["light"])
                        total[k] = total.get(k, 0) + r["count"]
                    assert {(r["region"], r["stage_kind"], r["light"]): r["count"] for r in fast} == total
                    assert [(r["region"], r["stage_kind"], r["light"]) for r in fast] == sorted(total)
        with p.uow(SYSTEM) as uow:
            assert supervision.rebuild_counts(uow.session) == sum(later.values())
            uow.commit()
        with p.factory() as s:
            assert kept(s) == later
    finally:
        p.engine.dispose()
