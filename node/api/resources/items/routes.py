from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, actor, unit_of_work
from node.services import catalog

from .schemas import ItemContentSchema, ItemCreateSchema, ItemSchema, ItemStatusSchema, ItemUpdateSchema

blp = Blueprint("items", __name__, url_prefix="/api/v1/items", description="Item catalog management (事项目录)")


@blp.route("")
class Items(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ItemCreateSchema)
    @blp.response(201, ItemSchema)
    def post(self, args):
        """Publish a new item (hall admin or the department's chief representative)."""
        with unit_of_work(actor()) as uow:
            return catalog.publish_item(uow, args)


@blp.route("/<string:code>")
class ItemOne(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ItemUpdateSchema(partial=tuple(ItemContentSchema._declared_fields)))
    @blp.response(200, ItemSchema)
    def put(self, args, code):
        """Modify an item: publishes a new version; cases keep theirs."""
        expected = args.pop("version")
        with unit_of_work(actor()) as uow:
            return catalog.revise_item(uow, code, args, expected)


@blp.route("/<string:code>/status")
class ItemStatus(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ItemStatusSchema)
    @blp.response(200, ItemSchema)
    def post(self, args, code):
        """Suspend, resume or repeal an item."""
        with unit_of_work(actor()) as uow:
            catalog.set_item_status(uow, code, args["status"], args["note"])
            return catalog.get_item(uow, code)
