from datetime import date

from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, actor, ctx, unit_of_work
from node.domain.policy import Action, require
from node.services import admin

from .schemas import AuditReportSchema, CalendarArgsSchema, CalendarImportSchema, CalendarSchema

blp = Blueprint("admin", __name__, url_prefix="/api/v1", description="Calendar and audit")


@blp.route("/calendar")
class Calendar(MethodView):
    @blp.arguments(CalendarArgsSchema, location="query")
    @blp.response(200, CalendarSchema)
    def get(self, args):
        """Working-day arithmetic: is `start` a working day, and what date is `days` working days later."""
        cal = ctx().calendar()
        start: date = args["start"]
        return {"known_years": cal.known_years, "start": start, "is_working_day": cal.is_working_day(start),
                "days": args["days"], "deadline": cal.add_working_days(start, args["days"])}

    @blp.doc(security=SECURITY)
    @blp.arguments(CalendarImportSchema)
    @blp.response(200, CalendarSchema)
    def put(self, args):
        """Load or replace years of the public-holiday schedule (hall admin)."""
        with unit_of_work(actor()) as uow:
            admin.import_calendar(uow, args)
        cal = ctx().calendar()
        today = ctx().clock().date()
        return {"known_years": cal.known_years, "start": today, "is_working_day": cal.is_working_day(today),
                "days": 0, "deadline": today}


@blp.route("/audit/verify")
class AuditVerify(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, AuditReportSchema)
    def get(self):
        """Walk the hash-chained audit log and replay it against the live rows; names the first broken entry and every row that differs (admin, inspector)."""
        require(actor(), Action.VERIFY_AUDIT)
        return admin.verify_audit(ctx()).as_dict()
