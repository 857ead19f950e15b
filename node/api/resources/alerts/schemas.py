from marshmallow import Schema, fields, validate

from node.persistence.models import ALERT_STATES


class AlertQueryArgsSchema(Schema):
    kind = fields.String(validate=validate.Length(1, 30),
                         metadata={"description": "fork, bad_signature, inconsistent_checkpoint, damaged_log, ..."})
    state = fields.String(validate=validate.OneOf(ALERT_STATES))
    origin = fields.String(validate=validate.Regexp(r"^\d{6}$", error="a node id is 6 digits"),
                           metadata={"description": "the node the alert is about"})
    before = fields.Integer(validate=validate.Range(1), metadata={"description": "the `next` of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class AlertAcknowledgeSchema(Schema):
    note = fields.String(validate=validate.Length(1, 2000))


class AlertResolveSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(1, 2000),
                         metadata={"description": "how it was resolved"})


class AlertSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    origin = fields.String(metadata={"description": "the node the alert is about"})
    subject = fields.String(metadata={"description": "what it names: a record origin#seq, a case code ..."})
    detail = fields.String()
    proof = fields.Dict(metadata={"description": "the evidence (signed bytes in base64, both hashes ...)"})
    peer = fields.String(allow_none=True, metadata={"description": "the link it was seen on"})
    raised_by = fields.String(metadata={"description": "the node that saw it (alerts travel upward)"})
    state = fields.String(validate=validate.OneOf(ALERT_STATES))
    sightings = fields.Integer()
    created_at = fields.DateTime()
    last_seen = fields.DateTime()
    updated_at = fields.DateTime()
    state_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class AlertPageSchema(Schema):
    items = fields.List(fields.Nested(AlertSchema))
    next = fields.Integer(allow_none=True, metadata={"description": "pass as `before` for the next page; null: last"})
