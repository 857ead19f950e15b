from flask import Response, request
from flask.views import MethodView

from node.api.auth import SECURITY, actor, unit_of_work
from node.api.blueprint import Blueprint
from node.services import assessment

from .schemas import AssessmentSchema

blp = Blueprint("assessment", __name__, url_prefix="/api/v1/supervision/assessment",
                description="Performance assessment (绩效考核): monthly indicators and rankings, CSV/XLSX export")

_TYPES = {"csv": "text/csv; charset=utf-8",
          "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

# Stated whole: a manual 200 replaces the one @blp.response makes (format=csv|xlsx: the same rows
# as a file, Chinese headers).
_OK = {"description": "OK: the month's ranking (JSON), or the same rows as a CSV or XLSX file",
       "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Assessment"}},
                   "text/csv": {"schema": {"type": "string"}},
                   _TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}}


@blp.route("")
class Assessment(MethodView):
    @blp.doc(security=SECURITY, parameters=[
        {"in": "query", "name": "month", "required": True,
         "schema": {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}},
        {"in": "query", "name": "level", "schema": {"type": "string", "enum": list(assessment.LEVELS)}},
        {"in": "query", "name": "by", "schema": {"type": "string", "enum": list(assessment.rules.RANK_BY)}},
        {"in": "query", "name": "format", "schema": {"type": "string", "enum": list(assessment.FORMATS)}},
        {"in": "query", "name": "region", "schema": {"type": "string", "pattern": r"^\d{6}$"}}],
        responses={"200": _OK})
    @blp.response(200, AssessmentSchema)
    def get(self):
        """A month's ranking (month=YYYY-MM; level=department|node|city; by=score|on_time_rate|...;
        format=json|csv|xlsx; region: a division in this node's subtree)."""
        q = assessment.parse_args(request.args)
        with unit_of_work(actor()) as uow:
            rows = assessment.ranking(uow, q["month"], q["level"], q["by"], q.get("region"))
        if q["format"] == "json":
            return {"month": q["month"], "level": q["level"], "by": q["by"], "items": rows}
        name = f"assessment-{q['level']}-{q['month']}.{q['format']}"
        return Response(assessment.export(rows, q["format"]), mimetype=None, content_type=_TYPES[q["format"]],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
