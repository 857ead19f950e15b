from datetime import date

from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, actor, ctx, unit_of_work
from node.domain.policy import Action, require
from node.api.ids import MAX_ID
from node.services import admin, notifications

from .schemas import (
    AuditReportSchema,
    CalendarArgsSchema,
    CalendarImportSchema,
    CalendarSchema,
    NotificationSettingSchema,
    NotificationSettingUpdateSchema,
    OutboxSchema,
    RetriedSchema,
)

blp = Blueprint("admin", __name__, url_prefix="/api/v1", description="Calendar, applicant messages and audit")


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


@blp.route("/notification-settings")
class NotificationSettings(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, NotificationSettingSchema(many=True))
    def get(self):
        """Every SMS kind the node sends applicants, its text and whether it is sent (hall admin)."""
        with unit_of_work(actor()) as uow:
            return notifications.notification_settings(uow)


@blp.route("/notification-settings/<string:template>")
class NotificationSettingOne(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(NotificationSettingUpdateSchema)
    @blp.response(200, NotificationSettingSchema)
    def put(self, args, template):
        """Send a message kind or not (hall admin; 补正、不予受理、不予许可 notices cannot be turned off).
        Every process of the node follows within 10 seconds."""
        with unit_of_work(actor()) as uow:
            return notifications.set_notification(uow, template, args["enabled"])


@blp.route("/notifications/outbox")
class Outbox(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, OutboxSchema)
    def get(self):
        """The outbox by status and the latest messages that could not be delivered (hall admin)."""
        with unit_of_work(actor()) as uow:
            return notifications.outbox_summary(uow)


@blp.route(f"/notifications/<int(min=1, max={MAX_ID}):notification_id>/retry")
class Retry(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, RetriedSchema)
    def post(self, notification_id):
        """Send a failed message again (hall admin)."""
        with unit_of_work(actor()) as uow:
            return notifications.retry_notification(uow, notification_id)
