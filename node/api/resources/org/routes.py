from flask.views import MethodView
from node.api.resources import Blueprint
from marshmallow import Schema, fields, validate

from node.api.auth import SECURITY, actor, ctx, unit_of_work
from node.api.ids import MAX_ID, Id
from node.api.resources.auth.routes import MeSchema
from node.domain.roles import Role
from node.services import org

blp = Blueprint("org", __name__, url_prefix="/api/v1", description="Departments, service points and staff")


class DepartmentCreateSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9_\-]{2,32}$",
                         error="2-32 lower-case letters, digits, '-' or '_'"))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    kind = fields.String(load_default="department", validate=validate.OneOf(["department", "service_point"]))


class DepartmentSchema(DepartmentCreateSchema):
    id = fields.Integer()


class StaffCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.\-]{3,64}$",
                             error="3-64 letters, digits, '.', '-' or '_'"))
    name = fields.String(required=True, validate=validate.Length(1, 100))
    password = fields.String(required=True, load_only=True, validate=validate.Length(8, 256))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    department_id = Id(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(r"^\+?\d{5,20}$"))


class StaffUpdateSchema(Schema):
    backup_id = Id(allow_none=True)
    absent = fields.Boolean()
    active = fields.Boolean()


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
        """Add a department (tenant) or a village service point (hall admin)."""
        with unit_of_work(actor()) as uow:
            return org.create_department(uow, **args)


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
