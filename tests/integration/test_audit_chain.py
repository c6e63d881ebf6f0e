"""The audit log cannot be rewritten by the application's connections, and any rewrite done around
them is detected (issue 13, item 3), on SQLite and PostgreSQL.

SQLite: ``REPLACE INTO``/``INSERT OR REPLACE`` deleted the old row without firing the DELETE
trigger, an UPSERT updated it, and ``DROP TRIGGER`` worked; on PostgreSQL the application role
owned the table and could ``DISABLE TRIGGER``. Here every such statement is refused, and tampering
with the file itself (or as the tables' owner) is found by ``myositis-cds audit verify``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from myositis_cds.adapters.storage import Database, upgrade_database
from myositis_cds.adapters.storage.migrate import downgrade_database
from myositis_cds.adapters.storage.migrations.versions import r0004_hardening
from myositis_cds.entrypoints.cli import main
from myositis_cds.services.ports import AuditEvent
from tests.integration.conftest import PostgresServer

COLUMNS = "(id, at, actor, action, patient_key, detail, prev_hash, hash)"
FORGED = "'2026-01-01 00:00:00', 'mallory', 'auth.login', NULL, 'forged', 'x', 'y'"
REWRITES = {  # what an application connection might send; the database refuses each
    "REPLACE INTO": f"REPLACE INTO audit_log {COLUMNS} VALUES (1, {FORGED})",
    "INSERT OR REPLACE": f"INSERT OR REPLACE INTO audit_log {COLUMNS} VALUES (2, {FORGED})",
    "UPSERT": f"INSERT INTO audit_log {COLUMNS} VALUES (1, {FORGED}) "
              "ON CONFLICT (id) DO UPDATE SET actor = 'mallory'",
    "INSERT an old id": f"INSERT INTO audit_log {COLUMNS} VALUES (0, {FORGED})",
    "UPDATE": "UPDATE audit_log SET actor = 'mallory'",
    "DELETE": "DELETE FROM audit_log WHERE id = 2",
    "DELETE the head": "DELETE FROM audit_chain",
    "move the head back": "UPDATE audit_chain SET last_id = 1",
    "DROP TABLE": "DROP TABLE audit_log",
}
SQLITE_ONLY = {
    "DROP TRIGGER": "DROP TRIGGER audit_log_no_update",
    "ALTER TABLE": "ALTER TABLE audit_log RENAME TO audit_log_old",
    "writable schema": "PRAGMA writable_schema = ON",
    "ATTACH": "ATTACH DATABASE 'other.sqlite3' AS other",
    "TEMP TRIGGER": "CREATE TEMP TRIGGER t AFTER INSERT ON audit_log BEGIN SELECT 1; END",
}
POSTGRES_ONLY = {
    "TRUNCATE": "TRUNCATE audit_log",
    "DISABLE TRIGGER": "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "DROP TRIGGER": "DROP TRIGGER audit_log_no_update_delete ON audit_log",
    "DROP FUNCTION": "DROP FUNCTION audit_log_append_only() CASCADE",
}


def _event(n: int) -> AuditEvent:
    return AuditEvent(at=dt.datetime(2026, 11, 21, 8, n, 1, 123456, tzinfo=dt.UTC), actor="alice",
                      action="patient.read", patient_key=f"p-{n}", detail=f"read {n}")


def _append(database: Database, count: int) -> None:
    for n in range(count):
        with database() as work:
            work.audit.append(_event(n))
            work.commit()


def _actors(database: Database) -> list[str]:
    with database() as work:
        return [e.actor for e in work.audit.export()]


def _verify(database: Database, expect: tuple[int, str] | None = None) -> list[str]:
    with database() as work:
        return list(work.audit.verify(expect=expect).problems)


def _refused(database: Database, statements: dict[str, str]) -> None:
    for name, statement in statements.items():
        with pytest.raises(DBAPIError), database.engine.begin() as connection:  # noqa: PT012
            connection.execute(text(statement))
            pytest.fail(f"{name} was accepted")
    assert _actors(database) == ["alice"] * 3
    assert _verify(database) == []


def test_sqlite_refuses_every_rewrite_from_the_application(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    upgrade_database(url)
    with Database(url) as database:
        _append(database, 3)
        _refused(database, {**REWRITES, **SQLITE_ONLY})
        _append(database, 1)  # and the log still takes new events
        assert _verify(database) == []


@pytest.fixture
def roles(postgres_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A database owned by its own role, and the server's role granted by ``db upgrade
    --app-role`` (URLs of both)."""
    tag = uuid.uuid4().hex[:8]
    owner, app, name = f"owner_{tag}", f"app_{tag}", f"roles_{tag}"
    admin = create_engine(postgres_server.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE ROLE "{owner}" LOGIN'))
            connection.execute(text(f'CREATE ROLE "{app}" LOGIN'))
            connection.execute(text(f'CREATE DATABASE "{name}" OWNER "{owner}"'))
            url = make_url(postgres_server.url_of(name))
        with admin.connect() as connection:
            yield (url.set(username=owner).render_as_string(hide_password=False),
                   url.set(username=app).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{app}"'))
            connection.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin.dispose()


def test_postgresql_application_role_cannot_rewrite_or_unprotect_the_log(
        roles: tuple[str, str], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    owner_url, app_url = roles
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", owner_url)
    app_role = make_url(app_url).username
    assert app_role is not None
    assert main(["db", "upgrade", "--app-role", app_role]) == 0
    assert f"granted {app_role!r}" in capsys.readouterr().out
    with Database(app_url) as database:
        _append(database, 3)
        _refused(database, {**REWRITES, **POSTGRES_ONLY})
        with database() as work:  # the rest of the application works as before
            work.patients.add(patient_key="p-1", record={"id": "p-1"})
            work.audit.append(_event(9))
            work.commit()
        assert _verify(database) == []
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", app_url)
    assert main(["db", "upgrade", "--app-role", app_role]) == 2  # the server's role owns nothing
    assert "which does not own the tables" in capsys.readouterr().err
    # The owner can go around the triggers; the chain shows it.
    owner = create_engine(owner_url)
    try:
        with owner.begin() as connection:
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            connection.execute(text("UPDATE audit_log SET detail = 'nothing to see' WHERE id = 2"))
            connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    finally:
        owner.dispose()
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", owner_url)
    assert main(["audit", "verify"]) == 3
    assert "event 2: its content does not match its hash (altered)" in capsys.readouterr().err


def _tamper(path: Path, *statements: str) -> None:
    """What someone with the SQLite file can do, going around every guard of the application."""
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("DROP TRIGGER audit_log_no_delete")
        for statement in statements:
            connection.execute(statement)


@pytest.mark.parametrize(("statements", "found"), [
    (("UPDATE audit_log SET actor = 'bob' WHERE id = 2",), "event 2: its content does not match"),
    (("DELETE FROM audit_log WHERE id = 2",), "event 3: its link to the event before does not"),
    (("DELETE FROM audit_log WHERE id = 5",), "the chain's head names event 5 but the last event"),
])
def test_verify_finds_a_rewrite_a_deletion_and_a_truncation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        statements: tuple[str, ...], found: str) -> None:
    path = tmp_path / "audit.sqlite3"
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", f"sqlite:///{path}")
    assert main(["db", "upgrade"]) == 0
    with Database(f"sqlite:///{path}") as database:
        _append(database, 4)
    assert main(["audit", "verify"]) == 0
    head = capsys.readouterr().out.split("head ", 1)[1].split("\n", 1)[0]
    assert head.startswith("4:")  # then the check itself is event 5
    _tamper(path, *statements)
    assert main(["audit", "verify"]) == 3
    assert found in capsys.readouterr().err


def test_an_anchor_catches_a_truncation_that_also_rewrote_the_head(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.sqlite3"
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", f"sqlite:///{path}")
    assert main(["db", "upgrade"]) == 0
    with Database(f"sqlite:///{path}") as database:
        _append(database, 4)
        with database() as work:
            anchor = work.audit.verify()
    _tamper(path, "DELETE FROM audit_log WHERE id >= 3",
             "DROP TRIGGER audit_chain_forward_only",
             "UPDATE audit_chain SET last_id = 2, last_hash = (SELECT hash FROM audit_log "
             "WHERE id = 2)")
    assert main(["audit", "verify"]) == 0  # a consistent shorter chain...
    assert main(["audit", "verify", "--expect", f"{anchor.last_id}:{anchor.last_hash}"]) == 3
    assert "event 4 of the anchor is missing" in capsys.readouterr().err
    assert main(["audit", "verify", "--expect", "4:nothex"]) == 2


def test_the_migration_chains_existing_events_and_is_reversible(database_url: str) -> None:
    """Events written before 0004 are chained in id order; down and up again keeps them."""
    with Database(database_url) as database:
        _append(database, 3)
        before = _actors(database)
    previous = r0004_hardening.down_revision  # whichever revision 0004 follows on main
    assert previous is not None
    assert downgrade_database(database_url, previous) == previous
    with Database(database_url) as database, database.engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM audit_log")).scalar() == 3
        connection.execute(text("INSERT INTO audit_log (at, actor, action, patient_key, detail) "
                                "VALUES ('2026-11-21 09:00:00', 'bob', 'auth.login', NULL, '')"))
    assert upgrade_database(database_url) == "0004"
    with Database(database_url) as database:
        assert _actors(database) == [*before, "bob"]
        assert _verify(database) == []
        _append(database, 1)
        assert _verify(database) == []
