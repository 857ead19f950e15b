"""Linked-approval benchmark (issue 11): 4-part joint cases across two real nodes on PostgreSQL, one
part remote, next to single-department cases at one node in the same run.

Configuration. ``federation.demo.Federation`` with three enrolled nodes -- province 330000 (its
federation process only: the city's parent link, the directory), city 330100 and district 330105
(each its HTTP API, gunicorn ``--workers 2 --threads 4`` as ``deploy/k8s/deployment-api.yaml`` runs a
node's API on PostgreSQL -- ``--http-workers 1x8`` for the one process the SQLite demo runs --, and its
federation process) -- each node on its own fresh PostgreSQL database ``yiwang_bench_linked_<pid>_<node>``,
created and dropped by the bench (schemas migrated in parallel; the province gets no demo data). No
Celery broker: notifications are delivered in-process after commit, as a node without
``CELERY_BROKER_URL`` does (so no worker runs). Ports 21000-21002 (HTTP)
and 21050-21052 (gRPC, mutual TLS) unless ``--port-base`` says otherwise.

The joint item ``330105-LB-BENCH`` is published at the district before the measured phases: the demo
catalog's signboard bundle with its planning part owned by the city -- parts 1-3 local
(``330105-XK-CG-001`` 城管 cgj, ``330105-XK-SJ-002`` 市场监管 scjg, ``330105-XK-JJ-001`` 交警 jj), part 4
``330100-XK-GH-001`` 规划 gh at the city. Every part has the same five stages (accept, undertake,
review, approve, conclude); the joint case concludes when all four parts have (all must approve).
Uploads are made before the timed phases (one upload set over HTTP, copies through the node's own
models: ``tests.support.more_upload_sets``), so neither phase times uploading.

Phases (``--clients`` C concurrent clients, each a thread driving one case at a time over HTTP,
each request a fresh connection with a bearer token obtained beforehand):

* baseline: ``4 x --joint`` single-department cases of ``330105-XK-CG-001`` at the district (as many
  department cases as the joint phase has parts): accept at the window (``POST /api/v1/cases`` with
  ``accept``), then undertake / review / approve / conclude, each a ``GET`` (for the version) and a
  ``POST`` transition by the department's staff.
* joint: ``--joint`` N joint cases: accept at the district's window; the three local parts worked by
  their departments at the district as above; the city's linked case (its code read from the joint
  case's view once the dispatch is acknowledged, polled every 50 ms) worked by the city's gh staff at
  the city; then the client polls (every 50 ms) the joint case at the district until it is concluded.

Figures:

* throughput: cases completed / wall time of the phase (first request to last case done at the
  client); joint parts/s = 4 x joint cases/s; ratio = joint parts/s / baseline cases/s (target >= 0.5).
* conclusion latency: from node timestamps (one machine, one clock): for each joint case,
  ``cases.concluded_at`` of the joint case at the district minus the latest ``concluded_at`` of its
  four parts -- the local parts' cases at the district, the linked case at the city (``cases.linked_from
  = 330105:<joint code>:4``). When the remote part is last this is the result's trip city -> district
  (the city's ``part_result`` record pulled down by the district's uplink and applied, re-deriving the
  joint case); when a local part is last it is ~0 (same transaction). Reported p50/p99 over all joint
  cases and separately over those whose last part was the remote one (target p99 <= 2 s).
* where that round trip goes (informational): the acceptance request at the client (sent to answered,
  wall clock), and from its answer to the ack's application (``settled_at``); same machine, one clock.
* dispatch round trip district -> city -> district: the district's ``fed_addressed`` row of the
  ``part_dispatch`` record (direction out): ``settled_at - created_at``, i.e. from the acceptance's
  unit of work (which writes the record) until the district applied the city's ``ack`` (the part's
  link state becomes "received"): the district's uplink pushes the record, the city applies it (creating
  the linked case) and writes the ack into its own log, the district pulls it down and applies it
  (target p99 <= 1 s).

    python -m bench.linked                 # full run (--joint 60 --clients 6)
    python -m bench.linked --quick         # short smoke run (--joint 6 --clients 3)
    python -m bench.linked --joint 100 --clients 8

Environment: ``YIWANG_BENCH_PG_URL`` (an admin connection to PostgreSQL, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.intake import _material, _pg_exec, _upload_pool
from tests.support import JsonClient

TARGET_RATIO = 0.5
TARGET_CONCLUSION_P99_S = 2.0
TARGET_DISPATCH_P99_S = 1.0

PROVINCE, CITY, DISTRICT = "330000", "330100", "330105"
JOINT = "330105-LB-BENCH"
LOCAL_PARTS = (("330105-XK-CG-001", "cgj"), ("330105-XK-SJ-002", "scjg"), ("330105-XK-JJ-001", "jj"))
REMOTE_PART = ("330100-XK-GH-001", "gh")  # the city's own planning review (市规划和自然资源局)
SINGLE = "330105-XK-CG-001"
MATERIALS = {"application": "pdf", "id": "pdf", "design": "pdf", "site-photo": "jpg", "owner-consent": "pdf"}
FORM = {"shop_name": "拱墅老字号面馆", "address": "杭州市拱墅区湖墅南路1号", "size": "6×1.2"}
APPLICANT = {"name": "张三明", "id_number": "11010519491231002X", "phone": "13912345678"}
POLL = 0.05


Http = JsonClient


def _accept(http: Http, item: str, mats: list[dict[str, str]], form: dict[str, str]) -> Any:
    return http.ok("POST", "/api/v1/cases", {"item_code": item, "materials": mats, "form": form, "accept": True,
                                             "applicant": APPLICANT}, "clerk", want=201)


def single_case(district: Http, mats: list[dict[str, str]]) -> str:
    code = str(_accept(district, SINGLE, mats, {})["code"])
    district.work(code, "cgj")
    return code


ANSWERED: dict[str, tuple[float, float]] = {}  # joint code -> (acceptance sent, answered), wall clock (time.time())


def joint_case(district: Http, city: Http, mats: list[dict[str, str]], timeout: float = 120) -> str:
    sent = time.time()
    j = _accept(district, JOINT, mats, FORM)
    code = str(j["code"])
    ANSWERED[code] = (sent, time.time())
    parts = j["joint"]["parts"]
    for p, (_, dept) in zip(parts[:3], LOCAL_PARTS):
        district.work(p["code"], dept)
    deadline = time.monotonic() + timeout
    remote_code = None
    while remote_code is None:
        v = district.ok("GET", f"/api/v1/cases/{code}", user="clerk")
        rp = v["joint"]["parts"][3]
        if rp.get("code") and rp["link"]["state"] == "received":
            remote_code = rp["code"]
        elif time.monotonic() > deadline:
            raise RuntimeError(f"{code}: the city's linked case did not appear: {rp}")
        else:
            time.sleep(POLL)
    city.work(remote_code, REMOTE_PART[1])
    while True:
        v = district.ok("GET", f"/api/v1/cases/{code}", user="clerk")
        if v["status"] == "concluded":
            if v["result"] != "approved":
                raise RuntimeError(f"{code}: concluded {v['result']}")
            return code
        if time.monotonic() > deadline:
            raise RuntimeError(f"{code}: not concluded within {timeout:g}s: {v['status']}")
        time.sleep(POLL)


def run_phase(fn: Any, sets: list[list[dict[str, str]]], clients: int) -> tuple[list[str], float]:
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as ex:
        codes = list(ex.map(fn, sets))
    return codes, time.monotonic() - t0


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def _rows(url: str, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    try:
        with eng.connect() as c:
            return list(c.execute(text(sql), params).all())
    finally:
        eng.dispose()


def measure(durls: str, curl: str, joint_codes: list[str]) -> dict[str, Any]:
    """Conclusion latency and dispatch round trip from the nodes' own timestamps."""
    codes = list(joint_codes)
    joints = {r[0]: (r[1], r[2]) for r in _rows(durls, "select code, concluded_at, id from cases where code = any(:c)",
                                                 c=codes)}
    ids = {jid: code for code, (_, jid) in joints.items()}
    local: dict[str, list[Any]] = {c: [] for c in codes}
    for jid, at in _rows(durls, "select joint_case_id, concluded_at from cases where joint_case_id = any(:i)",
                         i=list(ids)):
        local[ids[jid]].append(at)
    remote = {str(lf).split(":")[1]: at for lf, at in _rows(
        curl, "select linked_from, concluded_at from cases where linked_from = any(:l)",
        l=[f"{DISTRICT}:{c}:4" for c in codes])}
    concl, concl_remote_last = [], []
    for c in codes:
        parts = local[c] + [remote[c]]
        if len(parts) != 4 or any(p is None for p in parts) or joints[c][0] is None:
            raise RuntimeError(f"{c}: parts or conclusion missing: {parts} {joints[c]}")
        last = max(parts)
        d = (joints[c][0] - last).total_seconds()
        concl.append(d)
        if remote[c] >= max(local[c]):
            concl_remote_last.append(d)
    seqs = [r[0] for r in _rows(durls, "select dispatch_seq from case_parts where joint_case_id = any(:i) and "
                                       "remote_node is not null", i=list(ids))]
    acked = [(subject, a, b) for st, subject, a, b in _rows(
        durls, "select state, subject, created_at, settled_at from fed_addressed where direction = 'out' and "
               "kind = 'part_dispatch' and origin = :o and seq = any(:s)", o=DISTRICT, s=seqs) if st == "acked"]
    if len(acked) != len(codes):
        raise RuntimeError(f"{len(acked)} of {len(codes)} dispatches acknowledged")
    rt = [(b - a).total_seconds() for _, a, b in acked]
    # where the round trip goes: the acceptance request itself (at the client), and what follows its answer
    timed = [(ANSWERED[j], b) for j, _, b in acked if j in ANSWERED]
    request = [back - sent for (sent, back), _ in timed]
    after = [b.timestamp() - back for (_, back), b in timed]
    return {"concl": concl, "concl_remote": concl_remote_last, "dispatch": rt, "request": request, "after": after}


