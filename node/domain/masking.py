"""Personal data as it may leave the node: masked display forms for public pages (张*明,
3301**********1234) and keyed hashes for comparison across nodes."""
from __future__ import annotations

import hashlib
import hmac


def mask_name(name: str) -> str:
    name = name or ""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(number: str) -> str:
    n = number or ""
    if len(n) <= 8:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 8) + n[-4:]


def mask_phone(phone: str) -> str:
    p = phone or ""
    if len(p) < 7:
        return "*" * len(p)
    return p[:3] + "*" * (len(p) - 7) + p[-4:]


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of a personal identifier under the federation-wide key: comparable across
    nodes (every node of a province holds the same key), not reversible without the key."""
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
