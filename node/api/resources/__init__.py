"""REST resources, one package each: routes.py (thin MethodViews) and schemas.py."""
from __future__ import annotations


from node.api.blueprint import Blueprint


def _all() -> list[Blueprint]:
    from .admin.routes import blp as admin
    from .alerts.routes import blp as alerts
    from .auth.routes import blp as auth
    from .cases.routes import blp as cases
    from .catalog.routes import blp as catalog
    from .complaints.routes import blp as complaints
    from .items.routes import blp as items
    from .assessment.routes import blp as assessment
    from .library.routes import blp as library
    from .org.routes import blp as org
    from .public.routes import blp as public
    from .rectifications.routes import blp as rect
    from .standard.routes import blp as standard
    from .supervision.routes import blp as supervision
    from .integrity.routes import blp as integrity
    from .supervision_orders.routes import blp as sup_orders
    from .uploads.routes import blp as uploads

    return [auth, org, items, catalog, uploads, cases, public, rect, admin, library, standard, alerts,
            supervision, sup_orders, complaints, integrity, assessment]


class _Lazy(list):  # type: ignore[type-arg]
    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(_all())


BLUEPRINTS = _Lazy()
