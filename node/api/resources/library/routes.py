from flask.views import MethodView
from node.api.resources import Blueprint
from marshmallow import Schema, fields, validate

from node.api.auth import SECURITY, actor, ctx, unit_of_work
from node.services import library

blp = Blueprint("library", __name__, url_prefix="/api/v1/library",
                description="Shared resource library (审批资源共享库): synced cases and licenses of the region")


class LibraryCaseQueryArgsSchema(Schema):
    region = fields.String(validate=validate.Regexp(r"^\d{2,6}$"), metadata={"description": "division prefix, e.g. 3301"})
    department = fields.String(validate=validate.Length(1, 32))
    item_code = fields.String(validate=validate.Length(1, 40))
    status = fields.String(validate=validate.Length(1, 20))
    stage = fields.String(validate=validate.OneOf(["accept", "undertake", "review", "approve", "conclude"]))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    page = fields.Integer(load_default=1, validate=validate.Range(1, 100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class ProvenanceMixin(Schema):
    signed_by = fields.String(metadata={"description": "the node that signed the record"})
    key_id = fields.String()
    record_seq = fields.Integer()
    signed_at = fields.DateTime()


class LibraryCaseSchema(ProvenanceMixin):
    service_code = fields.String()
    origin = fields.String()
    item_code = fields.String()
    item_name = fields.String()
    department_code = fields.String()
    department_name = fields.String()
    status = fields.String()
    stage_kind = fields.String()
    stage_name = fields.String()
    last_event = fields.String()
    last_event_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    concluded_at = fields.DateTime(allow_none=True)
    legal_deadline = fields.Date(allow_none=True)
    promised_deadline = fields.Date(allow_none=True)
    stage_deadline = fields.Date(allow_none=True)
    result = fields.String(allow_none=True)
    applicant_name_masked = fields.String()
    record_hash = fields.String()


class LibraryCasePageSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(LibraryCaseSchema))


class LicenseVerifyArgsSchema(Schema):
    holder_id_number = fields.String(validate=validate.Length(4, 32),
                                     metadata={"description": "check the holder too (compared as a keyed hash)"})
    on = fields.Date(metadata={"description": "validity on this date (default today)"})


class LicenseVerdictSchema(Schema):
    number = fields.String()
    found = fields.Boolean()
    valid = fields.Boolean()
    problem = fields.String()
    problems = fields.List(fields.String())
    name = fields.String()
    holder = fields.String()
    holder_matches = fields.Boolean(allow_none=True)
    issuing_department = fields.String()
    valid_from = fields.Date()
    valid_until = fields.Date(allow_none=True)
    status = fields.String()
    service_code = fields.String()
    digest = fields.String()
    signed_by = fields.String()
    key_id = fields.String()
    record_seq = fields.Integer()
    signed_at = fields.DateTime()


class LicenseCompareSchema(Schema):
    numbers = fields.List(fields.String(validate=validate.Length(1, 40)), required=True,
                          validate=validate.Length(1, 50))
    holder_id_number = fields.String(validate=validate.Length(4, 32))
    on = fields.Date()


class LicenseComparisonSchema(Schema):
    on = fields.Date()
    all_found = fields.Boolean()
    all_valid = fields.Boolean()
    same_holder = fields.Boolean()
    licenses = fields.List(fields.Nested(LicenseVerdictSchema))


def _case(row):  # type: ignore[no-untyped-def]
    return {**{c.key: getattr(row, c.key) for c in row.__table__.columns}, **library.provenance(row)}


@blp.route("/cases")
class LibraryCases(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(LibraryCaseQueryArgsSchema, location="query")
    @blp.response(200, LibraryCasePageSchema)
    def get(self, args):
        """Synced cases of this node's region: by region, department, item, stage, status, time."""
        with unit_of_work(actor()) as uow:
            rows, total = library.query_cases(uow, **args)
        return {"total": total, "items": [_case(r) for r in rows]}


@blp.route("/licenses/<string:number>/verification")
class LicenseVerification(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(LicenseVerifyArgsSchema, location="query")
    @blp.response(200, LicenseVerdictSchema)
    def get(self, args, number):
        """Verify a prerequisite approval's license (前置审批结果验证): valid? issued by whom? to whom?"""
        with unit_of_work(actor()) as uow:
            return library.verify_license(uow, number, args.get("holder_id_number"), args.get("on"))


@blp.route("/licenses/comparison")
class LicenseComparison(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(LicenseCompareSchema)
    @blp.response(200, LicenseComparisonSchema)
    def post(self, args):
        """Compare licenses across departments and levels (证照比对)."""
        with unit_of_work(actor()) as uow:
            return library.compare_licenses(uow, args["numbers"], args.get("holder_id_number"), args.get("on"))


class CaseDetailArgsSchema(Schema):
    purpose = fields.String(required=True, validate=validate.Length(1, 500))


@blp.route("/cases/<string:code>/detail")
class LibraryCaseDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CaseDetailArgsSchema, location="query")
    @blp.response(200)
    def get(self, args, code):
        """The full case file, fetched from the owning node (inspectors; audited at both ends)."""
        who = actor()
        with unit_of_work(who) as uow:
            req = library.request_case_file(uow, code, args["purpose"])
        return library.fetch_case_file(ctx(), who, req)
