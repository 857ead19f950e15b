"""Checkpoint cost at a large log: the Merkle tree (v2) against the old linear accumulator walk.

One log of ``--records`` records (default 200,000; bodies of realistic size, stored with their
leaves, perfect subtrees and frontier exactly as ``federation.log`` stores them) in a fresh
database built by the migrations. Measured in the same run, on the same rows:

- linear walk: what ``make_checkpoint`` did before revision 0007 (every body read and hashed,
  the accumulator chained) — ``checkpoint.legacy_accumulator``;
- Merkle checkpoint: ``checkpoint.make_checkpoint`` (root from the head's frontier, signed);
- a root at an arbitrary earlier size, a consistency proof and an inclusion proof from the
  stored subtrees (what a parent's audit and a receipt cost);
- the rolling own check of one window of 20,000 bodies (``merkle.verify_own_range``).

    python bench/checkpoint.py                      # SQLite in a temporary directory
    python bench/checkpoint.py --records 50000
    python bench/checkpoint.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/yiwang_bench_cp
      (an empty database: the bench builds the schema in it and leaves it)
"""
from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from federation.checkpoint import legacy_accumulator, make_checkpoint  # noqa: E402
from federation.envelope import GENESIS, Signer, seal  # noqa: E402
from federation.library import insert_rows  # noqa: E402
from federation.merkle import (TreeReader, append_leaves, consistency_proof, inclusion_proof, leaf_hash,  # noqa: E402
                               pack, root_of, tree_rows, tree_table, unpack, verify_own_range)
from federation.pb.v1 import federation_pb2 as pb  # noqa: E402
from node.persistence.migrate import upgrade  # noqa: E402
from node.persistence.models import FedHead, FedRecord  # noqa: E402

ORIGIN = "330105"


def build(url: str, n: int, signer: Signer) -> None:
    """``n`` records sealed (seq, prev hash, signature) and stored as the signed log stores them."""
    engine = create_engine(url)
    factory = sessionmaker(engine)
    now = datetime.now(timezone.utc)
    frontier: list[bytes] = []
    prev, seq = GENESIS, 0
    ev = pb.CaseEvent(service_code="330105-261201-ABCD-EFGH-X", item_code="330105-XK-CG-001", event="accept",
                      status="accepted", item_name="建设工程规划许可证核发", department_name="规划和自然资源局",
                      applicant_name_masked="张*明", applicant_id_masked="1101**********002X",
                      applicant_id_hash=secrets.token_hex(32),
                      material_digests=[secrets.token_hex(32) for _ in range(5)], actor="staff:17", channel="online")
    while seq < n:
        with factory() as s:
            rows, leaves = [], []
            for _ in range(min(5000, n - seq)):
                seq += 1
                rec = seal(signer, seq, prev, int(now.timestamp() * 1000), ev)
                leaf = leaf_hash(rec.body)
                leaves.append(leaf)
                rows.append(dict(origin=ORIGIN, seq=seq, body=rec.body, signature=rec.signature, hash=rec.hash.hex(),
                                 leaf=leaf.hex(), key_id=signer.key_id, received_from=None, stored_at=now))
                prev = rec.hash
            insert_rows(s, FedRecord.__table__, rows)  # type: ignore[arg-type]
            insert_rows(s, tree_table(), tree_rows(ORIGIN, append_leaves(seq - len(leaves), frontier, leaves)))
            s.commit()
    with factory() as s:
        s.add(FedHead(origin=ORIGIN, seq=seq, hash=prev.hex(), frontier=pack(frontier), pushed_seq=0, updated_at=now))
        s.commit()
    engine.dispose()


def timed(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    upgrade(url)
    key = Ed25519PrivateKey.generate()
    signer = Signer(ORIGIN, "bench", key.sign)
    n = args.records
    t, _ = timed(lambda: build(url, n, signer))
    print(f"log of {n:,} records built in {t:.1f} s ({url.split(':')[0]})")
    engine = create_engine(url)
    factory = sessionmaker(engine)
    now = datetime.now(timezone.utc)
    with factory() as s:
        linear, acc = timed(lambda: legacy_accumulator(s, ORIGIN, n), repeat=2)
        merkle, cp = timed(lambda: make_checkpoint(s, signer, now), repeat=5)
        assert acc is not None and cp is not None
        head = s.get(FedHead, ORIGIN)
        root = root_of(unpack(head.frontier))
        m = n * 2 // 3 + 1
        past, _ = timed(lambda: TreeReader(s, ORIGIN).root(m), repeat=5)
        cons, proof = timed(lambda: consistency_proof(m, n, TreeReader(s, ORIGIN)), repeat=5)
        incl, path = timed(lambda: inclusion_proof(12_345 % n, n, TreeReader(s, ORIGIN)), repeat=5)
        window, found = timed(lambda: verify_own_range(s, ORIGIN, 1, min(n, 20_000)))
        assert found == [] and pb.CheckpointBody.FromString(cp.body).tree_root == root
    engine.dispose()
    print(f"checkpoint, old linear walk (read and hash every body): {linear * 1000:10.1f} ms")
    print(f"checkpoint, Merkle root from the frontier, signed:       {merkle * 1000:10.3f} ms   "
          f"({linear / merkle:,.0f}x less)")
    print(f"root at size {m:,} from stored subtrees:             {past * 1000:10.3f} ms")
    print(f"consistency proof {m:,} -> {n:,} ({len(proof)} hashes):      {cons * 1000:10.3f} ms")
    print(f"inclusion proof in {n:,} ({len(path)} hashes):              {incl * 1000:10.3f} ms")
    print(f"own check of one window of {min(n, 20_000):,} bodies:          {window * 1000:10.1f} ms")
    tmp.cleanup()


if __name__ == "__main__":
    main()
