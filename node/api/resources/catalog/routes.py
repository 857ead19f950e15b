from flask.views import MethodView
from node.api.resources import Blueprint
from marshmallow import Schema, fields, validate

from node.api.resources.items.schemas import ItemQueryArgsSchema, ItemSchema
from node.api.auth import ctx, unit_of_work
from node.services import catalog, intake

blp = Blueprint("catalog", __name__, url_prefix="/api/v1/catalog",
                description="The public catalog and service guides (办事指南), no sign-in needed")


class MaterialRefSchema(Schema):
    material_code = fields.String(required=True, validate=validate.Length(1, 40))
    upload_id = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{32}$", error="not an upload id"))


class CompletenessArgsSchema(Schema):
    materials = fields.List(fields.Nested(MaterialRefSchema), load_default=list, validate=validate.Length(max=200))
    conditional_materials = fields.List(fields.String(validate=validate.Length(1, 40)), load_default=list,
                                        validate=validate.Length(max=100))


class NoticeSchema(Schema):
    item_code = fields.String()
    item_name = fields.String()
    complete = fields.Boolean()
    missing = fields.List(fields.Dict())
    invalid = fields.List(fields.Dict())


class VersionArgsSchema(Schema):
    version = fields.Integer(validate=validate.Range(1, 100000))


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