def _fmt_s(xs: list[float]) -> str:
    return f"{pct(xs, 50) * 1000:8.0f} {pct(xs, 99) * 1000:8.0f} {max(xs) * 1000 if xs else float('nan'):8.0f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.linked", description=__doc__.split("\n\n")[0])
    ap.add_argument("--joint", type=int, default=60, help="joint cases (the baseline runs 4x as many single cases)")
    ap.add_argument("--clients", type=int, default=6, help="concurrent clients in each phase")
    ap.add_argument("--quick", action="store_true", help="short smoke run: --joint 6 --clients 3")
    ap.add_argument("--port-base", type=int, default=21000, help="HTTP ports from here, gRPC from here + 50")
    ap.add_argument("--keep", action="store_true", help="keep the databases and the data directory")
    ap.add_argument("--http-workers", default="2x4", metavar="PxT",
                    help="each node's gunicorn processes x threads (2x4: deploy/k8s; 1x8: the SQLite demo's)")
    args = ap.parse_args(argv)
    if args.quick:
        args.joint, args.clients = 6, 3
    from sqlalchemy.engine import make_url

    from federation.demo import NODES, Federation, wait_http

    admin = os.environ.get("YIWANG_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    names = {n: f"yiwang_bench_linked_{os.getpid()}_{n}" for n in (PROVINCE, CITY, DISTRICT)}
    urls = {n: make_url(admin).set(database=db).render_as_string(hide_password=False) for n, db in names.items()}
    try:
        workers = tuple(int(x) for x in args.http_workers.lower().split("x"))
        if len(workers) != 2 or min(workers) < 1:
            raise ValueError
    except ValueError:
        ap.error(f"--http-workers: processes x threads, e.g. 2x4 (got {args.http_workers!r})")
    tmp = Path(tempfile.mkdtemp(prefix="yiwang-bench-linked-"))
    fed = Federation(tmp, http_base=args.port_base, grpc_base=args.port_base + 50,
                     nodes=[n for n in NODES if n[0] in names], db_urls=urls, http_workers=workers)
    t_setup = time.monotonic()
    try:
        for db in names.values():
            _pg_exec(admin, f'create database "{db}"')
        _say(f"preparing 3 nodes on PostgreSQL ({', '.join(names.values())}) in {tmp}")
        fed.prepare(parallel=True, seeded=(CITY, DISTRICT))  # the province only relays and signs
        fed.start(PROVINCE, "fed")
        fed.start(CITY)
        fed.start(DISTRICT)
        for n in (CITY, DISTRICT):
            wait_http(fed[n].url + "/healthz")
        district, city = Http(fed[DISTRICT].url), Http(fed[CITY].url)
        from node.seed import JOINT_ITEMS

        base = next(i for i in JOINT_ITEMS if i["code"] == "330105-LB-CG-001")
        item = {k: v for k, v in base.items() if k not in ("dept", "fields")}
        item.update(code=JOINT, name="店招店牌设置（市区联办，压测）",
                    parts=[{"item_code": c} for c, _ in LOCAL_PARTS] + [{"item_code": REMOTE_PART[0], "node": CITY}])
        district.ok("POST", "/api/v1/items", item, "cgj-chief", want=201)
        for h, depts in ((district, [d for _, d in LOCAL_PARTS]), (city, [REMOTE_PART[1]])):
            h.token("clerk")
            for d in depts:
                for role in ("handler", "reviewer", "approver"):
                    h.token(f"{d}-{role}")
        one = {k: district.upload(f"{k}.{kind}", _material(kind, k)) for k, kind in MATERIALS.items()}
        n_single = 4 * args.joint
        sets = _upload_pool(urls[DISTRICT], str(fed[DISTRICT].data_dir), one, args.joint + n_single + 2)
        _say(f"set up in {time.monotonic() - t_setup:.1f}s; warm-up: one joint case and one single case")
        joint_case(district, city, sets.pop())
        single_case(district, sets.pop())
        jsets, ssets = sets[:args.joint], sets[args.joint:]

        _say(f"baseline: {n_single} single cases of {SINGLE}, {args.clients} clients")
        _, t_single = run_phase(lambda m: single_case(district, m), ssets, args.clients)
        _say(f"joint: {args.joint} joint cases of {JOINT} (4 parts, part 4 at {CITY}), {args.clients} clients")
        jcodes, t_joint = run_phase(lambda m: joint_case(district, city, m), jsets, args.clients)
        m = measure(urls[DISTRICT], urls[CITY], jcodes)

        single_rate = n_single / t_single
        joint_rate = args.joint / t_joint
        ratio = 4 * joint_rate / single_rate
        print()
        print(f"configuration: nodes {PROVINCE} (federation only), {CITY}, {DISTRICT} (HTTP gunicorn {args.http_workers} + "
              f"federation each), PostgreSQL {make_url(admin).host}:{make_url(admin).port}, {args.clients} clients, "
              f"{os.cpu_count()} CPUs")
        print(f"{'phase':<34} {'cases':>6} {'wall s':>8} {'cases/s':>8} {'parts/s':>8}")
        print(f"{'baseline: single cases':<34} {n_single:>6} {t_single:>8.2f} {single_rate:>8.2f} {single_rate:>8.2f}")
        print(f"{'joint: 4 parts, 1 at the city':<34} {args.joint:>6} {t_joint:>8.2f} {joint_rate:>8.2f} "
              f"{4 * joint_rate:>8.2f}")
        print()
        print(f"{'latency (node timestamps)':<44} {'n':>4} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        print(f"{'last part result -> joint conclusion':<44} {len(m['concl']):>4} {_fmt_s(m['concl'])}")
        print(f"{'  of which the city part was last':<44} {len(m['concl_remote']):>4} {_fmt_s(m['concl_remote'])}")
        print(f"{'dispatch round trip 330105->330100->330105':<44} {len(m['dispatch']):>4} {_fmt_s(m['dispatch'])}")
        if m["request"]:
            print(f"{'  the acceptance request (client, 4 parts)':<44} {len(m['request']):>4} {_fmt_s(m['request'])}")
            print(f"{'  its answer -> the city ack applied':<44} {len(m['after']):>4} {_fmt_s(m['after'])}")
        print()
        checks = [(f"joint parts/s / baseline cases/s = {ratio:.2f} (target >= {TARGET_RATIO})", ratio >= TARGET_RATIO),
                  (f"conclusion p99 {pct(m['concl'], 99):.3f} s (target <= {TARGET_CONCLUSION_P99_S:g} s)",
                   pct(m["concl"], 99) <= TARGET_CONCLUSION_P99_S),
                  (f"dispatch round trip p99 {pct(m['dispatch'], 99):.3f} s (target <= {TARGET_DISPATCH_P99_S:g} s)",
                   pct(m["dispatch"], 99) <= TARGET_DISPATCH_P99_S)]
        for text, ok in checks:
            print(f"{_verdict(ok)}  {text}")
        print(f"run completed: {args.joint} joint cases, {n_single} single cases "
              f"(mean conclusion {statistics.mean(m['concl']) * 1000:.0f} ms)")
        return 0
    finally:
        fed.stop_all()
        if not args.keep:
            for db in names.values():
                try:
                    _pg_exec(admin, f'drop database if exists "{db}" with (force)')
                except Exception as e:  # noqa: BLE001 - reported, the run's figures stand
                    _say(f"could not drop {db}: {e}")
            shutil.rmtree(tmp, ignore_errors=True)


def _say(msg: str) -> None:
    print(f"[bench.linked] {msg}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
