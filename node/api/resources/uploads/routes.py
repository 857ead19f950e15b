from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import ctx, unit_of_work
from node.domain.errors import InvalidInput
from node.services import intake

from .schemas import UploadArgsSchema, UploadSchema

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="Material files")


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
