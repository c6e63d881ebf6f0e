"""Apply the Alembic migrations programmatically: no ``alembic.ini`` is needed at run time."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from myositis_cds.adapters.storage.database import display_url, make_engine
from myositis_cds.errors import DatabaseNotReadyError

__all__ = ["MIGRATIONS", "check_database", "current_revision", "downgrade_database", "head_revision",
           "upgrade_database"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_database(url: str | URL, revision: str = "head") -> str:
    """Bring the database at ``url`` to ``revision`` (every migration by default); returns it."""
    engine = make_engine(url, guard_audit=False)  # migrations change the audit log's schema
    try:
        current = current_revision(engine)
        if current != head_revision() or revision != "head":  # at head: no DDL, no privileges
            with engine.begin() as connection:
                command.upgrade(_config(connection), revision)
            current = current_revision(engine)
    finally:
        engine.dispose()
    assert current is not None
    return current


def downgrade_database(url: str | URL, revision: str) -> str | None:
    """Take the database at ``url`` back to ``revision`` (each migration's ``downgrade``)."""
    engine = make_engine(url, guard_audit=False)
    try:
        with engine.begin() as connection:
            command.downgrade(_config(connection), revision)
        return current_revision(engine)
    finally:
        engine.dispose()


def check_database(engine: Engine) -> None:
    """Raise :class:`DatabaseNotReadyError` unless every migration has been applied."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "has no tables yet" if current is None else f"is at revision {current}"
        msg = (f"the database {display_url(engine.url)} {state}; expected revision {head}: "
               "run `myositis-cds db upgrade`")
        raise DatabaseNotReadyError(msg)
