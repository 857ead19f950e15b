"""flask-smorest's Blueprint, as every resource declares it."""
from __future__ import annotations

from typing import Any

import flask_smorest


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint; a schema class given to ``arguments`` is instantiated once, at
    declaration (webargs would build a new instance, nested schemas and all, on every request)."""

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
