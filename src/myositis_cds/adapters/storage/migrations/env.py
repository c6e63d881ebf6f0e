"""Alembic environment: runs on the connection passed in by ``upgrade_database`` (or a URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from myositis_cds.adapters.storage.database import make_engine


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        msg = "no connection and no sqlalchemy.url: use myositis_cds.adapters.storage.upgrade_database"
        raise RuntimeError(msg)
    engine = make_engine(url, guard_audit=False)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():  # pragma: no cover - SQL scripts are not produced
    msg = "offline (--sql) migrations are not supported"
    raise RuntimeError(msg)
_main()
