from flask.views import MethodView
from node.api.resources import Blueprint
from marshmallow import Schema, fields, validate

from node.api.auth import SECURITY, actor, ctx, unit_of_work
from node.api.ids import MAX_ID
from node.services import rectifications

blp = Blueprint("rectifications", __name__, url_prefix="/api/v1/rectifications",
                description="Rectifications (整改) opened by low ratings")


class RectificationQueryArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(["open", "closed"]))


class RectificationCloseSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(1, 2000))


class RectificationSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    evaluation_id = fields.Integer()
    department_id = fields.Integer()
    status = fields.String()
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)


@blp.route("")
class Rectifications(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(RectificationQueryArgsSchema, location="query")
    @blp.response(200, RectificationSchema(many=True))
    def get(self, args):
        """Rectifications of your department (all of them for hall-wide roles)."""
        with unit_of_work(actor()) as uow:
            return rectifications.list_rectifications(uow, args.get("status"))


@blp.route(f"/<int(min=1, max={MAX_ID}):rect_id>/close")
class RectificationClose(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(RectificationCloseSchema)
    @blp.response(200, RectificationSchema)
    def post(self, args, rect_id):
        """Close a rectification with what was done."""
        with unit_of_work(actor()) as uow:
            return rectifications.close_rectification(uow, rect_id, args["note"])
