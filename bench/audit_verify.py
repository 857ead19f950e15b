"""How long ``yiwang audit verify`` takes (chain walk + anchors + the row replay) on a node with N cases.

Builds a fresh PostgreSQL (or SQLite) database: the migrations, the demo hall, then N online
submissions through the intake service (each: the case, its first transition, five materials, the
applicant's notification, eight audit entries) and the acceptance of every other one (an update
of the case, a new transition and notification). Then times ``verify_audit`` twice (the second
run has the first one's anchor to check) and prints entries, rows and seconds.

    python -m bench.audit_verify --cases 10000              # PostgreSQL (YIWANG_BENCH_PG_URL)
    python -m bench.audit_verify --cases 2000 --sqlite
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, select, text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--sqlite", action="store_true")
    ap.add_argument("--profile", action="store_true", help="print where a third verification spends its time")
    args = ap.parse_args()

    from node.config import Settings
    from node.domain.lifecycle import Event
    from node.persistence.migrate import upgrade
    from node.persistence.models import Staff
    from node.seed import load_demo
    from node.services.admin import verify_audit
    from node.services.cases import TransitionInput, apply_transition
    from node.services.context import NodeContext
    from node.services.intake import submit_case
    from node.services.org import actor_of
    from tests.support import sign_application

    tmp = Path(tempfile.mkdtemp(prefix="yiwang-bench-audit-"))
    admin = os.environ.get("YIWANG_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"yiwang_bench_audit_{os.getpid()}"
    if args.sqlite:
        url = f"sqlite:///{tmp / 'node.db'}"
    else:
        eng = create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        eng.dispose()
        url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        ctx = NodeContext.build(Settings.from_env({}, database_url=url, data_dir=tmp))
        list(load_demo(ctx, "bench-password-1"))
        with ctx.factory() as s:
            clerk = s.scalars(select(Staff).where(Staff.username == "clerk")).one()
            s.expunge(clerk)
        actor = actor_of(clerk, None)
        data = sign_application(ctx)
        t0 = time.monotonic()
        for i in range(args.cases):
            code = ctx.run(None, submit_case, data)
            if i % 2 == 0:
                ctx.run(actor, apply_transition, code, TransitionInput(Event.ACCEPT))
            if (i + 1) % 1000 == 0:
                print(f"  {i + 1} cases ({time.monotonic() - t0:.0f} s)", flush=True)
        for run in (1, 2):
            r = verify_audit(ctx)
            print(f"verify #{run}: ok={r.ok} entries={r.entries} rows={r.rows} differences={len(r.differences)} "
                  f"in {r.seconds:.2f} s ({ctx.engine.dialect.name}, {args.cases} cases)", flush=True)
        if args.profile:
            import cProfile
            import pstats

            with cProfile.Profile() as prof:
                verify_audit(ctx)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        ctx.engine.dispose()
    finally:
        if not args.sqlite:
            eng = create_engine(admin, isolation_level="AUTOCOMMIT")
            with eng.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            eng.dispose()


if __name__ == "__main__":
    main()
