from marshmallow import Schema, fields, validate


class OrderCreateSchema(Schema):
    case_code = fields.String(required=True, validate=validate.Length(1, 40))
    kind = fields.String(required=True, validate=validate.OneOf(["supervise", "correct"]))
    text = fields.String(required=True, validate=validate.Length(1, 2000))
    due_days = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(1, 60))


class OrderQueryArgsSchema(Schema):
    state = fields.String(validate=validate.OneOf(["issued", "delivered", "responded", "returned", "closed",
                                                   "refused"]))
    case_code = fields.String(validate=validate.Length(1, 40))


class FixSchema(Schema):
    description = fields.String(required=True, validate=validate.Length(1, 2000))
    transition_seq = fields.Integer(required=True, strict=True)


class OrderResponseSchema(Schema):
    text = fields.String(required=True, validate=validate.Length(1, 2000))
    fix = fields.Nested(FixSchema, load_default=None, allow_none=True)


class OrderDecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["close", "return"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 2000))


class OrderSchema(Schema):
    id = fields.Integer()
    ref = fields.String()
    side = fields.String()
    issuer_node = fields.String()
    owner_node = fields.String()
    case_code = fields.String()
    kind = fields.String()
    text = fields.String()
    due_days = fields.Integer(allow_none=True)
    due_date = fields.Date(allow_none=True)
    state = fields.String()
    state_zh = fields.String()
    delivery = fields.String(allow_none=True)
    refusal = fields.String(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    department_code = fields.String(allow_none=True)
    issued_by = fields.String()
    issued_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)
    rounds = fields.Integer()
    response_text = fields.String(allow_none=True)
    fix = fields.Dict(allow_none=True)
    responded_by = fields.String(allow_none=True)
    responded_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
