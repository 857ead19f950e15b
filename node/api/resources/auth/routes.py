from flask.views import MethodView
from node.api.resources import Blueprint
from marshmallow import Schema, fields, validate

from node.api.auth import SECURITY, bearer, current, unit_of_work
from node.services import org
from node.services.context import SYSTEM

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Staff sign-in")


class TokenCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(1, 64))
    password = fields.String(required=True, validate=validate.Length(1, 256), load_only=True)


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    name = fields.String()
    role = fields.String()
    department_id = fields.Integer(allow_none=True)
    backup_id = fields.Integer(allow_none=True)
    absent = fields.Boolean()


class TokenSchema(Schema):
    token = fields.String()
    token_type = fields.String()
    staff = fields.Nested(MeSchema)


@blp.route("/token")
class Tokens(MethodView):
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, TokenSchema)
    def post(self, args):
        """Sign in: exchange username and password for a bearer token."""
        with unit_of_work(SYSTEM) as uow:
            token, staff = org.login(uow, args["username"], args["password"])
        return {"token": token, "token_type": "Bearer", "staff": staff}

    @blp.doc(security=SECURITY)
    @blp.response(204)
    def delete(self):
        """Sign out: revoke the token used for this request."""
        current()
        with unit_of_work(SYSTEM) as uow:
            org.logout(uow, bearer() or "")


@blp.route("/me")
class Me(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, MeSchema)
    def get(self):
        """The signed-in staff member."""
        return current().staff
