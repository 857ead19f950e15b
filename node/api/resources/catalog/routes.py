from flask.views import MethodView
from node.api.resources import Blueprint

from node.api.resources.items.schemas import ItemQueryArgsSchema, ItemSchema
from node.api.auth import ctx
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
        return catalog.list_items(ctx(), **args)


@blp.route("/items/<string:code>")
class CatalogItem(MethodView):
    @blp.arguments(VersionArgsSchema, location="query")
    @blp.response(200, ItemSchema)
    def get(self, args, code):
        """An item's service guide; ?version=N for an earlier version."""
        return catalog.get_item(ctx(), code, args.get("version"))


@blp.route("/items/<string:code>/versions")
class CatalogItemVersions(MethodView):
    @blp.response(200, ItemSchema(many=True))
    def get(self, code):
        """Every published version of an item."""
        return catalog.item_history(ctx(), code)


@blp.route("/items/<string:code>/completeness-check")
class Completeness(MethodView):
    @blp.arguments(CompletenessArgsSchema)
    @blp.response(200, NoticeSchema)
    def post(self, args, code):
        """Check materials against the item's list; tells everything missing at once (一次性告知)."""
        return intake.check_completeness(ctx(), code, args["materials"], args["conditional_materials"]).as_dict()
