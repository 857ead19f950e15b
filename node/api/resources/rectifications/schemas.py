from marshmallow import Schema, fields, validate


class RectificationQueryArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(["open", "closed"]))


class RectificationCloseSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(1, 2000))


class RectificationSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    evaluation_id = fields.Integer()
    department_id = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)
