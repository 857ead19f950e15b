from marshmallow import Schema, fields, validate

from node.api.ids import Id, Moment
from node.api.resources.catalog.schemas import MaterialRefSchema, NoticeSchema  # noqa: F401
from node.api.spec import Unique
from node.domain.identity import ID_TYPES
from node.domain.lifecycle import Event, Processing, Result, Status
from node.services.case_schema import (  # noqa: F401 - the one schema of a case, shared with the case file
    ApplicantViewSchema,
    CaseSchema,
    LicenseViewSchema,
    MaterialViewSchema,
    StageViewSchema,
    TransitionViewSchema,
)

TEXT = validate.Length(max=2000)


class ApplicantSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    id_type = fields.String(load_default="resident_id", validate=validate.OneOf(ID_TYPES))
    id_number = fields.String(required=True, validate=validate.Length(4, 32), metadata={"description": (
        "resident_id: 18 characters, the last a check digit or X (GB 11643, checked); uscc: 18 characters of "
        "digits and capital letters except I, O, S, V, Z, the last a check character (GB 32100, checked); "
        "passport, other: 4-32 letters, digits or '-'. A number that fails is refused (422 naming the field).")})
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\+?\d{5,20}$",
                          error="digits only, e.g. 13800000000"))
    org = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200),
                        metadata={"description": "the enterprise applying, if any"})


class PrerequisiteEntrySchema(Schema):
    item_code = fields.String(required=True, validate=validate.Length(1, 40),
                              metadata={"description": "which of the item's prerequisites"})
    license_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 40))
    service_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 40),
                                 metadata={"description": "the earlier case's service code (instead of a license)"})


PREREQUISITES = fields.List(fields.Nested(PrerequisiteEntrySchema), load_default=None, allow_none=True,
                            validate=[validate.Length(max=10), Unique("item_code")], metadata={
                                "description": "per prerequisite of the item (前置审批), the license number or the "
                                               "service code of its result: verified at acceptance"})


class CaseCreateSchema(Schema):
    item_code = fields.String(required=True, validate=validate.Length(1, 40))
    applicant = fields.Nested(ApplicantSchema, required=True)
    form = fields.Dict(keys=fields.String(validate=validate.Length(1, 64)),
                       values=fields.String(validate=validate.Length(max=2000)), load_default=dict,
                       validate=validate.Length(max=100), metadata={"description": "the application form's fields"})
    materials = fields.List(fields.Nested(MaterialRefSchema), load_default=list,
                            validate=[validate.Length(max=200), Unique("upload_id")])
    conditional_materials = fields.List(fields.String(validate=validate.Length(1, 40)), load_default=list,
                                        validate=[validate.Length(max=100), Unique()])
    prerequisites = PREREQUISITES


class WindowCaseCreateSchema(CaseCreateSchema):
    processing = fields.String(load_default="online", validate=validate.OneOf([p.value for p in Processing]),
                               metadata={"description": "online; paper (result recorded online); offline (uploaded later)"})
    accept = fields.Boolean(load_default=False, metadata={"description": "accept (受理) at once, in the same step"})
    green_channel = fields.Boolean(load_default=None, allow_none=True,
                                   metadata={"description": "绿色通道 for a key project (at acceptance; parts inherit it)"})
    agent_staff_id = Id(load_default=None, allow_none=True,
                        metadata={"description": "the free agent (代办员) acting for the applicant (at acceptance)"})


class MissingSchema(Schema):
    material_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    note = fields.String(load_default=None, allow_none=True, validate=TEXT)


class CaseTransitionSchema(Schema):
    event = fields.String(required=True, validate=validate.OneOf([e.value for e in Event
                                                                  if e not in (Event.WITHDRAW, Event.CONCLUDE_JOINT)]))
    version = fields.Integer(required=True, metadata={"description": "the case version you saw (optimistic lock)"})
    reason = fields.String(load_default=None, allow_none=True, validate=TEXT)
    opinion = fields.String(load_default=None, allow_none=True, validate=TEXT)
    occurred_at = Moment(load_default=None, allow_none=True,
                         metadata={"description": "original time, paper/offline cases only"})
    result = fields.String(load_default=None, allow_none=True, validate=validate.OneOf([r.value for r in Result]))
    missing = fields.List(fields.Nested(MissingSchema), load_default=None, allow_none=True,
                          validate=validate.Length(max=100))
    materials = fields.List(fields.Nested(MaterialRefSchema), load_default=None, allow_none=True,
                            validate=[validate.Length(max=200), Unique("upload_id")])
    license_valid_until = fields.Date(load_default=None, allow_none=True)
    prerequisites = PREREQUISITES
    green_channel = fields.Boolean(load_default=None, allow_none=True,
                                   metadata={"description": "accept only: 绿色通道 for a key project"})
    agent_staff_id = Id(load_default=None, allow_none=True,
                        metadata={"description": "accept only: the free agent (代办员) acting for the applicant"})


class PartSupplySchema(Schema):
    materials = fields.List(fields.Nested(MaterialRefSchema), required=True,
                            validate=[validate.Length(1, 200), Unique("upload_id")])


class SignoffCreateSchema(Schema):
    opinion = fields.String(required=True, validate=validate.Length(1, 2000),
                            metadata={"description": "your department's opinion"})


class SignoffSchema(Schema):
    stage_index = fields.Integer()
    department_id = fields.Integer()
    opinion = fields.String()
    signed_by = fields.Integer()
    signed_at = fields.DateTime()


class CaseQueryArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
    item_code = fields.String(validate=validate.Length(1, 40))
    mine = fields.Boolean(load_default=False, metadata={"description": "my work queue, incl. absent A-post's cases"})
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class ClaimSchema(Schema):
    staff_id = Id(load_default=None, allow_none=True)


class ExtensionCreateSchema(Schema):
    days = fields.Integer(required=True, validate=validate.Range(1, 60))
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class ExtensionDecisionSchema(Schema):
    approve = fields.Boolean(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=TEXT)


class ExtensionSchema(Schema):
    id = fields.Integer()
    days = fields.Integer()
    reason = fields.String()
    status = fields.String()
    requested_by = fields.Integer()
    requested_at = fields.DateTime()
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)


class CasePageSchema(Schema):
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()
    items = fields.List(fields.Nested(CaseSchema))
