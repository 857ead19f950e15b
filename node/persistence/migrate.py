"""Alembic, driven programmatically: ``yiwang db upgrade`` and the tests build schemas here."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from .files import secure_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    secure_sqlite(url)  # the first upgrade creates the database file: 0600, never world-readable
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
