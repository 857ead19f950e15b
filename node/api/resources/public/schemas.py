from marshmallow import Schema, fields, validate

from node.api.resources.cases.schemas import LicenseViewSchema, MaterialRefSchema, StageViewSchema
from node.api.spec import Unique
from node.services.case_schema import JointViewSchema, PartOfSchema

LAST4 = fields.String(required=True, validate=validate.Regexp(r"^[0-9Xx]{4}$|^[0-9A-Za-z]{4}$",
                      error="the last 4 characters of the applicant's ID number"))


class LookupArgsSchema(Schema):
    id_last4 = LAST4


class SubmittedSchema(Schema):
    code = fields.String(metadata={"description": "统一服务监管码: keep it to follow the case"})
    status = fields.String()
    item_code = fields.String()


class ProgressSchema(Schema):
    event = fields.String()
    to_status = fields.String()
    stage = fields.String(allow_none=True)
    occurred_at = fields.DateTime()


class PublicCaseSchema(Schema):
    code = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    applicant_name = fields.String()
    applicant_id_number = fields.String()
    applicant_phone = fields.String()
    status = fields.String()
    stage = fields.Nested(StageViewSchema, allow_none=True)
    stages = fields.List(fields.Nested(StageViewSchema))
    submitted_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)
    concluded_at = fields.DateTime(allow_none=True)
    promised_deadline = fields.Date(allow_none=True)
    result = fields.String(allow_none=True)
    result_reason = fields.String(allow_none=True)
    license = fields.Nested(LicenseViewSchema, allow_none=True)
    progress = fields.List(fields.Nested(ProgressSchema))
    rated = fields.Boolean()
    joint = fields.Nested(JointViewSchema, allow_none=True, metadata={"description": "a joint case's parts"})
    part_of = fields.Nested(PartOfSchema, allow_none=True)


class SupplySchema(Schema):
    id_last4 = LAST4
    materials = fields.List(fields.Nested(MaterialRefSchema), required=True,
                            validate=[validate.Length(1, 200), Unique("upload_id")])


class WithdrawSchema(Schema):
    id_last4 = LAST4
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class EvaluationCreateSchema(Schema):
    id_last4 = LAST4
    score = fields.Integer(required=True, validate=validate.Range(1, 5))
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class EvaluationSchema(Schema):
    score = fields.Integer()
    comment = fields.String(allow_none=True)
    created_at = fields.DateTime()
