"""Errors mapped to HTTP in one place; every body names the field and the problem.

Every error body has the same shape: ``{"code", "status", "message", "errors": {location: {field:
[message]}}}`` — domain errors, webargs/marshmallow validation (422), malformed JSON (400) and
plain HTTP errors (404, 405, ...) alike. Text the database cannot store (NUL characters, lone UTF-16
surrogates) is refused at the door with 422 naming the field, before any query sees it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any, cast

from flask import Flask, jsonify, request
from marshmallow import INCLUDE, Schema, fields
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from node.domain.errors import DomainError, Locked

log = logging.getLogger("yiwang.api")


class ErrorSchema(Schema):
    """The error body (documentation only: bodies are built by the handlers below)."""

    class Meta:
        unknown = INCLUDE  # some errors add context, e.g. an illegal transition's allowed events

    code = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = fields.String(required=True, metadata={"description": "HTTP status phrase"})
    message = fields.String(required=True, metadata={"description": "what is wrong, in words a clerk understands"})
    errors = fields.Dict(
        keys=fields.String(), values=fields.Dict(), required=True,
        metadata={"description": "by location (json, query, path, files, form): field -> messages (nested for "
                                 "nested fields; '_schema' for the request as a whole)"})
    state = fields.String(metadata={"description": "illegal transition: the case's state"})
    allowed_transitions = fields.List(fields.String(), metadata={"description": "illegal transition: allowed events"})
    retry_after = fields.Integer(metadata={"description": "429/423: seconds until the next attempt is allowed "
                                                          "(also the Retry-After header)"})


def _body(status: int, message: str, errors: dict | None = None, **extra: object):  # type: ignore[no-untyped-def]
    out = {"code": status, "status": HTTPStatus(status).phrase, "message": message,
           "errors": errors or {"json": {"_schema": [message]}}}
    out.update(extra)
    resp = jsonify(out)
    resp.status_code = status
    return resp


def _first(errors: Any, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """The first (dotted field path, message) in a marshmallow-style error tree."""
    if isinstance(errors, dict):
        for k, v in errors.items():
            found = _first(v, path if k == "_schema" else (*path, str(k) or '""'))
            if found:
                return found
    elif isinstance(errors, (list, tuple)):
        for v in errors:
            if isinstance(v, str):
                return ".".join(path), v
            found = _first(v, path)
            if found:
                return found
    elif isinstance(errors, str):
        return ".".join(path), errors
    return None


def _validation_body(e: HTTPException, messages: dict):  # type: ignore[no-untyped-def]
    """webargs' 422 (field errors) or 400 (body is not JSON), in the common shape."""
    errors = {loc: (v if isinstance(v, dict) else {"_schema": list(v) if isinstance(v, (list, tuple)) else [str(v)]})
              for loc, v in messages.items()}
    located = next(((loc, found) for loc, v in errors.items() if (found := _first(v))), None)
    if e.code == 400 and "json" in messages and not isinstance(messages["json"], dict):
        message = "the request body is not valid JSON"
    elif located is None:
        message = e.description or HTTPStatus(e.code or 422).phrase
    else:
        loc, (field, msg) = located
        count = sum(1 for _ in _leaves(errors))
        message = f"{field or loc}: {msg}" + (f" (and {count - 1} more)" if count > 1 else "")
    return _body(e.code or 422, message, errors)


def _leaves(errors: Any) -> Iterator[str]:
    if isinstance(errors, dict):
        for v in errors.values():
            yield from _leaves(v)
    elif isinstance(errors, (list, tuple)):
        for v in errors:
            if isinstance(v, str):
                yield v
            else:
                yield from _leaves(v)


BAD_TEXT = "contains a character that cannot be stored (NUL or a lone UTF-16 surrogate)"


def _bad_text(s: str) -> bool:
    if "\x00" in s:
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _safe_key(k: object) -> str:
    return str(k).encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _find_bad_text(value: Any) -> list[str] | None:
    """Path (marshmallow-style keys) to the first string or key that cannot be stored, else None."""
    if isinstance(value, str):
        return [] if _bad_text(value) else None
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and _bad_text(k):
                return [_safe_key(k), "key"]
            sub = _find_bad_text(v)
            if sub is not None:
                return [_safe_key(k), *sub]
    elif isinstance(value, list):
        for i, v in enumerate(value):
            sub = _find_bad_text(v)
            if sub is not None:
                return [str(i), *sub]
    return None


def _nest(path: list[str], message: str) -> dict:
    out: Any = [message]
    for key in reversed(path or ["_schema"]):
        out = {key: out}
    return out  # type: ignore[no-any-return]


