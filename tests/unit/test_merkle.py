"""RFC 9162 Merkle tree: the reference vectors, and every proof for every size up to 70."""
import hashlib
import random

import pytest

from federation.merkle import (EMPTY_ROOT, append_leaves, consistency_proof, inclusion_proof, leaf_hash, node_hash,
                               pack, range_hash, root_of, unpack, verify_consistency, verify_inclusion)

pytestmark = pytest.mark.unit

# The Certificate Transparency reference leaves and roots (RFC 6962 / RFC 9162 trees; the data
# used by the CT and Trillian test suites).
DATA = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                   "606162636465666768696a6b6c6d6e6f"]]
ROOTS = ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
         "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
INCLUSION = [  # (leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def mth(leaves):
    """RFC 9162 §2.1.1, written straight from the definition (the reference for the rest)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def subtrees(leaves):
    """(level, index) -> hash of every perfect subtree, as the stored table holds them."""
    def sub(level, index):
        return mth(leaves[index << level:(index + 1) << level])
    return sub


def tree(n, seed=0):
    rng = random.Random(seed * 1000 + n)
    return [leaf_hash(rng.randbytes(rng.randint(0, 40))) for _ in range(n)]


def test_reference_roots():
    leaves = [leaf_hash(d) for d in DATA]
    assert EMPTY_ROOT.hex() == ROOTS[0]
    frontier = []
    for n in range(1, 9):
        assert mth(leaves[:n]).hex() == ROOTS[n]
        append_leaves(n - 1, frontier, [leaves[n - 1]])
        assert root_of(frontier).hex() == ROOTS[n]  # the incremental frontier gives the same root
        assert range_hash(0, n, subtrees(leaves)).hex() == ROOTS[n]


@pytest.mark.parametrize("index,size,path", INCLUSION)
def test_reference_inclusion_proofs(index, size, path):
    leaves = [leaf_hash(d) for d in DATA]
    proof = inclusion_proof(index, size, subtrees(leaves[:size]))
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(index, size, leaves[index], proof, bytes.fromhex(ROOTS[size]))
    assert not verify_inclusion(index, size, leaves[index], proof, bytes.fromhex(ROOTS[size - 1]))


@pytest.mark.parametrize("old,new,path", CONSISTENCY)
def test_reference_consistency_proofs(old, new, path):
    leaves = [leaf_hash(d) for d in DATA]
    proof = consistency_proof(old, new, subtrees(leaves[:new]))
    assert [p.hex() for p in proof] == path
    assert verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), proof)


def test_the_incremental_tree_stores_exactly_the_perfect_subtrees():
    leaves = tree(70)
    frontier, stored = [], {}
    for i, leaf in enumerate(leaves):
        for level, index, h in append_leaves(i, frontier, [leaf]):
            assert (level, index) not in stored
            stored[(level, index)] = h
        assert unpack(pack(frontier)) == frontier
        assert root_of(frontier) == mth(leaves[:i + 1])
    sub = subtrees(leaves)
    assert all(h == sub(lv, ix) for (lv, ix), h in stored.items())
    assert len(stored) == sum(70 >> lv for lv in range(1, 7))
    batch = []  # appending many at once is the same as one by one
    rows = append_leaves(0, batch, leaves)
    assert batch == frontier and {(lv, ix): h for lv, ix, h in rows} == stored


def test_every_inclusion_proof_up_to_70_verifies_and_nothing_else_does():
    for n in range(1, 71):
        leaves = tree(n)
        sub, root = subtrees(leaves), mth(leaves)
        for i in range(n):
            proof = inclusion_proof(i, n, sub)
            assert verify_inclusion(i, n, leaves[i], proof, root), (i, n)
            assert not verify_inclusion(i, n, leaf_hash(b"forged"), proof, root)
            if n > 1:
                assert not verify_inclusion((i + 1) % n, n, leaves[i], proof, root)
            if proof:
                bad = list(proof)
                bad[0] = bytes(32)
                assert not verify_inclusion(i, n, leaves[i], bad, root)


def test_every_consistency_proof_for_all_pairs_up_to_70():
    leaves = tree(70, seed=1)
    sub = subtrees(leaves)
    roots = [mth(leaves[:m]) for m in range(71)]
    for n in range(1, 71):
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, sub)
            assert verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            if m < n:
                assert not verify_consistency(m, n, roots[m - 1] if m > 1 else bytes(32), roots[n], proof)
                assert not verify_consistency(m, n, roots[m], roots[n - 1], proof)
                edited = list(leaves[:n])
                edited[m - 1] = leaf_hash(b"edited")  # a record within the old tree changed afterwards
                assert not verify_consistency(m, n, roots[m], mth(edited), consistency_proof(m, n, subtrees(edited)))

