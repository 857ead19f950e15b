"""``yiwang federation status``: each link's state, readable from any process.

The uplink (in ``yiwang federation serve``) writes its state to ``fed_links`` after its rounds —
the parent's cursor per origin, the last success, the last error and what blocks it — at most
once a second unless something changed; the server notes when each child last called in, at most
every few seconds. The status is computed from those rows and this node's heads, so it costs the
serving process next to nothing and any other process can read it.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from node.domain.divisions import expected_parent, in_subtree
from node.persistence.models import FedHead, FedLink, FedRecord
from node.services.context import as_cst

_REFUSED = re.compile(r"^(?P<code>[a-z_]+): .*\(record (?P<origin>\d{6})#(?P<seq>\d+)\)")


def blocking_of(error: str) -> str:
    """What an uplink error means for the link, in one line: the parent refusing a record is named
    as such ("parent refused #42 of 330105: broken_chain"); anything else is the error itself."""
    m = _REFUSED.match(error)
    if m:
        return f"parent refused #{m['seq']} of {m['origin']}: {m['code']}"
    return error


def save_link(session: Session, peer: str, direction: str, now: datetime, **values: Any) -> None:
    """Create or update the row of one link (in the caller's transaction)."""
    row = session.get(FedLink, peer)
    if row is None:
        row = FedLink(peer=peer, direction=direction, cursors={}, sent=0, failures=0, updated_at=now)
        session.add(row)
    for k, v in values.items():
        setattr(row, k, v)
    row.direction, row.updated_at = direction, now


def parent_of(node_id: str) -> str | None:
    return expected_parent(node_id)


def read_status(session: Session, node_id: str, now: datetime) -> dict[str, Any]:
    """The uplink (None at the province) and the children, as plain values."""
    heads = {h.origin: h for h in session.scalars(select(FedHead))}
    links = {r.peer: r for r in session.scalars(select(FedLink))}
    out: dict[str, Any] = {"node": node_id, "at": now.isoformat(), "uplink": None, "children": []}
    parent = parent_of(node_id)
    if parent is not None:
        link = links.get(parent)
        theirs = dict(link.cursors) if link is not None else {}
        origins = []
        for origin, h in sorted(heads.items()):
            at_parent = int(theirs.get(origin, 0))
            lag = max(0, h.seq - at_parent)
            oldest = None
            if lag:
                oldest = session.scalar(select(FedRecord.stored_at).where(FedRecord.origin == origin,
                                                                          FedRecord.seq == at_parent + 1))
            origins.append({"origin": origin, "ours": h.seq, "parent": at_parent, "lag_records": lag,
                            "lag_seconds": round((now - as_cst(oldest)).total_seconds(), 1) if oldest else 0.0})
        out["uplink"] = {
            "parent": parent, "address": link.address if link else None,
            "last_attempt": _iso(link.last_attempt if link else None),
            "last_success": _iso(link.last_success if link else None),
            "last_error": link.last_error if link else None, "blocking": link.blocking if link else None,
            "sent": link.sent if link else 0, "failures": link.failures if link else 0,
            "state": ("never run" if link is None else "blocked" if link.blocking else
                      "in step" if all(o["lag_records"] == 0 for o in origins) else "behind"),
            "origins": origins}
    from federation.addressed import addressed_status

    out["addressed"] = addressed_status(session, node_id)
    for peer, link in sorted(links.items()):
        if link.direction != "child":
            continue
        out["children"].append({
            "child": peer, "last_contact": _iso(link.last_seen_at or link.last_success),
            "cursors": {o: h.seq for o, h in sorted(heads.items()) if in_subtree(o, peer)}})
    return out


def _iso(dt: datetime | None) -> str | None:
    return as_cst(dt).isoformat(timespec="seconds") if dt else None


def format_status(st: dict[str, Any]) -> list[str]:
    """The status as lines for an admin's terminal."""
    lines = [f"node {st['node']}  (at {st['at'][:19]})"]
    up = st["uplink"]
    if up is None:
        lines.append("uplink    none (the province is the root)")
    else:
        lines.append(f"uplink    -> {up['parent']} at {up['address'] or '?'}: {up['state']}; last success "
                     f"{up['last_success'] or 'never'}, sent {up['sent']}, failures {up['failures']}")
        if up["blocking"]:
            lines.append(f"  blocked: {up['blocking']}")
        elif up["last_error"]:
            lines.append(f"  last error: {up['last_error']}")
        for o in up["origins"]:
            lines.append(f"  {o['origin']}  ours #{o['ours']}  parent #{o['parent']}  lag {o['lag_records']} "
                         f"records, {o['lag_seconds']:.0f} s")
    ad = st.get("addressed")
    if ad:
        for c in ad["down"]:
            lines.append(f"down      <- {c['parent']}: cursor #{c['after']}"
                         + ("; parent too old for addressed records (no PullAddressed)" if c["state"] == "parent_too_old"
                            else ""))
        sent = ", ".join(f"{k} {v}" for k, v in sorted(ad["sent"].items())) or "none"
        lines.append(f"addressed sent: {sent}; held here for children: {ad['held_for_children']}")
        for w in ad["waiting"]:
            lines.append(f"  waiting for {w['to']}: {w['count']} unacknowledged since {w['oldest']}")
    for c in st["children"]:
        curs = ", ".join(f"{o} #{s}" for o, s in c["cursors"].items()) or "nothing yet"
        lines.append(f"child     {c['child']}: last contact {c['last_contact'] or 'never'}; held here: {curs}")
    return lines
