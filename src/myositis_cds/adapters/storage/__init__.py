"""Storage of patients, users and the audit log: SQLAlchemy 2, Alembic, SQLite or PostgreSQL."""

from myositis_cds.adapters.storage.database import (
    Database,
    SqlUnitOfWork,
    display_url,
    make_engine,
    normalise_url,
)
from myositis_cds.adapters.storage.migrate import (
    check_database,
    current_revision,
    head_revision,
    upgrade_database,
)

__all__ = [
    "Database",
    "SqlUnitOfWork",
    "check_database",
    "current_revision",
    "display_url",
    "head_revision",
    "make_engine",
    "normalise_url",
    "upgrade_database",
]
