"""`yiwang seed demo-cases`: cases in every state, made through the node's own API, with real lights."""
from collections import Counter

import pytest

from node.demo_cases import load_demo_cases
from tests.support import DEMO_PASSWORD

pytestmark = pytest.mark.integration


def test_demo_cases_cover_every_state(ctx, api):
    lines = list(load_demo_cases(ctx, DEMO_PASSWORD))
    assert lines[-1].startswith("demo cases:")
    items = api.get("/api/v1/cases?page_size=100", "inspector").json["items"]
    seen = Counter((c["status"], c.get("light")) for c in items)
    for want in [("submitted", None), ("in_progress", "green"), ("in_progress", "yellow"), ("in_progress", "red"),
                 ("supplementing", None), ("refused", None), ("withdrawn", None)]:
        assert seen[want] > 0, (want, seen)
    assert any(c["status"] == "concluded" for c in items)
    assert any(c["channel"] == "agent" for c in items)  # village submissions
    assert any(c.get("joint") for c in items)
    assert list(load_demo_cases(ctx, DEMO_PASSWORD)) == ["the node has cases already; no demo cases added"]
