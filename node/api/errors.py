"""Errors mapped to HTTP in one place; every body names the field and the problem."""
from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import RequestEntityTooLarge

from node.domain.errors import DomainError

log = logging.getLogger("yiwang.api")


def _body(status: int, message: str, errors: dict | None = None, **extra: object):  # type: ignore[no-untyped-def]
    out = {"code": status, "status": HTTPStatus(status).phrase, "message": message,
           "errors": errors or {"json": {"_schema": [message]}}}
    out.update(extra)
    resp = jsonify(out)
    resp.status_code = status
    return resp


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(e: DomainError):  # type: ignore[no-untyped-def]
        body = e.body()
        resp = _body(e.status, e.message, body.pop("errors"), **{k: v for k, v in body.items() if k != "message"})
        if e.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="yiwang"'
        return resp

    @app.errorhandler(IntegrityError)
    def _integrity(e: IntegrityError):  # type: ignore[no-untyped-def]
        log.info("integrity error: %s", e.orig)
        return _body(409, "the record conflicts with one that exists already (duplicate or stale reference)")

    @app.errorhandler(StaleDataError)
    def _stale(e: StaleDataError):  # type: ignore[no-untyped-def]
        return _body(409, "someone else changed this record at the same moment; reload and try again",
                     {"json": {"version": ["stale version"]}})

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(e: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
        return _body(413, "the request is larger than this node accepts", {"files": {"file": ["too large"]}})
