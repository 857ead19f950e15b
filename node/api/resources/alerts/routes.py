from flask.views import MethodView

from node.api.auth import SECURITY, actor, unit_of_work
from node.api.blueprint import Blueprint
from node.services import alerts

from .schemas import AlertAcknowledgeSchema, AlertPageSchema, AlertQueryArgsSchema, AlertResolveSchema, AlertSchema

def _alert(a):  # type: ignore[no-untyped-def]
    """The row as plain values, read while its unit of work is open."""
    return {c.key: getattr(a, c.key) for c in a.__table__.columns if c.key != "fingerprint"}


blp = Blueprint("alerts", __name__, url_prefix="/api/v1/federation/alerts",
                description="Federation alerts: incidents raised here or anywhere below (admin, inspector)")


@blp.route("")
class Alerts(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(AlertQueryArgsSchema, location="query")
    @blp.response(200, AlertPageSchema)
    def get(self, args):
        """Alerts about this node and the nodes below it, newest first (keyset paging)."""
        with unit_of_work(actor()) as uow:
            rows, nxt = alerts.list_alerts(uow, **args)
            return {"items": [_alert(a) for a in rows], "next": nxt}


@blp.route("/<int:alert_id>/acknowledgement")
class AlertAcknowledgement(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(AlertAcknowledgeSchema)
    @blp.response(200, AlertSchema)
    def post(self, args, alert_id):
        """Acknowledge an open alert (someone is on it); the change travels upward."""
        with unit_of_work(actor()) as uow:
            return _alert(alerts.acknowledge(uow, alert_id, args.get("note")))


@blp.route("/<int:alert_id>/resolution")
class AlertResolution(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(AlertResolveSchema)
    @blp.response(200, AlertSchema)
    def post(self, args, alert_id):
        """Resolve an alert, saying how; seen again, it opens again."""
        with unit_of_work(actor()) as uow:
            return _alert(alerts.resolve(uow, alert_id, args["note"]))
