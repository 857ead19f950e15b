from marshmallow import Schema, fields, validate

from node.api.resources.items.schemas import DAYS, FeeSchema, ItemSchema, MaterialDefSchema, StageDefSchema
from node.domain.items import MAX_STAGES, ItemKind

CHANGES = ["add", "modify", "repeal", "delegate"]
LEVELS = ["province", "city", "county"]
CODE = validate.Regexp(r"^[0-9A-Z][0-9A-Z\-]{3,39}$", error="a power code (权力编码) is 4-40 characters of digits, "
                                                            "capital letters and '-'")


class StandardChangeCreateSchema(Schema):
    """Fields left out of a modify, delegate or repeal are carried over from the current standard."""

    change = fields.String(required=True, validate=validate.OneOf(CHANGES),
                           metadata={"description": "add 新增, modify 变更, repeal 取消, delegate 下放"})
    item_code = fields.String(required=True, validate=CODE, metadata={"description": "权力编码"})
    name = fields.String(validate=validate.Length(1, 200))
    legal_limit_days = fields.Integer(validate=DAYS, metadata={"description": "法定时限, working days"})
    kind = fields.String(validate=validate.OneOf([k.value for k in ItemKind]))
    level = fields.String(validate=validate.OneOf(LEVELS), metadata={"description": "the level that handles it"})
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class StandardChangeQueryArgsSchema(Schema):
    item_code = fields.String(validate=validate.Length(1, 40))
    pending = fields.Boolean(load_default=False,
                             metadata={"description": "only items whose latest change awaits adoption here"})


class FieldChangeSchema(Schema):
    field = fields.String()
    from_ = fields.Raw(data_key="from", attribute="from", allow_none=True)
    to = fields.Raw(allow_none=True)


class LocalItemSchema(Schema):
    department_id = fields.Integer()
    status = fields.String()
    version = fields.Integer()
    name = fields.String(allow_none=True)
    legal_limit_days = fields.Integer(allow_none=True)
    promised_limit_days = fields.Integer(allow_none=True)


class StandardChangeSchema(Schema):
    publisher = fields.String()
    seq = fields.Integer()
    change = fields.String()
    item_code = fields.String()
    name = fields.String()
    legal_limit_days = fields.Integer()
    kind = fields.String()
    level = fields.String()
    note = fields.String()
    key_id = fields.String()
    published_at = fields.DateTime()
    received_at = fields.DateTime()
    diff = fields.List(fields.Nested(FieldChangeSchema), metadata={"description": "what changed vs the item's "
                                                                                  "previous change"})
    summary = fields.String()
    applies_here = fields.Boolean(metadata={"description": "the change concerns this node's level"})
    latest = fields.Boolean(metadata={"description": "the item's latest change"})
    adopted = fields.Boolean()
    action = fields.String(allow_none=True, metadata={
        "description": "latest changes: what adopting does here (publish, revise, repeal, retire, acknowledge)"})
    reason = fields.String(metadata={"description": "why the item cannot be adopted here"})
    local = fields.Nested(LocalItemSchema, allow_none=True)


class StandardAdoptionSchema(Schema):
    """Localization: the name, legal limit and kind come from the standard. Fields left out of a
    revision are carried over from the local item; a new local item needs promised limit and stages."""

    department_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    promised_limit_days = fields.Integer(validate=DAYS, metadata={"description": "承诺时限 ≤ legal"})
    stages = fields.List(fields.Nested(StageDefSchema), validate=validate.Length(1, MAX_STAGES))
    materials = fields.List(fields.Nested(MaterialDefSchema), validate=validate.Length(max=100))
    fees = fields.List(fields.Nested(FeeSchema), validate=validate.Length(max=50))
    conditions = fields.String(validate=validate.Length(max=5000))
    legal_basis = fields.String(validate=validate.Length(max=5000))
    procedure = fields.String(validate=validate.Length(max=5000))
    issues_license = fields.Boolean()
    license_name = fields.String(allow_none=True, validate=validate.Length(max=100))
    license_validity_days = fields.Integer(allow_none=True, validate=validate.Range(1, 36500))
    change_note = fields.String(validate=validate.Length(max=1000))


class AdoptionSchema(Schema):
    item_code = fields.String()
    publisher = fields.String()
    seq = fields.Integer(metadata={"description": "the standard change adopted (and every earlier one of the item)"})
    change = fields.String()
    action = fields.String(metadata={"description": "publish, revise, repeal, retire or acknowledge"})
    item = fields.Nested(ItemSchema, allow_none=True)
