"""Persistence: SQLAlchemy 2 (async) models, named queries and Alembic migrations."""
