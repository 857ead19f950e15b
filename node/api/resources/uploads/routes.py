from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import ctx, optional_actor, unit_of_work
from node.api.clients import client_address
from node.domain.errors import InvalidInput
from node.services import intake

from .schemas import UploadArgsSchema, UploadSchema

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="Material files")


@blp.route("")
class Uploads(MethodView):
    @blp.arguments(UploadArgsSchema, location="files")
    @blp.response(201, UploadSchema)
    @blp.alt_response(422, description="the file is not what it claims, or not a PDF, JPG, PNG or OFD whose "
                                       "whole structure parses (field `file`)")
    @blp.alt_response(429, description="the sender's upload quota is used up (field `file`; `Retry-After` says "
                                       "when to try again)")
    def post(self, files):
        """Upload one material file (PDF, JPG, PNG, OFD); returns its id (the token an application names it by) and SHA-256 digest."""
        f = files.get("file")
        if f is None:
            raise InvalidInput("send the file as multipart field 'file'", field="file", location="files")
        settings = ctx().settings
        data = f.stream.read(settings.max_upload_bytes + 1)
        who = optional_actor()
        with unit_of_work(who) as uow:
            return intake.store_upload(uow, f.filename or "upload", data, content_type=f.mimetype,
                                       client=client_address(settings.trusted_proxies))
