"""Database ids are 32-bit on every backend: bigger numbers are refused by the schema (422 naming the field)
or by the URL rule (404), never by the database (a 500)."""
from datetime import datetime, timezone

from marshmallow import fields, validate

MAX_ID = 2**31 - 1
ID_RANGE = validate.Range(1, MAX_ID, error="an id is a whole number from {min} to {max}")


def Id(**kw: object) -> fields.Integer:  # noqa: N802 - reads like a field class
    return fields.Integer(validate=ID_RANGE, **kw)  # type: ignore[arg-type]


class Moment(fields.AwareDateTime):
    """A date-time with its offset that the node can store, convert and compare: years 1900 to
    9998 (a time at the calendar's edge -- 9999-12-31T23:59-14:00 -- overflowed when converted to
    China Standard Time and came out as a 500). Refused with 422 naming the field."""

    default_error_messages = {**fields.AwareDateTime.default_error_messages,
                              "range": "a date-time between the years 1900 and 9998"}

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> datetime:
        dt = super()._deserialize(value, attr, data, **kwargs)
        try:
            inside = 1900 <= dt.astimezone(timezone.utc).year <= 9998
        except OverflowError:
            inside = False
        if not inside:
            raise self.make_error("range")
        return dt
