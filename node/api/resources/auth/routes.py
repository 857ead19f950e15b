from flask.views import MethodView
from node.api.blueprint import Blueprint

from node.api.auth import SECURITY, bearer, client_address, ctx, current, unit_of_work
from node.services import guard, org
from node.domain.policy import Target, allowed_actions
from node.services.context import SYSTEM

from .schemas import TokenCreateSchema, TokenSchema, WhoAmISchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Staff sign-in")


@blp.route("/token")
class Tokens(MethodView):
    @blp.arguments(TokenCreateSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(401, description="wrong username or password (an unknown account answers alike)")
    @blp.alt_response(423, description="the account (or this client) is locked after repeated wrong passwords "
                                       "(Retry-After)")
    @blp.alt_response(429, description="too many sign-in attempts from this client or for this account (Retry-After)")
    def post(self, args):
        """Sign in: exchange username and password for a bearer token."""
        client = client_address()
        targets = guard.signin_targets(ctx(), args["username"], client)
        token, staff = guard.attempt(ctx(), SYSTEM, targets, org.login, args["username"], args["password"],
                                     what="signin", client=client)
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
    @blp.response(200, WhoAmISchema)
    def get(self):
        """The signed-in staff member, and what they may do."""
        me = current()
        return {**{k: getattr(me.staff, k) for k in WhoAmISchema().fields if k != "may"},
                "may": allowed_actions(me.actor, Target(department_id=me.actor.department_id))}
