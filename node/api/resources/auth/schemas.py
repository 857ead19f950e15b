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


class WhoAmISchema(MeSchema):
    may = fields.List(fields.String(), metadata={
        "description": "what the policy lets this account do (node.domain.policy.Action), so a page shows only "
                       "the buttons that will work; rules that depend on the record (own department, "
                       "own request, an assigned case) are checked again when it acts"})


class TokenSchema(Schema):
    token = fields.String()
    token_type = fields.String()
    staff = fields.Nested(MeSchema)
