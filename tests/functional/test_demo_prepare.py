"""`yiwang demo`'s preparation: cut short (Ctrl-C, a crash) it is redone by the next start, not left
half-seeded; progress is reported step by step."""
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select

from federation.demo import NODES, Federation
from node.config import Settings
from node.persistence.models import Staff
from node.services import org
from node.services.context import SYSTEM, NodeContext

pytestmark = pytest.mark.functional
TWO = [n for n in NODES if n[0] in ("330000", "330100")]


def staff_count(f: Federation, node_id: str) -> int:
    eng = create_engine(f"sqlite:///{f[node_id].data_dir / 'yiwang.db'}")
    with eng.connect() as c:
        n = c.execute(select(func.count()).select_from(Staff)).scalar_one()
    eng.dispose()
    return int(n)


def test_a_preparation_cut_short_is_redone(tmp_path):
    f = Federation(tmp_path, nodes=TWO)
    f.prepare_identities()
    # the first start was interrupted while seeding the city: its database holds departments only
    n = f["330100"]
    subprocess.run([sys.executable, "-m", "node.cli", "db", "upgrade"], env=n.env(), check=True,
                   stdout=subprocess.DEVNULL)
    ctx = NodeContext.build(Settings.from_env(n.env()))
    ctx.run(SYSTEM, org.create_department, "cgj", "城管局", "department", None)
    ctx.engine.dispose()
    heard: list[str] = []
    f.prepare(progress=heard.append)
    # seeded from nothing, not "already loaded": each level its own hall (the city five departments, the
    # province four, five staff each, and admin, clerk, inspector)
    assert (staff_count(f, "330100"), staff_count(f, "330000")) == (28, 23)
    assert any("330100" in m and "demo hall" in m for m in heard)
    heard.clear()
    f.prepare(progress=heard.append)  # finished: the next start does nothing again
    assert heard == []


def test_identities_cut_short_start_again(tmp_path):
    f = Federation(tmp_path, nodes=TWO)
    from federation.identity import init_identity

    init_identity(f["330000"].data_dir, "330000", "浙江省", None)  # only the province's identity was made
    heard: list[str] = []
    f.prepare_identities(heard.append)
    assert any("did not finish" in m for m in heard)
    from federation.identity import load_identity

    city = load_identity(f["330100"].data_dir)
    assert city is not None and city.parent_id == "330000"
