from flask.views import MethodView
from node.api.resources import Blueprint

from node.api.auth import SECURITY, bearer, ctx, current
from node.services import org

from .schemas import MeSchema, TokenCreateSchema, TokenSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Staff sign-in")


@blp.route("/token")
class Tokens(MethodView):
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, TokenSchema)
    def post(self, args):
        """Sign in: exchange username and password for a bearer token."""
        token, staff = org.login(ctx(), args["username"], args["password"])
        return {"token": token, "token_type": "Bearer", "staff": staff}

    @blp.doc(security=SECURITY)
    @blp.response(204)
    def delete(self):
        """Sign out: revoke the token used for this request."""
        current()
        org.logout(ctx(), bearer() or "")


@blp.route("/me")
class Me(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, MeSchema)
    def get(self):
        """The signed-in staff member."""
        return current().staff
