from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, actor, ctx, unit_of_work
from node.services import library

from .schemas import (
    CaseDetailArgsSchema,
    LibraryCaseFileSchema,
    LibraryCasePageSchema,
    LibraryCaseQueryArgsSchema,
    LicenseComparisonSchema,
    LicenseCompareSchema,
    LicenseVerdictSchema,
    LicenseVerifyArgsSchema,
)

blp = Blueprint("library", __name__, url_prefix="/api/v1/library",
                description="Shared resource library (审批资源共享库): synced cases and licenses of the region")


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


@blp.route("/cases/<service_code:code>/detail")
class LibraryCaseDetail(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CaseDetailArgsSchema, location="query")
    @blp.response(200, LibraryCaseFileSchema)
    def get(self, args, code):
        """The full case file, fetched from the owning node and compared with its signed records (inspectors; audited at both ends)."""
        who = actor()
        with unit_of_work(who) as uow:
            req = library.request_case_file(uow, code, args["purpose"])
        return library.fetch_case_file(ctx(), who, req)
