import pytest

pytestmark = pytest.mark.integration


def test_online_application_runs_all_five_stages(api):
    code = api.apply_online()
    done = api.to_conclusion(code)
    assert done["status"] == "concluded" and done["result"] == "approved"
    assert [t["event"] for t in done["transitions"]] == ["submit", "accept", "undertake", "review", "approve", "conclude"]
    assert done["license"]["number"].startswith("330105-CGJ-2026-")
