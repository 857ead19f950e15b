"""Who the client is, for per-client budgets: the peer address, or — only when the peer is a
trusted reverse proxy (``YIWANG_TRUSTED_PROXIES``) — the address it forwarded.

A client cannot pick its own identity: ``X-Forwarded-For`` is believed only from a trusted peer,
and read from the right (each trusted proxy appends the address it saw), so a value the client
wrote at the left is never taken. IPv6 clients count by /64 (one subscriber's network), since one
subscriber holds a whole /64 and could otherwise change address at will.
"""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from flask import request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in trusted)


def _trusted(addr: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_address(trusted: tuple[str, ...]) -> str:
    """The client's address as this node can vouch for it (IPv6: its /64 network)."""
    nets = _networks(trusted)
    addr = request.remote_addr or "unknown"
    if nets and _trusted(addr, nets):
        hops = [h.strip() for h in ",".join(request.headers.getlist("X-Forwarded-For")).split(",") if h.strip()]
        for hop in reversed(hops):
            addr = hop
            if not _trusted(hop, nets):
                break
    return _aggregate(addr)


def _aggregate(addr: str) -> str:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
