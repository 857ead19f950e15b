"""What the server checks, stated in the OpenAPI document, so a client generated from it sends
requests the server takes.

The rules live in the marshmallow schemas and the URL converters the server validates with;
apispec turns ``Length``/``OneOf``/``Regexp``/``Range`` into ``maxLength``/``enum``/``pattern``/
``minimum``, and this module adds what apispec cannot see:

- ``service_code`` path parameters (统一服务监管码) carry the format ``servicecode.normalize``
  accepts as a ``pattern`` (the check character is checked too: a 422 names ``code``);
- text the database cannot store (NUL) is refused at the door for every string
  (``api.errors``): every free-text string states ``pattern: ^[^\\u0000]*$``;
- lists the server refuses duplicates in (``Unique``) state ``uniqueItems`` and which key must
  be unique (``x-unique-by``);
- date-times (``Moment``) state the years the server takes.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from flask import Flask
from flask_smorest.spec.plugins import unicodeconverter2paramschema
from marshmallow import ValidationError, fields, validate
from werkzeug.routing import BaseConverter, UnicodeConverter

from node.api.ids import Moment

SERVICE_CODE_ALPHABET = "0-9A-TV-Za-tv-z"  # Crockford base 32, case-insensitive, and its look-alikes I, L, O
SERVICE_CODE_PATTERN = (rf"^\d{{6}}-?\d{{6}}-?[{SERVICE_CODE_ALPHABET}]{{4}}-?[{SERVICE_CODE_ALPHABET}]{{4}}"
                        rf"-?[{SERVICE_CODE_ALPHABET}]$")
SERVICE_CODE_SCHEMA = {
    "type": "string", "pattern": SERVICE_CODE_PATTERN, "minLength": 19, "maxLength": 23,
    "example": "330105-260302-8K3M-QP2X-7",
    "description": "unified service code (统一服务监管码): division, submission date, 8 Crockford base-32 "
                   "characters and a check character, e.g. 330105-260302-8K3M-QP2X-7 (hyphens optional, any "
                   "case; I, L, O read as 1, 1, 0). A code whose check character does not match is refused "
                   "(422 naming `code`).",
}
NO_NUL = "^[^\\u0000]*$"
"""ECMA-262 (OpenAPI's regex dialect): no NUL character. Python's ``re`` reads it alike."""


class ServiceCodeConverter(BaseConverter):
    """A path segment holding a service code. It matches any segment, like ``string``: a
    malformed code is the service's 422 naming ``code`` (``servicecode.normalize``), not a 404."""


def _string_segment(converter: UnicodeConverter) -> dict[str, Any]:
    """A ``<string:…>`` path segment: its bounds (flask-smorest's) and no NUL (``api.errors``)."""
    return {**unicodeconverter2paramschema(converter), "pattern": NO_NUL}


class Unique(validate.Validator):
    """No two elements of a list alike (or, with ``key``, no two with the same ``key``)."""

    def __init__(self, key: str | None = None) -> None:
        self.key = key

    def _keys(self, value: Iterable[Any]) -> Iterable[tuple[int, Hashable]]:
        for i, v in enumerate(value):
            k = v.get(self.key) if self.key is not None and isinstance(v, dict) else v
            if isinstance(k, Hashable):
                yield i, k

    def __call__(self, value: Any) -> Any:
        seen: set[Hashable] = set()
        for i, k in self._keys(value or []):
            if k in seen:
                what = f"{self.key} '{k}'" if self.key else f"'{k}'"
                raise ValidationError(f"{what} is given twice (element {i}); each may appear once")
            seen.add(k)
        return value

    def describe(self) -> str:
        return f"no two elements with the same `{self.key}`" if self.key else "no element twice"


def _attributes(self: Any, field: fields.Field, ret: dict[str, Any], **_kw: Any) -> dict[str, Any]:
    """apispec attribute function: the rules apispec does not derive itself."""
    out: dict[str, Any] = {}
    if isinstance(field, fields.String) and not isinstance(field, (fields.Email, fields.URL, fields.UUID)) \
            and "pattern" not in ret and "enum" not in ret:
        out["pattern"] = NO_NUL
    if isinstance(field, Moment):
        desc = ret.get("description") or field.metadata.get("description")
        rule = "with its UTC offset; years 1900 to 9998"
        out["description"] = f"{desc} ({rule})" if desc else rule
    for v in getattr(field, "validators", []):
        if isinstance(v, Unique):
            out["uniqueItems"] = True
            if v.key is not None:
                out["x-unique-by"] = v.key
                desc = ret.get("description") or field.metadata.get("description")
                out["description"] = f"{desc}; {v.describe()}" if desc else v.describe()
    return out


def document_rules(app: Flask, api: Any) -> None:
    """Register the converter and the attribute function on the flask-smorest ``api`` (before
    the blueprints, whose routes use the converter)."""
    app.url_map.converters["service_code"] = ServiceCodeConverter
    api.register_converter(ServiceCodeConverter, lambda _c: dict(SERVICE_CODE_SCHEMA))
    api.register_converter(UnicodeConverter, _string_segment)
    api.ma_plugin.converter.add_attribute_function(_attributes)
