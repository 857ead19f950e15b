"""Database ids are 32-bit on every backend: bigger numbers are refused by the schema (422 naming the field)
or by the URL rule (404), never by the database (a 500)."""
from marshmallow import fields, validate

MAX_ID = 2**31 - 1
ID_RANGE = validate.Range(1, MAX_ID, error="an id is a whole number from {min} to {max}")


def Id(**kw: object) -> fields.Integer:  # noqa: N802 - reads like a field class
    return fields.Integer(validate=ID_RANGE, **kw)  # type: ignore[arg-type]
