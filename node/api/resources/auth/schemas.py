from marshmallow import Schema, fields, validate


class TokenCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, validate=validate.Length(1, 256), load_only=True)


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    role = fields.String()
    department_id = fields.Integer(allow_none=True)
    backup_id = fields.Integer(allow_none=True)
    absent = fields.Boolean()


class TokenSchema(Schema):
    token = fields.String()
    token_type = fields.String()
    staff = fields.Nested(MeSchema)
