"""Security headers on every response the node sends: its pages, its API, its errors.

- ``Content-Security-Policy``: pages load scripts, styles, images and fonts from the node itself
  only (the pages have no inline script or style: their stylesheet is a static file), so injected
  markup cannot run or pull anything in; the API's JSON is never a document, so it may load
  nothing at all. ``frame-ancestors 'none'`` with ``X-Frame-Options: DENY`` (older browsers)
  stops the pages being framed for click-jacking.
- ``X-Content-Type-Options: nosniff``: an upload served back, or a JSON body, is never sniffed
  into HTML or script.
- ``Referrer-Policy: no-referrer``: a page's address (``/track?code=…``) never leaks to another site.
- ``Cache-Control: no-store`` on the API and the pages, which carry personal data (case files,
  masked IDs); static files keep their own caching.

Written by hand rather than with flask-talisman: these few fixed headers need no dependency, and
talisman's defaults (forcing HTTPS redirects, session-cookie settings) do not fit a node that sits
behind a TLS-terminating proxy and runs on plain loopback in tests.
"""
from __future__ import annotations

from flask import Flask, Response, request

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
COMMON = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _secure(response: Response) -> Response:
    for name, value in COMMON.items():
        response.headers.setdefault(name, value)
    api = request.path.startswith("/api/")
    response.headers.setdefault("Content-Security-Policy", API_CSP if api else PAGE_CSP)
    if "Cache-Control" not in response.headers and not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def install_security_headers(app: Flask) -> None:
    """Every response, errors included (Flask runs ``after_request`` for them too)."""
    app.after_request(_secure)
