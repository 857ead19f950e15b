from flask.views import MethodView

from node.api.auth import SECURITY, actor, unit_of_work
from node.api.blueprint import Blueprint
from node.api.ids import MAX_ID
from node.services import supervision_orders as orders

from .schemas import (
    OrderCreateSchema,
    OrderDecisionSchema,
    OrderQueryArgsSchema,
    OrderResponseSchema,
    OrderSchema,
)

blp = Blueprint("supervision_orders", __name__, url_prefix="/api/v1/supervision/orders",
                description="Supervision and correction orders (督办、纠错) across levels")


@blp.route("")
class Orders(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(OrderQueryArgsSchema, location="query")
    @blp.response(200, OrderSchema(many=True))
    def get(self, args):
        """Inspectors: every order issued or received here, with its state; department staff: the
        orders addressed to their department (their 督办 queue)."""
        with unit_of_work(actor()) as uow:
            return orders.list_orders(uow, args.get("state"), args.get("case_code"))

    @blp.doc(security=SECURITY)
    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema)
    def post(self, args):
        """Issue an order on a case of this node's shared library (inspectors; to a node below only)."""
        with unit_of_work(actor()) as uow:
            row = orders.issue_order(uow, args["case_code"], args["kind"], args["text"], args.get("due_days"))
            out = orders.order_view(uow, row)
        return out


@blp.route(f"/<int(min=1, max={MAX_ID}):order_id>")
class Order(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OrderSchema)
    def get(self, order_id):
        with unit_of_work(actor()) as uow:
            return orders.get_order(uow, order_id)


@blp.route(f"/<int(min=1, max={MAX_ID}):order_id>/response")
class OrderResponse(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(OrderResponseSchema)
    @blp.response(200, OrderSchema)
    def post(self, args, order_id):
        """The department's answer; a correction order's answer records the fix (its description and
        the case transition that made it, recorded after the order arrived)."""
        with unit_of_work(actor()) as uow:
            row = orders.respond(uow, order_id, args["text"], args.get("fix"))
            out = orders.order_view(uow, row)
        return out


@blp.route(f"/<int(min=1, max={MAX_ID}):order_id>/decision")
class OrderDecision(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(OrderDecisionSchema)
    @blp.response(200, OrderSchema)
    def post(self, args, order_id):
        """The issuer closes (accepts) the response or returns it (with a note)."""
        with unit_of_work(actor()) as uow:
            row = orders.decide(uow, order_id, args["decision"], args.get("note"))
            out = orders.order_view(uow, row)
        return out
