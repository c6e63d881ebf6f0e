"""PostgreSQL: the application connects as a role that cannot rewrite the audit log.

The tables belong to an *owner* role, which runs the migrations (``myositis-cds db upgrade``).
The server connects as a separate *application* role granted only what it needs: reading and
writing the clinic's tables, but on ``audit_log`` only SELECT and INSERT, on its head
``audit_chain`` only SELECT and UPDATE. Only a table's owner (or a superuser) may ALTER it —
``DISABLE TRIGGER``, ``DROP TRIGGER``, ``DROP TABLE`` — so no statement of the application role
can rewrite or remove an event, whatever it sends.

``grant_application_role`` (``db upgrade --app-role ROLE``) gives those grants after each
upgrade; :func:`audit_owner_problem` tells a server that it connects as the owner.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL

from myositis_cds.adapters.storage.database import make_engine
from myositis_cds.errors import UsageError

__all__ = ["audit_owner_problem", "grant_application_role"]

_TABLE = ("SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() "
          "AND tablename = 'audit_log'")


def _statements(connection: Connection, role: str) -> list[str]:
    quote = connection.dialect.identifier_preparer.quote
    schema = quote(str(connection.scalar(text("SELECT current_schema()"))))
    who = quote(role)
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM {who}",
        f"REVOKE INSERT, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_chain FROM {who}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {who}",
    ]


def grant_application_role(url: str | URL, role: str) -> list[str]:
    """Grant ``role`` what the server needs on the database at ``url`` (connected as the owner);
    returns the statements run. :class:`UsageError` on SQLite, for a missing role, or when
    ``role`` is the owner itself."""
    engine = make_engine(url, guard_audit=False)
    try:
        with engine.begin() as connection:
            if connection.dialect.name != "postgresql":
                msg = ("--app-role: got a SQLite database; expected PostgreSQL (SQLite has no "
                       "roles: protect the file's permissions, see docs/security.md)")
                raise UsageError(msg)
            if connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}) is None:
                msg = (f"--app-role: no role {role!r} on this server: create it first "
                       f"(CREATE ROLE {role} LOGIN PASSWORD '...'), then run this again")
                raise UsageError(msg)
            owner = connection.scalar(text(_TABLE))
            if owner is None:
                msg = "--app-role: the database has no audit_log yet: the upgrade did not run"
                raise UsageError(msg)
            if owner == role:
                msg = (f"--app-role: got {role!r}, which owns the tables; expected another role "
                       "for the server (the owner may disable the audit log's triggers)")
                raise UsageError(msg)
            me = connection.scalar(text("SELECT current_user"))
            superuser = connection.scalar(text("SELECT rolsuper FROM pg_roles "
                                               "WHERE rolname = current_user"))
            if me != owner and not superuser:
                msg = (f"--app-role: connected as {me!r}, which does not own the tables; expected "
                       f"the owner {owner!r} (run `db upgrade --app-role` with its URL)")
                raise UsageError(msg)
            statements = _statements(connection, role)
            for statement in statements:
                connection.execute(text(statement))
            return statements
    finally:
        engine.dispose()


def audit_owner_problem(connection: Connection) -> str | None:
    """A warning when the server's own role owns ``audit_log`` on PostgreSQL (it could then
    disable the triggers); None when it does not, or on SQLite."""
    if connection.dialect.name != "postgresql":
        return None
    owner = connection.scalar(text(_TABLE))
    user = connection.scalar(text("SELECT current_user"))
    if owner is not None and owner == user:
        return (f"warning: the server connects as {user!r}, the owner of audit_log, which could "
                "disable its triggers: connect as a separate role granted by `myositis-cds db "
                "upgrade --app-role ROLE` (docs/security.md)")
    return None
