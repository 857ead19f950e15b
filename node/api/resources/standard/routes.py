from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, actor, unit_of_work
from node.services import standard_catalog

from .schemas import (AdoptionSchema, StandardAdoptionSchema, StandardChangeCreateSchema,
                      StandardChangeQueryArgsSchema, StandardChangeSchema)

blp = Blueprint("standard", __name__, url_prefix="/api/v1/standard-catalog",
                description="The province's standard item catalog (标准事项目录): signed changes and their adoption")


@blp.route("/changes")
class StandardChanges(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(StandardChangeCreateSchema)
    @blp.response(201, StandardChangeSchema)
    def post(self, args):
        """Publish a signed change of the standard catalog (province hall admin)."""
        with unit_of_work(actor()) as uow:
            return standard_catalog.publish_standard_change(uow, **args)

    @blp.doc(security=SECURITY)
    @blp.arguments(StandardChangeQueryArgsSchema, location="query")
    @blp.response(200, StandardChangeSchema(many=True))
    def get(self, args):
        """The standard catalog's changes received here, each with what it changed."""
        with unit_of_work(actor()) as uow:
            return standard_catalog.list_standard_changes(uow, **args)


@blp.route("/items/<string:code>/adoption")
class StandardAdoption(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(StandardAdoptionSchema)
    @blp.response(200, AdoptionSchema)
    def post(self, args, code):
        """Adopt an item's current standard into this node's catalog, localized."""
        dept = args.pop("department_id", None)
        with unit_of_work(actor()) as uow:
            return standard_catalog.adopt_standard_item(uow, code, dept, args)
