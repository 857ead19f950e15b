from marshmallow import Schema, fields, validate


class PingSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(1, 64))


class PongSchema(Schema):
    id = fields.Integer()
