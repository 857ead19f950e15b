from datetime import date

from flask.views import MethodView
from node.api.resources import Blueprint
from marshmallow import Schema, fields, validate

from node.api.auth import SECURITY, actor, ctx, unit_of_work
from node.domain.policy import Action, require
from node.services import admin

blp = Blueprint("admin", __name__, url_prefix="/api/v1", description="Calendar and audit")


class CalendarArgsSchema(Schema):
    start = fields.Date(required=True)
    days = fields.Integer(load_default=0, validate=validate.Range(0, 3650))


class CalendarSchema(Schema):
    known_years = fields.List(fields.Integer())
    start = fields.Date()
    is_working_day = fields.Boolean()
    days = fields.Integer()
    deadline = fields.Date(metadata={"description": "the date `days` working days after `start`"})


class CalendarImportSchema(Schema):
    years = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^\d{4}$")), values=fields.Dict(),
                        required=True)
    source = fields.String(load_default="", validate=validate.Length(max=1000))
    meaning = fields.String(load_default="", validate=validate.Length(max=2000))


class AuditReportSchema(Schema):
    entries = fields.Integer()
    ok = fields.Boolean()
    first_bad_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)


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
        """Link entries still queued, then walk the hash-chained audit log; names the first broken entry (admin, inspector)."""
        require(actor(), Action.VERIFY_AUDIT)
        r = admin.verify_audit(ctx())
        return r.__dict__
