"""What a revocation fixes: the highest sequence number accepted under each key of a node.

``yiwang federation revoke`` runs at the province, which signs the directory; it reads from its
own database how far it had accepted the node's records under each key (``accepted_under``) and
writes that into the revocation as ``last_seq``. Receivers then refuse any later record under the
key, however it is dated (``directory.KeyEntry.valid_for``). A city that holds more of a county's
records than the province has yet seen keeps them, but the province will not accept those beyond
``last_seq``: give ``--last-seq`` (the city's cursor, from its ``fed_heads``) to let them through.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from node.persistence.models import FedRecord


def accepted_under(session: Session, origin: str, key_ids: Iterable[str]) -> dict[str, int]:
    """key id -> the highest seq of ``origin`` held here signed with it (0: none)."""
    rows = dict(session.execute(select(FedRecord.key_id, func.max(FedRecord.seq))
                                .where(FedRecord.origin == origin).group_by(FedRecord.key_id)).all())
    return {k: int(rows.get(k) or 0) for k in key_ids}
