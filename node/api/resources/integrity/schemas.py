from marshmallow import Schema, fields, validate

from node.domain.integrity import ALL_KINDS


class FindingQueryArgsSchema(Schema):
    kind = fields.String(validate=validate.OneOf(sorted(ALL_KINDS)))
    origin = fields.String(validate=validate.Regexp(r"^\d{6}$", error="a node id is 6 digits"))
    before = fields.Integer(validate=validate.Range(1), metadata={"description": "the `next` of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class FindingReviewSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(1, 2000))


class EvidenceSchema(Schema):
    origin = fields.String()
    seq = fields.Integer()
    hash = fields.String(metadata={"description": "sha256 of the signed record body (hex)"})


class FindingSchema(Schema):
    id = fields.Integer()
    key = fields.String()
    kind = fields.String()
    subject = fields.String()
    origin = fields.String()
    detail = fields.String()
    evidence = fields.List(fields.Nested(EvidenceSchema))
    head_seq = fields.Integer(allow_none=True, metadata={"description": "stopped_syncing: the head that stalled"})
    raised_at = fields.DateTime()
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_note = fields.String(allow_none=True)


class FindingPageSchema(Schema):
    items = fields.List(fields.Nested(FindingSchema))
    next = fields.Integer(allow_none=True)
