from marshmallow import Schema, fields, validate

from node.api.resources.library.schemas import LibraryCaseSchema
from node.domain.lights import LIGHTS
from node.services.supervision import MAX_PAGE

CHANNELS = ["online", "window", "agent"]


class FilterArgsSchema(Schema):
    region = fields.String(validate=validate.Regexp(r"^\d{2,6}$", error="a region is 2-6 leading digits of a "
                                                                        "division code, e.g. 3301"),
                           metadata={"description": "division prefix inside this node's subtree, e.g. 3301"})
    department = fields.String(validate=validate.Length(1, 32))
    channel = fields.String(validate=validate.OneOf(CHANNELS),
                            metadata={"description": "online, window, or agent (a village service point's agent)"})


class ListArgsSchema(FilterArgsSchema):
    item_code = fields.String(validate=validate.Length(1, 40))
    stage = fields.String(validate=validate.Length(1, 20), metadata={"description": "stage kind, e.g. review"})
    scope = fields.String(load_default="case", validate=validate.OneOf(["case", "stage"]),
                          metadata={"description": "case: the case's limit (promised, else legal); stage: the current stage's"})
    cursor = fields.String(validate=validate.Length(1, 200), metadata={"description": "next_cursor of the page before"})
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, MAX_PAGE))


class LightListArgsSchema(ListArgsSchema):
    light = fields.String(required=True, validate=validate.OneOf(list(LIGHTS)))


class SupervisedCaseSchema(LibraryCaseSchema):
    due_on = fields.Date(allow_none=True, metadata={"description": "the deadline the case light is against"})
    light = fields.String(allow_none=True, metadata={"description": "green, yellow, red, on_time, late"})
    stage_light = fields.String(allow_none=True)
    light_changes_on = fields.Date(allow_none=True)
    stage_index = fields.Integer(allow_none=True)
    stage_started_on = fields.Date(allow_none=True)


class LightPageSchema(Schema):
    items = fields.List(fields.Nested(SupervisedCaseSchema))
    next_cursor = fields.String(allow_none=True, metadata={"description": "absent/null: the last page"})


class CountArgsSchema(FilterArgsSchema):
    by = fields.String(load_default="origin", validate=validate.OneOf(["origin", "city"]))


class CountSchema(Schema):
    region = fields.String()
    stage_kind = fields.String()
    light = fields.String()
    count = fields.Integer()


class CountsSchema(Schema):
    items = fields.List(fields.Nested(CountSchema))


class TimelineEventSchema(Schema):
    origin = fields.String()
    seq = fields.Integer()
    at = fields.DateTime()
    service_code = fields.String()
    event = fields.String()
    status = fields.String()
    stage_index = fields.Integer()
    stage_kind = fields.String()
    stage_name = fields.String()
    actor_role = fields.String(allow_none=True)
    item_code = fields.String()
    department_code = fields.String()
    channel = fields.String(allow_none=True)
    legal_deadline = fields.Date(allow_none=True)
    promised_deadline = fields.Date(allow_none=True)
    stage_deadline = fields.Date(allow_none=True)
    extension_days = fields.Integer()
    result = fields.String(allow_none=True)
    joint_code = fields.String(allow_none=True)
    part_no = fields.Integer(allow_none=True)
    record_hash = fields.String()
    signed_at = fields.DateTime()


class TimelinePartSchema(Schema):
    service_code = fields.String()
    origin = fields.String()
    part_no = fields.Integer(allow_none=True)
    light = fields.String(allow_none=True)
    stage_light = fields.String(allow_none=True)
    status = fields.String(allow_none=True)


class TimelineSchema(Schema):
    service_code = fields.String()
    joint_code = fields.String(allow_none=True)
    parts = fields.List(fields.Nested(TimelinePartSchema))
    events = fields.List(fields.Nested(TimelineEventSchema))
