"""Alembic migrations of the storage schema (applied by ``upgrade_database``)."""
