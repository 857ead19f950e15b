from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, actor, unit_of_work
from node.api.ids import MAX_ID
from node.api.resources.auth.schemas import MeSchema
from node.services import org

from .schemas import (
    DepartmentCreateSchema,
    DepartmentSchema,
    DepartmentUpdateSchema,
    StaffCreateSchema,
    StaffUpdateSchema,
)

blp = Blueprint("org", __name__, url_prefix="/api/v1", description="Departments, service points and staff")


@blp.route("/departments")
class Departments(MethodView):
    @blp.response(200, DepartmentSchema(many=True))
    def get(self):
        """Departments and village service points of this hall (public)."""
        with unit_of_work() as uow:
            return org.list_departments(uow)

    @blp.doc(security=SECURITY)
    @blp.arguments(DepartmentCreateSchema)
    @blp.response(201, DepartmentSchema)
    def post(self, args):
        """Add a department, a town or sub-district office, or a village service point (hall admin)."""
        with unit_of_work(actor()) as uow:
            return org.create_department(uow, **args)


@blp.route(f"/departments/<int(min=1, max={MAX_ID}):unit_id>")
class DepartmentOne(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(DepartmentUpdateSchema)
    @blp.response(200, DepartmentSchema)
    def patch(self, args, unit_id):
        """Attach a village service point to its town or sub-district office (hall admin)."""
        with unit_of_work(actor()) as uow:
            return org.set_parent_unit(uow, unit_id, args["parent_unit_id"])


@blp.route("/staff")
class StaffList(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, MeSchema(many=True))
    def get(self):
        """Staff of the hall (admin, inspector) or of your department (chief representative)."""
        with unit_of_work(actor()) as uow:
            return org.list_staff(uow)

    @blp.doc(security=SECURITY)
    @blp.arguments(StaffCreateSchema)
    @blp.response(201, MeSchema)
    def post(self, args):
        """Create a staff account."""
        with unit_of_work(actor()) as uow:
            return org.create_staff(uow, **args)


@blp.route(f"/staff/<int(min=1, max={MAX_ID}):staff_id>")
class StaffOne(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(StaffUpdateSchema)
    @blp.response(200, MeSchema)
    def patch(self, args, staff_id):
        """Set the A/B post backup, mark absent or back, deactivate."""
        clear = "backup_id" in args and args["backup_id"] is None
        with unit_of_work(actor()) as uow:
            return org.update_staff(uow, staff_id, backup_id=args.get("backup_id"),
                                    absent=args.get("absent"), active=args.get("active"), clear_backup=clear)
