"""create_app(): settings and the service context are built here, never at import time."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from node.config import Settings
from node.persistence.session import links_after_commit
from node.services.context import NodeContext

from .errors import ErrorSchema, register_error_handlers
from .headers import install_security_headers
from .health import register_health
from .spec import document_rules


class _Api(Api):
    ERROR_SCHEMA = ErrorSchema  # documents the error body our handlers actually send


def create_app(settings: Settings | None = None, ctx: NodeContext | None = None, verify_secrets: bool = True) -> Flask:
    """The node's WSGI app. Built from settings (what gunicorn calls), it first refuses weak
    secrets outside demo mode (``node.services.secrets``; ``yiwang node run`` checks once, before
    its workers start, and passes ``verify_secrets=False``). Given a context (tests), it trusts it."""
    settings = settings or (ctx.settings if ctx else Settings.from_env())
    if ctx is None:
        from node.services.secrets import require_strong_secrets
        from node.tasks.dispatch import PostCommitLinker, make_dispatcher

        ctx = NodeContext.build(settings)  # with the federation's ports, once the node has an identity
        if verify_secrets:
            require_strong_secrets(ctx)
        ctx.dispatch_notifications = make_dispatcher(ctx)
        if links_after_commit(ctx.engine):
            ctx.link_queued = PostCommitLinker(ctx.link_now, linger=0.2)
    app = Flask("yiwang", static_folder=None)
    app.config.update(
        API_TITLE="Yiwang node API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["yiwang"] = ctx
    api = _Api(app, spec_kwargs={"info": {"description": "One government service hall's node: catalog, intake, "
                                                           "five-stage approval, public lookup. Every string the "
                                                           "server takes is refused (422 naming the field) if it "
                                                           "holds a NUL character or a lone UTF-16 surrogate; "
                                                           "JSON bodies nest at most 32 levels (400)."}})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    document_rules(app, api)
    register_error_handlers(app)

    from .resources import BLUEPRINTS

    for blp in BLUEPRINTS:
        api.register_blueprint(blp)
    if settings.bench_endpoints:
        from .resources.bench.routes import blp as bench_blp

        api.register_blueprint(bench_blp)

    register_health(app, settings, ctx)
    install_security_headers(app)

    try:
        from admin_ui import register as register_ui
    except ImportError:
        pass
    else:
        register_ui(app)
    return app
