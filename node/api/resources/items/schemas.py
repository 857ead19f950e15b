from typing import Any

from marshmallow import Schema, fields, post_load, validate

from node.api.ids import Id
from node.api.spec import Unique
from node.domain.items import FILE_TYPES, MAX_STAGE_DEPARTMENTS, MAX_STAGES, POWER_CODE, ItemKind, StageKind
from node.domain.joint import MAX_FIELDS, MAX_PARTS, DecisionRule
from node.domain.roles import STAGE_ROLES

DAYS = validate.Range(0, 3650)


class MaterialDefSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_\-]{1,40}$"))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    form = fields.String(load_default="original", validate=validate.OneOf(["original", "copy", "original_and_copy"]),
                         metadata={"description": "原件 original / 复印件 copy"})
    copies = fields.Integer(load_default=1, validate=validate.Range(1, 20))
    requirement = fields.String(load_default="required", validate=validate.OneOf(["required", "conditional"]))
    condition = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    file_types = fields.List(fields.String(validate=validate.OneOf(sorted(FILE_TYPES))), load_default=list,
                             validate=Unique())


class FeeSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    amount_fen = fields.Integer(required=True, validate=validate.Range(0, 10**12),
                                metadata={"description": "amount in fen (分), integer"})
    basis = fields.String(load_default="", validate=validate.Length(max=500))


class StageDefSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in StageKind]))
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))
    time_limit_days = fields.Integer(required=True, validate=DAYS)
    role = fields.String(required=True, validate=validate.OneOf(sorted(r.value for r in STAGE_ROLES)))
    departments = fields.List(fields.String(validate=validate.Length(1, 20)), load_default=None,
                              validate=[validate.Length(max=MAX_STAGE_DEPARTMENTS), Unique()], metadata={
                                  "description": "joint_review / joint_inspection only: the departments (codes) "
                                                 "that each sign the stage"})

    @post_load
    def _drop_empty(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("departments") is None:
            data.pop("departments", None)
        return data


class PartDefSchema(Schema):
    item_code = fields.String(required=True, validate=validate.Length(1, 40),
                              metadata={"description": "an item of this hall's catalog, of its own department "
                                                       "(or of the node named by `node`)"})
    node = fields.String(validate=validate.Regexp(r"^\d{6}$", error="a division code (six digits)"),
                         metadata={"description": "市区两级联动: the node that owns the part (its item is that node's); "
                                                  "omitted for a part of this hall"})


class FieldMapSchema(Schema):
    part = fields.String(required=True, validate=validate.Length(1, 40), metadata={"description": "a part's item code"})
    field = fields.String(required=True, validate=validate.Length(1, 64), metadata={"description": "its form field"})


class FormFieldSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 64))
    label = fields.String(required=True, validate=validate.Length(1, 200))
    required = fields.Boolean(load_default=False)
    maps_to = fields.List(fields.Nested(FieldMapSchema), required=True, validate=validate.Length(1, MAX_PARTS))


class PrerequisiteDefSchema(Schema):
    item_code = fields.String(required=True, validate=validate.Length(4, 40),
                              metadata={"description": "the power code of the item whose result is required"})
    name = fields.String(required=True, validate=validate.Length(1, 200),
                         metadata={"description": "what it is, e.g. 户外广告设置许可证"})


class ItemContentSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in ItemKind]),
                         metadata={"description": "immediate 即办件, promised 承诺件, joint 联办件, reported 上报件"})
    legal_limit_days = fields.Integer(required=True, validate=DAYS, metadata={"description": "法定时限, working days"})
    promised_limit_days = fields.Integer(required=True, validate=DAYS, metadata={"description": "承诺时限 ≤ legal"})
    materials = fields.List(fields.Nested(MaterialDefSchema), load_default=list,
                            validate=[validate.Length(max=100), Unique("code")])
    stages = fields.List(fields.Nested(StageDefSchema), required=True, validate=validate.Length(1, MAX_STAGES))
    fees = fields.List(fields.Nested(FeeSchema), load_default=list, validate=validate.Length(max=50))
    conditions = fields.String(load_default="", validate=validate.Length(max=5000))
    legal_basis = fields.String(load_default="", validate=validate.Length(max=5000))
    procedure = fields.String(load_default="", validate=validate.Length(max=5000))
    issues_license = fields.Boolean(load_default=False)
    license_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    license_validity_days = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 36500))
    change_note = fields.String(load_default="", validate=validate.Length(max=1000))
    parts = fields.List(fields.Nested(PartDefSchema), validate=validate.Length(max=MAX_PARTS), metadata={
        "description": "a joint item (联办件): its parts, each an item of its own department (at least two)"})
    decision = fields.String(validate=validate.OneOf([r.value for r in DecisionRule]), metadata={
        "description": "a joint item: all_must_approve (any refusal refuses) or independent"})
    form_fields = fields.List(fields.Nested(FormFieldSchema), data_key="fields", attribute="fields",
                              validate=validate.Length(max=MAX_FIELDS), metadata={
        "description": "a bundle (一件事/一表式): the merged form, each field mapped onto the parts' forms"})
    prerequisites = fields.List(fields.Nested(PrerequisiteDefSchema), load_default=list,
                                validate=[validate.Length(max=10), Unique("item_code")], metadata={
                                    "description": "prior approvals verified by their result (前置审批结果验证)"})


class ItemCreateSchema(ItemContentSchema):
    code = fields.String(required=True, validate=[validate.Length(4, 40), validate.Regexp(
        POWER_CODE.pattern, error="a power code (权力编码) is 4-40 characters of digits, capital letters and '-'")],
                         metadata={"description": "权力编码"})
    department_id = Id(load_default=None, allow_none=True)


class ItemUpdateSchema(ItemContentSchema):
    """Only the fields that change; everything else is carried over from the current version."""

    version = fields.Integer(required=True, metadata={"description": "the version you are revising (optimistic lock)"})


class ItemStatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["active", "suspended", "repealed"]))
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class ItemQueryArgsSchema(Schema):
    department_id = Id()
    status = fields.String(validate=validate.OneOf(["active", "suspended", "repealed"]))
    q = fields.String(validate=validate.Length(1, 100))


class ItemSchema(Schema):
    code = fields.Function(lambda v: v.item.code)
    version = fields.Integer()
    status = fields.Function(lambda v: v.item.status)
    department_id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    legal_limit_days = fields.Integer()
    promised_limit_days = fields.Integer()
    materials = fields.List(fields.Nested(MaterialDefSchema))
    stages = fields.List(fields.Nested(StageDefSchema))
    fees = fields.List(fields.Nested(FeeSchema))
    conditions = fields.String()
    legal_basis = fields.String()
    procedure = fields.String()
    issues_license = fields.Boolean()
    license_name = fields.String(allow_none=True)
    license_validity_days = fields.Integer(allow_none=True)
    change_note = fields.String()
    parts = fields.List(fields.Nested(PartDefSchema), allow_none=True)
    decision = fields.String(allow_none=True)
    form_fields = fields.List(fields.Nested(FormFieldSchema), allow_none=True, data_key="fields", attribute="fields")
    prerequisites = fields.List(fields.Nested(PrerequisiteDefSchema))
    published_at = fields.DateTime()
