from flask.views import MethodView

from node.api.auth import SECURITY, actor, unit_of_work
from node.api.blueprint import Blueprint
from node.api.ids import MAX_ID
from node.services import integrity

from .schemas import (
    FindingPageSchema,
    FindingQueryArgsSchema,
    FindingReviewSchema,
    FindingSchema,
)


def _row(f):  # type: ignore[no-untyped-def]
    return {c.key: getattr(f, c.key) for c in f.__table__.columns}


blp = Blueprint("integrity", __name__, url_prefix="/api/v1/supervision/findings",
                description="Integrity findings (环节完整性监察) from the signed records of the subtree (inspectors)")


@blp.route("")
class Findings(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FindingQueryArgsSchema, location="query")
    @blp.response(200, FindingPageSchema)
    def get(self, args):
        """Findings about this node's subtree, newest first (keyset paging), each with its evidence."""
        with unit_of_work(actor()) as uow:
            rows, nxt = integrity.list_findings(uow, **args)
            return {"items": [_row(f) for f in rows], "next": nxt}


@blp.route(f"/<int(min=1, max={MAX_ID}):finding_id>/review")
class FindingReview(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(FindingReviewSchema)
    @blp.response(200, FindingSchema)
    def post(self, args, finding_id):
        """Mark a finding reviewed with a note."""
        with unit_of_work(actor()) as uow:
            return _row(integrity.review_finding(uow, finding_id, args["note"]))
