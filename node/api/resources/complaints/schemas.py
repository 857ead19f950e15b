from marshmallow import Schema, fields, validate


class ComplaintCreateSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 40))
    id_last4 = fields.String(required=True, validate=validate.Length(1, 8))
    text = fields.String(required=True, validate=validate.Length(1, 2000))


class ComplaintFiledSchema(Schema):
    id = fields.Integer()
    case_code = fields.String()
    state = fields.String()
    created_at = fields.DateTime()


class ComplaintQueryArgsSchema(Schema):
    state = fields.String(validate=validate.OneOf(["received", "handling", "concluded"]))


class ComplaintConcludeSchema(Schema):
    finding = fields.String(required=True, validate=validate.OneOf(["substantiated", "partly", "unsubstantiated"]))
    conclusion = fields.String(required=True, validate=validate.Length(1, 2000))


class ComplaintSchema(ComplaintFiledSchema):
    case_id = fields.Integer()
    department_id = fields.Integer()
    text = fields.String()
    finding = fields.String(allow_none=True)
    conclusion = fields.String(allow_none=True)
    handled_by = fields.String(allow_none=True)
    handling_at = fields.DateTime(allow_none=True)
    concluded_at = fields.DateTime(allow_none=True)


class ComplaintCountsSchema(Schema):
    departments = fields.Dict(keys=fields.String(), values=fields.Dict())


class DisputeCreateSchema(Schema):
    joint_code = fields.String(required=True, validate=validate.Length(1, 40))
    part_no = fields.Integer(required=True, strict=True, validate=validate.Range(1, 100))
    text = fields.String(required=True, validate=validate.Length(1, 2000))


class DisputeQueryArgsSchema(Schema):
    state = fields.String(validate=validate.OneOf(["open", "resolved"]))


class DisputeResolveSchema(Schema):
    decision = fields.String(required=True, validate=validate.Length(1, 2000))


class DisputeSchema(Schema):
    id = fields.Integer()
    joint_code = fields.String()
    part_no = fields.Integer()
    department_id = fields.Integer()
    other_departments = fields.List(fields.Integer())
    text = fields.String()
    state = fields.String()
    raised_by = fields.String()
    raised_at = fields.DateTime()
    decision = fields.String(allow_none=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
