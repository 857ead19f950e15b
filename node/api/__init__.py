"""HTTP API (flask-smorest, OpenAPI 3) and the app factory."""
from .app import create_app

__all__ = ["create_app"]
