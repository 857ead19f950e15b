from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, actor, unit_of_work
from node.api.ids import MAX_ID
from node.services import rectifications

from .schemas import RectificationCloseSchema, RectificationQueryArgsSchema, RectificationSchema

blp = Blueprint("rectifications", __name__, url_prefix="/api/v1/rectifications",
                description="Rectifications (整改) opened by low ratings")


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
