"""The audit payload split used by the PostgreSQL append is byte-identical to the canonical JSON."""
from datetime import date, datetime, timedelta, timezone

import pytest

from node.persistence.audit import canonical, payload_parts

CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize("entry", [
    {"table": "cases", "key": "7", "op": "insert",
     "changes": {"id": 7, "seq": 1, "applicant_name": "张三明", "form": {"a": "b"}, "submitted_at": "2026-03-02T09:00:00+08:00"}},
    {"table": "case_transitions", "key": "1", "op": "update", "changes": {"seq": [1, 2], "data": [None, {"x": [1, 2]}]}},
    {"table": "staff", "key": "3", "op": "delete", "changes": {}},
    {"table": "weird\"name", "key": "a,b", "op": "insert", "changes": {"z": "\\", "\u2028": date(2026, 1, 1)}},
])
@pytest.mark.parametrize("seq", [1, 9, 10, 123456789012])
def test_prefix_seq_suffix_is_the_canonical_payload(entry, seq):
    at = datetime(2026, 3, 2, 9, 0, tzinfo=CST).isoformat()
    prefix, suffix = payload_parts(entry, at, "clerk")
    assert prefix + str(seq).encode() + suffix == canonical({"seq": seq, "at": at, "actor": "clerk", **entry})


def test_rows_captured_for_core_inserts_carry_the_same_payload():
    """capture_rows keeps each row's canonical JSON (also the JSON the rows are inserted from on
    PostgreSQL); the payload built from it is the one built from the values."""
    from node.persistence.audit import CHANGES_JSON, capture_rows
    from node.persistence.uow import AuditBuffer

    buf = AuditBuffer()
    at = datetime(2026, 3, 2, 9, 0, tzinfo=CST)
    capture_rows(buf, "cases", "insert", [{"id": 5, "applicant_name": "李四", "submitted_at": at, "form": {"k": "v"}}])
    (entry,) = buf.entries
    assert entry[CHANGES_JSON] == canonical({"id": 5, "applicant_name": "李四", "submitted_at": at.isoformat(),
                                             "form": {"k": "v"}})
    plain = {k: v for k, v in entry.items() if k != CHANGES_JSON}
    assert payload_parts(entry, at.isoformat(), "clerk") == payload_parts(plain, at.isoformat(), "clerk")
    prefix, suffix = payload_parts(entry, at.isoformat(), "clerk")
    assert prefix + b"42" + suffix == canonical({"seq": 42, "at": at.isoformat(), "actor": "clerk", **plain})
