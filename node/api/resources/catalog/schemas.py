from marshmallow import Schema, fields, validate

from node.api.spec import Unique


class MaterialRefSchema(Schema):
    material_code = fields.String(required=True, validate=validate.Length(1, 40))
    upload_id = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{32}$", error="not an upload id"))


class CompletenessArgsSchema(Schema):
    materials = fields.List(fields.Nested(MaterialRefSchema), load_default=list,
                            validate=[validate.Length(max=200), Unique("upload_id")])
    conditional_materials = fields.List(fields.String(validate=validate.Length(1, 40)), load_default=list,
                                        validate=[validate.Length(max=100), Unique()])


class NoticeSchema(Schema):
    item_code = fields.String()
    item_name = fields.String()
    complete = fields.Boolean()
    missing = fields.List(fields.Dict())
    invalid = fields.List(fields.Dict())


class VersionArgsSchema(Schema):
    version = fields.Integer(validate=validate.Range(1, 100000))
