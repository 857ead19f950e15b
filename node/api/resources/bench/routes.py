"""The benchmark's baseline: the same server answering a minimal one-row insert."""
from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import ctx
from node.persistence.models import BenchRow

from .schemas import PingSchema, PongSchema

blp = Blueprint("bench", __name__, url_prefix="/api/v1/_bench", description="Benchmark baseline (off by default)")


@blp.route("/rows")
class Rows(MethodView):
    @blp.arguments(PingSchema)
    @blp.response(201, PongSchema)
    def post(self, args):
        """Insert one row and commit."""
        c = ctx()
        with c.factory() as s:
            row = BenchRow(note=args["note"], created_at=c.clock())
            s.add(row)
            s.commit()
            return {"id": row.id}
