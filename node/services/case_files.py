"""A case's full file served to a node above this one (an inspector's request over the federation)."""
from __future__ import annotations

from typing import Any

from node.persistence import audit
from node.persistence.cases import load_case

from .context import Work
from .case_schema import CaseSchema
from .views import case_file


def serve_case_file(uow: Work, code: str, by_node: str, requester: str, purpose: str) -> dict[str, Any]:
    """The full case file for a node above this one (the federation checked it is an ancestor):
    the access -- which node, who there, why -- is appended to the audit chain in ``uow``, under
    the asking node's name. Returned as the JSON of ``CaseSchema`` (what travels in ``detail_json``)."""
    case = load_case(uow.session, code)
    uow.audit_actor = f"node:{by_node}"
    audit.record(uow, "cases", str(case.id), "read",
                 {"by_node": by_node, "requester": requester[:80], "purpose": purpose[:500]})
    return CaseSchema().dump(case_file(case, uow.ctx.id_hash_key))