MAX_JSON_DEPTH = 32
"""No request of this API nests deeper; a deeper body (1,000 levels made the parser recurse until
it failed with a 500) is refused before it is parsed."""


def _json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether ``body`` opens more than ``limit`` arrays/objects at once (brackets inside strings
    do not count). Only bodies holding more than ``limit`` brackets are walked at all."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for ch in body:
        if in_string:
            if escaped:
                escaped = False
            elif ch == 0x5C:  # backslash
                escaped = True
            elif ch == 0x22:
                in_string = False
        elif ch == 0x22:
            in_string = True
        elif ch in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif ch in (0x5D, 0x7D):
            depth -= 1
    return False


def _refuse_unstorable_text():  # type: ignore[no-untyped-def]
    sources: list[tuple[str, Any]] = [("path", request.view_args or {}),
                                      ("query", request.args.to_dict(flat=False))]
    if request.is_json and _json_depth_exceeds(request.get_data(cache=True), MAX_JSON_DEPTH):
        msg = f"the JSON body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep"
        return _body(400, msg, {"json": {"_schema": [msg]}})
    if request.is_json:
        # A NUL or a lone surrogate reaches a JSON string only as a \u escape, as bytes the UTF-8
        # decoder passes for surrogates (lead byte 0xED) or in a UTF-16/32 body (NUL bytes): a
        # body with none of these has no string worth walking.
        body = request.get_data(cache=True)
        if b"\\u" in body or b"\xed" in body or b"\x00" in body:
            sources.append(("json", request.get_json(silent=True)))
    elif request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        sources.append(("files", {k: [f.filename or "" for f in request.files.getlist(k)] for k in request.files}))
        sources.append(("form", request.form.to_dict(flat=False)))
    for location, data in sources:
        path = _find_bad_text(data)
        if path is None:
            continue
        if location in ("query", "form", "files") and len(path) > 1:
            path = path[:1]  # multi-dict values come as lists: name the parameter
        field = ".".join(path[:-1] if path and path[-1] == "key" else path) or "_schema"
        return _body(422, f"{field}: {BAD_TEXT}", {location: _nest(path, BAD_TEXT)})
    return None


def register_error_handlers(app: Flask) -> None:
    app.before_request(_refuse_unstorable_text)

    @app.errorhandler(DomainError)
    def _domain(e: DomainError):  # type: ignore[no-untyped-def]
        body = e.body()
        errors = cast(dict, body.pop("errors"))  # DomainError.body() always puts a dict there
        resp = _body(e.status, e.message, errors, **{k: v for k, v in body.items() if k != "message"})
        if e.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="yiwang"'
        retry_after = getattr(e, "retry_after", None)
        if retry_after is not None:
            resp.headers["Retry-After"] = str(retry_after)
        return resp

    def _upload_taken(message: str) -> bool:
        """The partial unique index of bound uploads (PostgreSQL names it; SQLite the column)."""
        return "uq_case_materials_bound_upload" in message or "case_materials.upload_id" in message

    @app.errorhandler(IntegrityError)
    def _integrity(e: IntegrityError):  # type: ignore[no-untyped-def]
        log.info("integrity error: %s", e.orig)
        if _upload_taken(str(e.orig)):
            msg = "a file this application names was just taken by another application, or has expired: upload it again"
            return _body(409, msg, {"json": {"materials": [msg]}})
        return _body(409, "the record conflicts with one that exists already (duplicate or stale reference)")

    @app.errorhandler(StaleDataError)
    def _stale(e: StaleDataError):  # type: ignore[no-untyped-def]
        return _body(409, "someone else changed this record at the same moment; reload and try again",
                     {"json": {"version": ["stale version"]}})

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(e: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
        return _body(413, "the request is larger than this node accepts", {"files": {"file": ["too large"]}})

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):  # type: ignore[no-untyped-def]
        """webargs validation (422), malformed JSON (400), unknown routes (404), wrong methods (405) ..."""
        data = getattr(e, "data", None) or {}
        messages = data.get("errors") or data.get("messages")
        if isinstance(messages, dict) and messages:
            resp = _validation_body(e, messages)
        else:
            status = e.code or 500
            resp = _body(status, data.get("message") or e.description or HTTPStatus(status).phrase)
        for k, v in e.get_headers():
            if k.lower() != "content-type":
                resp.headers[k] = v
        for k, v in (data.get("headers") or {}).items():
            resp.headers[k] = v
        return resp
