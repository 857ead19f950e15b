from flask.views import MethodView
from node.api.resources import Blueprint

from node.api.auth import SECURITY, actor, ctx
from node.api.ids import MAX_ID
from node.api.resources.auth.schemas import MeSchema
from node.services import org

from .schemas import DepartmentCreateSchema, DepartmentSchema, StaffCreateSchema, StaffUpdateSchema

blp = Blueprint("org", __name__, url_prefix="/api/v1", description="Departments, service points and staff")


@blp.route("/departments")
class Departments(MethodView):
    @blp.response(200, DepartmentSchema(many=True))
    def get(self):
        """Departments and village service points of this hall (public)."""
        return org.list_departments(ctx())

    @blp.doc(security=SECURITY)
    @blp.arguments(DepartmentCreateSchema)
    @blp.response(201, DepartmentSchema)
    def post(self, args):
        """Add a department (tenant) or a village service point (hall admin)."""
        return org.create_department(ctx(), actor(), **args)


@blp.route("/staff")
class StaffList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, MeSchema(many=True))
    def get(self):
        """Staff of the hall (admin, inspector) or of your department (chief representative)."""
        return org.list_staff(ctx(), actor())

    @blp.doc(security=SECURITY)
    @blp.arguments(StaffCreateSchema)
    @blp.response(201, MeSchema)
    def post(self, args):
        """Create a staff account."""
        return org.create_staff(ctx(), actor(), **args)


@blp.route(f"/staff/<int(min=1, max={MAX_ID}):staff_id>")
class StaffOne(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(StaffUpdateSchema)
    @blp.response(200, MeSchema)
    def patch(self, args, staff_id):
        """Set the A/B post backup, mark absent or back, deactivate."""
        clear = "backup_id" in args and args["backup_id"] is None
        return org.update_staff(ctx(), actor(), staff_id, backup_id=args.get("backup_id"),
                                absent=args.get("absent"), active=args.get("active"), clear_backup=clear)
