from marshmallow import Schema, fields, validate


class CalendarArgsSchema(Schema):
    start = fields.Date(required=True)
    days = fields.Integer(load_default=0, validate=validate.Range(0, 3650))


class CalendarSchema(Schema):
    known_years = fields.List(fields.Integer())
    start = fields.Date()
    is_working_day = fields.Boolean()
    days = fields.Integer()
    deadline = fields.Date(metadata={"description": "the date `days` working days after `start`"})


class CalendarImportSchema(Schema):
    years = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^\d{4}$")), values=fields.Dict(),
                        required=True)
    source = fields.String(load_default="", validate=validate.Length(max=1000))
    meaning = fields.String(load_default="", validate=validate.Length(max=2000))


class AuditReportSchema(Schema):
    entries = fields.Integer()
    ok = fields.Boolean()
    first_bad_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
