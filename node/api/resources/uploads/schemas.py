from flask_smorest.fields import Upload as UploadField
from marshmallow import EXCLUDE, Schema, fields


class UploadArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # other multipart parts are ignored (and documented as allowed), not an error

    file = UploadField(required=True)


class UploadSchema(Schema):
    id = fields.String(metadata={"description": "the upload's token (128 random bits): name it in one application "
                                                "(it is bound to the first that does); keep it to yourself until then. "
                                                "Unused uploads expire."})
    digest = fields.String(metadata={"description": "SHA-256 of the file"})
    size = fields.Integer()
    file_type = fields.String()
    filename = fields.String()
