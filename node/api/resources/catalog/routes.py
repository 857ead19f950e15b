from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.resources.items.schemas import ItemQueryArgsSchema, ItemSchema
from node.api.auth import unit_of_work
from node.services import catalog, intake

from .schemas import CompletenessArgsSchema, NoticeSchema, VersionArgsSchema

blp = Blueprint("catalog", __name__, url_prefix="/api/v1/catalog",
                description="The public catalog and service guides (办事指南), no sign-in needed")


@blp.route("/items")
class CatalogItems(MethodView):
    @blp.arguments(ItemQueryArgsSchema, location="query")
    @blp.response(200, ItemSchema(many=True))
    def get(self, args):
        """List the catalog's items (current versions; repealed ones are not listed)."""
        with unit_of_work() as uow:
            return catalog.list_items(uow, **args)


@blp.route("/items/<string:code>")
class CatalogItem(MethodView):
    @blp.arguments(VersionArgsSchema, location="query")
    @blp.response(200, ItemSchema)
    def get(self, args, code):
        """An item's service guide; ?version=N for an earlier version."""
        with unit_of_work() as uow:
            return catalog.get_item(uow, code, args.get("version"))


@blp.route("/items/<string:code>/versions")
class CatalogItemVersions(MethodView):
    @blp.response(200, ItemSchema(many=True))
    def get(self, code):
        """Every published version of an item."""
        with unit_of_work() as uow:
            return catalog.item_history(uow, code)


@blp.route("/items/<string:code>/completeness-check")
class Completeness(MethodView):
    @blp.arguments(CompletenessArgsSchema)
    @blp.response(200, NoticeSchema)
    def post(self, args, code):
        """Check materials against the item's list; tells everything missing at once (一次性告知)."""
        with unit_of_work() as uow:
            return intake.check_completeness(uow, code, args["materials"], args["conditional_materials"]).as_dict()
