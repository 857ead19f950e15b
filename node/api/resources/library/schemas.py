from marshmallow import Schema, fields, validate

from node.api.ids import Moment
from node.api.spec import Unique
from node.services.case_schema import CaseSchema


class LibraryCaseQueryArgsSchema(Schema):
    region = fields.String(validate=validate.Regexp(r"^\d{2,6}$"), metadata={"description": "division prefix, e.g. 3301"})
    department = fields.String(validate=validate.Length(1, 32))
    item_code = fields.String(validate=validate.Length(1, 40))
    status = fields.String(validate=validate.Length(1, 20))
    stage = fields.String(validate=validate.OneOf(["accept", "undertake", "review", "approve", "conclude"]))
    channel = fields.String(validate=validate.OneOf(["online", "window", "agent"]),
                            metadata={"description": "online, window, or agent (a village service point's agent)"})
    joint_code = fields.String(validate=validate.Length(1, 32),
                               metadata={"description": "a joint case's service code: the joint case and all its parts"})
    service_point = fields.String(validate=validate.Length(1, 32),
                                  metadata={"description": "a village service point's unit code (e.g. kq-bm)"})
    since = Moment()
    until = Moment()
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class ProvenanceMixin(Schema):
    signed_by = fields.String(metadata={"description": "the node that signed the record"})
    key_id = fields.String()
    record_seq = fields.Integer()
    signed_at = fields.DateTime()
    record_hash = fields.String()


class LibraryCaseSchema(ProvenanceMixin):
    service_code = fields.String()
    origin = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    department_code = fields.String()
    department_name = fields.String()
    status = fields.String()
    stage_kind = fields.String()
    stage_name = fields.String()
    last_event = fields.String()
    last_event_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    concluded_at = fields.DateTime(allow_none=True)
    legal_deadline = fields.Date(allow_none=True)
    promised_deadline = fields.Date(allow_none=True)
    stage_deadline = fields.Date(allow_none=True)
    result = fields.String(allow_none=True)
    applicant_name_masked = fields.String()
    channel = fields.String(allow_none=True, metadata={"description": "online, window or agent"})
    joint_code = fields.String(allow_none=True, metadata={"description": "the joint case (联办件) this case belongs to"})
    part_no = fields.Integer(allow_none=True, metadata={"description": "its part number (0: the joint case itself)"})
    service_point = fields.String(allow_none=True,
                                  metadata={"description": "the village service point (unit code) it was submitted through"})


class LibraryCasePageSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(LibraryCaseSchema))


class LicenseVerifyArgsSchema(Schema):
    holder_id_number = fields.String(validate=validate.Length(4, 32),
                                     metadata={"description": "check the holder too (compared as a keyed hash)"})
    on = fields.Date(metadata={"description": "validity on this date (default today)"})


class LicenseVerdictSchema(Schema):
    number = fields.String()
    found = fields.Boolean()
    valid = fields.Boolean()
    problem = fields.String()
    problems = fields.List(fields.String())
    name = fields.String()
    holder = fields.String()
    holder_matches = fields.Boolean(allow_none=True)
    issuing_department = fields.String()
    valid_from = fields.Date()
    valid_until = fields.Date(allow_none=True)
    status = fields.String()
    service_code = fields.String()
    digest = fields.String()
    signed_by = fields.String()
    key_id = fields.String()
    record_seq = fields.Integer()
    signed_at = fields.DateTime()


class LicenseCompareSchema(Schema):
    numbers = fields.List(fields.String(validate=validate.Length(1, 40)), required=True,
                          validate=[validate.Length(1, 50), Unique()])
    holder_id_number = fields.String(validate=validate.Length(4, 32))
    on = fields.Date()


class LicenseComparisonSchema(Schema):
    on = fields.Date()
    all_found = fields.Boolean()
    all_valid = fields.Boolean()
    same_holder = fields.Boolean()
    licenses = fields.List(fields.Nested(LicenseVerdictSchema))


class CaseDetailArgsSchema(Schema):
    purpose = fields.String(required=True, validate=validate.Length(1, 500))


class CaseFileDiscrepancySchema(Schema):
    field = fields.String(metadata={"description": "the case file's field, e.g. accepted_at or transitions[1].occurred_at"})
    case_file = fields.Raw(allow_none=True, metadata={"description": "what the owner's file says now"})
    signed_record = fields.Raw(allow_none=True, metadata={"description": "what the owner signed at the time"})
    record = fields.String(metadata={"description": "the signed record, origin#seq"})


class LibraryCaseFileSchema(Schema):
    case = fields.Nested(CaseSchema, metadata={"description": "the owner's case file: its staff API's case, "
                                                              "the applicant's ID number and phone masked"})
    served_by = fields.String(metadata={"description": "the owning node that served the file"})
    fetched_at = fields.AwareDateTime()
    requested_by = fields.String(metadata={"description": "the inspector who asked (audited here and at the owner)"})
    purpose = fields.String()
    signed_record = fields.Nested(ProvenanceMixin, metadata={"description": "the library's latest signed record of the case"})
    discrepancies = fields.List(fields.Nested(CaseFileDiscrepancySchema), metadata={
        "description": "every difference between the file and the signed records (empty: they agree)"})
