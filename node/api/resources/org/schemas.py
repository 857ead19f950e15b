from marshmallow import Schema, fields, validate

from node.api.ids import Id
from node.domain.roles import Role
from node.domain.units import UNIT_KINDS


class DepartmentCreateSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_\-]{2,32}$",
                         error="2-32 lower-case letters, digits, '-' or '_'"))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    kind = fields.String(load_default="department", validate=validate.OneOf(list(UNIT_KINDS)), metadata={
        "description": "department; town (镇) or subdistrict (街道): units with their own staff and items; "
                       "service_point: a village service point (its agents submit for villagers)"})
    parent_unit_id = Id(load_default=None, allow_none=True, metadata={
        "description": "a service point's town or sub-district office (departments and towns: empty)"})


class DepartmentSchema(DepartmentCreateSchema):
    id = fields.Integer()


class DepartmentUpdateSchema(Schema):
    parent_unit_id = Id(required=True, allow_none=True, metadata={
        "description": "the town or sub-district office the service point belongs to (null: none)"})


class StaffCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.\-]{3,64}$",
                             error="3-64 letters, digits, '.', '-' or '_'"))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    password = fields.String(required=True, load_only=True, validate=validate.Length(
        8, 256, error="密码需要 {min} 到 {max} 个字符 / a password needs {min} to {max} characters"), metadata={
        "description": "8-256 characters, not containing the user name, not one character repeated, not a run "
                       "(12345678), not a common or easily guessed password (node.domain.passwords)"})
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    department_id = Id(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\+?\d{5,20}$"))


class StaffUpdateSchema(Schema):
    backup_id = Id(allow_none=True)
    absent = fields.Boolean()
    active = fields.Boolean()
