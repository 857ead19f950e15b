from flask.views import MethodView
from node.api.resources import Blueprint
from flask_smorest.fields import Upload as UploadField
from marshmallow import EXCLUDE, Schema, fields

from node.api.auth import ctx, unit_of_work
from node.domain.errors import InvalidInput
from node.services import intake

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="Material files")


class UploadArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # other multipart parts are ignored (and documented as allowed), not an error

    file = UploadField(required=True)


class UploadSchema(Schema):
    id = fields.String()
    digest = fields.String(metadata={"description": "SHA-256 of the file"})
    size = fields.Integer()
    file_type = fields.String()
    filename = fields.String()


@blp.route("")
class Uploads(MethodView):
    @blp.arguments(UploadArgsSchema, location="files")
    @blp.response(201, UploadSchema)
    def post(self, files):
        """Upload one material file (PDF, JPG, PNG, OFD); returns its id and SHA-256 digest."""
        f = files.get("file")
        if f is None:
            raise InvalidInput("send the file as multipart field 'file'", field="file")
        limit = ctx().settings.max_upload_bytes
        data = f.stream.read(limit + 1)
        with unit_of_work() as uow:
            return intake.store_upload(uow, f.filename or "upload", data)
