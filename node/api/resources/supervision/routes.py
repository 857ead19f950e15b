from flask.views import MethodView

from node.api.auth import SECURITY, actor, unit_of_work
from node.api.blueprint import Blueprint
from node.services import supervision

from .schemas import (
    CountArgsSchema,
    CountsSchema,
    LightListArgsSchema,
    LightPageSchema,
    ListArgsSchema,
    TimelineSchema,
)

blp = Blueprint("supervision", __name__, url_prefix="/api/v1/supervision",
                description="Electronic supervision (电子监察) of the subtree: lights, overdue and yellow lists, "
                            "counts by stage and light, a case's cross-level timeline (inspectors and the hall admin)")


def _page(args, light):  # type: ignore[no-untyped-def]
    with unit_of_work(actor()) as uow:
        return supervision.light_list(uow, light=light, **args)


@blp.route("/lights")
class Lights(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(LightListArgsSchema, location="query")
    @blp.response(200, LightPageSchema)
    def get(self, args):
        """Cases of the subtree with one light, the earliest deadline first (keyset paging: pass next_cursor)."""
        light = args.pop("light")
        return _page(args, light)


@blp.route("/overdue")
class Overdue(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, LightPageSchema)
    def get(self, args):
        """Overdue (red) cases of the subtree, the longest overdue first."""
        return _page(args, "red")


@blp.route("/yellow")
class Yellow(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, LightPageSchema)
    def get(self, args):
        """Cases in warning (yellow, 预警) of the subtree, the nearest deadline first."""
        return _page(args, "yellow")


@blp.route("/counts")
class Counts(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CountArgsSchema, location="query")
    @blp.response(200, CountsSchema)
    def get(self, args):
        """Cases by region (node or city), stage and light."""
        with unit_of_work(actor()) as uow:
            return {"items": supervision.counts(uow, **args)}


@blp.route("/cases/<service_code:code>/timeline")
class Timeline(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, TimelineSchema)
    def get(self, code):
        """A case's full history across levels: its records and those of every part of its joint case."""
        with unit_of_work(actor()) as uow:
            return supervision.timeline(uow, code)
