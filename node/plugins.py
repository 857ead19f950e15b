"""Plugins: the modules named by the entry points of the group ``yiwang.plugins`` (see
``node.ports.Plugin``); the federation is one."""
from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, cast

from node.ports import Plugin

if TYPE_CHECKING:
    from node.services.context import NodeContext

GROUP = "yiwang.plugins"


@functools.cache
def plugins() -> tuple[Plugin, ...]:
    return tuple(cast(Plugin, ep.load()) for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name))


def install(ctx: "NodeContext") -> "NodeContext":
    """Give ``ctx`` the ports every installed plugin provides."""
    for p in plugins():
        p.install(ctx)
    return ctx


def weak_secrets(ctx: "NodeContext") -> list[tuple[str, str]]:
    """(what, how to fix it) for each missing, placeholder or demo secret a plugin holds (see
    ``node.services.secrets``)."""
    out: list[tuple[str, str]] = []
    for p in plugins():
        check = getattr(p, "weak_secrets", None)
        if check is not None:
            out.extend(check(ctx))
    return out
