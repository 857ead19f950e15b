"""The node's web pages (简体中文), served by the node itself: the applicant portal (public), the
staff pages under ``/staff`` (window, department desk, hall admin, inspector dashboard) and the API
documentation (``/docs``).

Pages call ``node.services`` only, never the database directly; what a role may do is asked of the
one policy (``node.domain.policy``) through ``admin_ui.session.may``.
"""
from __future__ import annotations

import importlib

from flask import Flask

PAGE_MODULES = ("window", "desk", "hall_admin", "inspector")
"""Modules adding their routes to the staff blueprint."""


def register(app: Flask) -> None:
    from . import docs, portal, session, staff

    session.install(app, app.extensions["yiwang"].settings)
    for name in PAGE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    app.register_blueprint(portal.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(docs.bp)
