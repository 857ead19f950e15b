"""The integrity job's settings and its beat entry (no database: the app is only built)."""
from __future__ import annotations

import pytest

from node.config import Settings
from node.tasks.celery_app import SCAN_INTEGRITY, make_celery


def test_defaults_and_the_beat_entry() -> None:
    d = Settings.from_env({})
    assert (d.integrity_scan_seconds, d.integrity_idle_days, d.integrity_stall_seconds) == (900.0, 10, 3600.0)
    s = Settings.from_env({"YIWANG_INTEGRITY_SCAN_SECONDS": "120", "YIWANG_INTEGRITY_IDLE_DAYS": "5",
                           "YIWANG_INTEGRITY_STALL_SECONDS": "7200"})
    assert (s.integrity_idle_days, s.integrity_stall_seconds) == (5, 7200.0)
    app = make_celery(s)
    assert app.conf.beat_schedule["scan-integrity"] == {"task": SCAN_INTEGRITY, "schedule": 120.0}
    assert SCAN_INTEGRITY in app.tasks
    off = make_celery(Settings.from_env({"YIWANG_INTEGRITY_SCAN_SECONDS": "0"}))
    assert "scan-integrity" not in off.conf.beat_schedule


@pytest.mark.parametrize("name,value", [
    ("YIWANG_INTEGRITY_IDLE_DAYS", "0"), ("YIWANG_INTEGRITY_IDLE_DAYS", "2.5"), ("YIWANG_INTEGRITY_IDLE_DAYS", "ten"),
    ("YIWANG_INTEGRITY_STALL_SECONDS", "0"), ("YIWANG_INTEGRITY_STALL_SECONDS", "nan"),
    ("YIWANG_INTEGRITY_SCAN_SECONDS", "-1"), ("YIWANG_INTEGRITY_SCAN_SECONDS", "often"),
])
def test_a_bad_value_stops_the_node_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
