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


class RowDifferenceSchema(Schema):
    table = fields.String()
    key = fields.String()
    problem = fields.String(metadata={"description": "differs, extra (no entry), missing (gone), deleted_but_present"})
    column = fields.String(allow_none=True)
    chain = fields.Raw(allow_none=True, metadata={"description": "the value the audit chain recorded"})
    live = fields.Raw(allow_none=True, metadata={"description": "the value the row holds"})
    seq = fields.Integer(allow_none=True, metadata={"description": "the row's last audit entry"})


class AuditReportSchema(Schema):
    entries = fields.Integer()
    rows = fields.Integer(metadata={"description": "live rows replayed against the chain"})
    ok = fields.Boolean()
    first_bad_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)
    anchor_problems = fields.List(fields.String())
    differences = fields.List(fields.Nested(RowDifferenceSchema))
    more_differences = fields.Integer()
    seconds = fields.Float()


class NotificationSettingSchema(Schema):
    template = fields.String(metadata={"description": "the message kind: submitted, accepted, supplement, refused, "
                                                      "denied, concluded, joint_concluded, joint_withdrawn"})
    text = fields.String(metadata={"description": "the message as sent ({hall}, {item}, {code}, ... filled in)"})
    mandatory = fields.Boolean(metadata={"description": "a notice the applicant must be given: always sent"})
    enabled = fields.Boolean()
    updated_at = fields.DateTime(allow_none=True)
    updated_by = fields.String(allow_none=True)


class NotificationSettingUpdateSchema(Schema):
    enabled = fields.Boolean(required=True, truthy={True}, falsy={False})


class FailedNotificationSchema(Schema):
    id = fields.Integer()
    case_code = fields.String(allow_none=True)
    template = fields.String()
    recipient = fields.String(metadata={"description": "masked phone number"})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()


class OutboxSchema(Schema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(),
                         metadata={"description": "outbox rows by status: pending, sending, sent, failed"})
    failed = fields.List(fields.Nested(FailedNotificationSchema))


class RetriedSchema(Schema):
    id = fields.Integer()
    status = fields.String()
