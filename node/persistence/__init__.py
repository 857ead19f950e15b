"""SQLAlchemy models, the unit of work, the audit chain; Alembic migrations."""
