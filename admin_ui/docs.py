"""The API documentation (Swagger UI) at ``/docs``, its assets served by the node (no CDN):
Swagger UI's files come from the ``swagger-ui-bundle`` package, the start-up script is a static
file of ours (the pages' Content-Security-Policy allows no inline script)."""
from __future__ import annotations

from flask import Blueprint, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

bp = Blueprint("docs", __name__, template_folder="templates")
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                    "favicon-32x32.png", "favicon-16x16.png"})


@bp.get("/docs")
def docs():  # type: ignore[no-untyped-def]
    return render_template("docs.html")


@bp.get("/docs/assets/<name>")
def asset(name: str):  # type: ignore[no-untyped-def]
    if name not in ASSETS:
        return "not found", 404
    return send_from_directory(swagger_ui_path, name, max_age=86400)
