"""The SQLAlchemy storage on SQLite and PostgreSQL: migrations, repositories, transactions, and the
append-only audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from myositis_cds.adapters.storage import (
    Database,
    check_database,
    display_url,
    head_revision,
    make_engine,
    normalise_url,
    upgrade_database,
)
from myositis_cds.errors import (
    AlreadyExistsError,
    DatabaseNotReadyError,
    NotFoundError,
    StaleEditError,
)
from myositis_cds.services.ports import AuditEvent, AuditQuery, StoredPatient, User
from tests.integration.conftest import PostgresServer

UTC = dt.UTC


def record(key: str, **extra: object) -> dict[str, object]:
    return {"format": "myositis-cds/patient-record@1", "id": key, **extra}


def add(database: Database, key: str, **extra: object) -> StoredPatient:
    with database() as work:
        stored = work.patients.add(patient_key=key, record=record(key, **extra))
        work.commit()
    return stored


def event(action: str = "patient.read", *, actor: str = "alice", key: str | None = "demo-001",
          at: dt.datetime | None = None) -> AuditEvent:
    return AuditEvent(at=at or dt.datetime.now(UTC), actor=actor, action=action,  # type: ignore[arg-type]
                      patient_key=key, detail="test")


def test_migrations_upgrade_an_empty_database(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with pytest.raises(DatabaseNotReadyError, match=r"has no tables yet.*myositis-cds db upgrade"):
            check_database(engine)
        assert upgrade_database(empty_database_url) == head_revision()
        assert {"patients", "users", "audit_log", "alembic_version"} <= set(
            inspect(engine).get_table_names())
        check_database(engine)
        assert upgrade_database(empty_database_url) == head_revision()  # a second run is a no-op
    finally:
        engine.dispose()


def test_a_missing_table_is_database_not_ready_on_both_backends(empty_database_url: str) -> None:
    # SQLite says OperationalError and PostgreSQL ProgrammingError; callers see one error.
    with Database(empty_database_url) as database, database() as work:
        with pytest.raises(DatabaseNotReadyError, match="myositis-cds db upgrade"):
            work.patients.count()
        work.rollback()
        with pytest.raises(DatabaseNotReadyError, match="myositis-cds db upgrade"):
            work.users.get("alice")


def test_create_read_by_id_and_key(database: Database) -> None:
    stored = add(database, "demo-001", sex="female")
    assert stored.version == 1
    assert stored.created_at.tzinfo is UTC
    assert stored.created_at == stored.updated_at
    with database() as work:
        by_id = work.patients.get(stored.id)
        by_key = work.patients.get_by_key("demo-001")
        assert work.patients.get(stored.id + 1000) is None
        assert work.patients.get_by_key("nobody") is None
    assert by_id == by_key == stored
    assert by_id is not None
    assert by_id.record == record("demo-001", sex="female")
    assert "sex" not in repr(by_id)  # patient data stays out of reprs (and logs)


def test_duplicate_key_refused_and_nothing_half_written(database: Database) -> None:
    add(database, "demo-001")
    add(database, "demo-002")
    with database() as work:
        work.patients.add(patient_key="demo-003", record=record("demo-003"))
        work.audit.append(event("patient.create", key="demo-003"))
        with pytest.raises(AlreadyExistsError, match="'demo-002' is already stored"):
            work.patients.add(patient_key="demo-002", record=record("demo-002"))
    with database() as work:
        assert [p.patient_key for p in work.patients.list()] == ["demo-001", "demo-002"]
        assert work.audit.list() == []


def test_leaving_without_commit_rolls_back(database: Database) -> None:
    with database() as work:
        work.patients.add(patient_key="demo-001", record=record("demo-001"))
        work.audit.append(event("patient.create"))
    def fail_midway() -> None:
        with database() as work:
            work.patients.add(patient_key="demo-002", record=record("demo-002"))
            msg = "boom"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    with database() as work:
        assert work.patients.count() == 0
        assert work.audit.list() == []


def test_list_search_limit_and_offset(database: Database) -> None:
    for key in ("demo-003", "demo-001", "other_1", "DEMO-002", "demo%5"):
        add(database, key)
    with database() as work:
        assert [p.patient_key for p in work.patients.list()] == [
            "DEMO-002", "demo%5", "demo-001", "demo-003", "other_1"]
        assert [p.patient_key for p in work.patients.list(query="demo-")] == [
            "DEMO-002", "demo-001", "demo-003"]
        assert work.patients.count(query="Demo") == 4
        assert [p.patient_key for p in work.patients.list(query="demo", limit=2, offset=1)] == [
            "demo%5", "demo-001"]
        assert [p.patient_key for p in work.patients.list(query="%")] == ["demo%5"]
        assert [p.patient_key for p in work.patients.list(query="r_")] == ["other_1"]
        assert work.patients.list(query="zzz") == []


def test_update_increments_version(database: Database) -> None:
    stored = add(database, "demo-001")
    changed = StoredPatient(id=stored.id, patient_key="demo-001", record=record("demo-001", sex="male"),
                            version=stored.version, created_at=stored.created_at,
                            updated_at=stored.updated_at)
    with database() as work:
        updated = work.patients.update(changed, expected_version=1)
        work.commit()
    assert updated.version == 2
    assert updated.record["sex"] == "male"
    assert updated.created_at == stored.created_at
    assert updated.updated_at >= stored.updated_at


def test_stale_update_refused_and_nothing_changed(database: Database) -> None:
    stored = add(database, "demo-001", sex="female")
    # Two clinicians opened version 1; the first saves, the second's save is stale.
    first = StoredPatient(id=stored.id, patient_key="demo-001", record=record("demo-001", sex="male"),
                          version=1, created_at=stored.created_at, updated_at=stored.updated_at)
    second = StoredPatient(id=stored.id, patient_key="demo-001",
                           record=record("demo-001", sex="other"), version=1,
                           created_at=stored.created_at, updated_at=stored.updated_at)
    with database() as work:
        work.patients.update(first, expected_version=1)
        work.commit()
    with database() as work, pytest.raises(StaleEditError) as caught:
        work.patients.update(second, expected_version=1)
    assert str(caught.value) == (
        "patient demo-001 has changed since your copy was read (now version 2, your edit was based on 1): "
        "reload and apply your change again")
    with database() as work:
        current = work.patients.get(stored.id)
    assert current is not None
    assert (current.version, current.record["sex"]) == (2, "male")


def test_update_to_a_taken_key_refused(database: Database) -> None:
    add(database, "demo-001")
    stored = add(database, "demo-002")
    renamed = StoredPatient(id=stored.id, patient_key="demo-001", record=record("demo-001"),
                            version=1, created_at=stored.created_at, updated_at=stored.updated_at)
    with pytest.raises(AlreadyExistsError), database() as work:
        work.patients.update(renamed, expected_version=1)


def test_delete_with_version(database: Database) -> None:
    stored = add(database, "demo-001")
    with pytest.raises(StaleEditError, match="version 1, your edit was based on 7"), \
            database() as work:
        work.patients.delete(stored.id, expected_version=7)
    with database() as work:
        work.patients.delete(stored.id, expected_version=1)
        work.commit()
    with database() as work:
        assert work.patients.get(stored.id) is None
    with pytest.raises(NotFoundError, match="no longer exists"), database() as work:
        work.patients.delete(stored.id, expected_version=1)
    with pytest.raises(NotFoundError, match="no longer exists"), database() as work:
        work.patients.update(stored, expected_version=1)


def test_users_repository(database: Database) -> None:
    now = dt.datetime.now(UTC)
    with database() as work:
        for name, role in (("zoe", "researcher"), ("alice", "clinician")):
            work.users.add(User(username=name, password_hash=f"$argon2id$fake-{name}",
                                role=role, active=True, created_at=now))  # type: ignore[arg-type]
        work.commit()
    with pytest.raises(AlreadyExistsError, match="'alice' already exists"), database() as work:
        work.users.add(User(username="alice", password_hash="x", role="admin", active=True,
                            created_at=now))
    with database() as work:
        assert work.users.set_active("zoe", active=False).active is False
        work.users.set_password_hash("alice", "$argon2id$new")
        work.commit()
    with database() as work:
        listed = work.users.list()
        assert [(u.username, u.role, u.active) for u in listed] == [
            ("alice", "clinician", True), ("zoe", "researcher", False)]
        alice = work.users.get("alice")
        assert alice is not None
        assert alice.password_hash == "$argon2id$new"
        assert alice.created_at.tzinfo is UTC
        assert work.users.get("nobody") is None
        with pytest.raises(NotFoundError):
            work.users.set_active("nobody", active=False)


def test_audit_log_filters_list_and_export(database: Database) -> None:
    start = dt.datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    with database() as work:
        work.audit.append(event("patient.read", actor="alice", key="demo-001", at=start))
        work.audit.append(event("patient.update", actor="bob", key="demo-001",
                                at=start + dt.timedelta(hours=1)))
        work.audit.append(event("auth.login", actor="bob", key=None,
                                at=start + dt.timedelta(hours=2)))
        work.commit()
    with database() as work:
        assert [e.action for e in work.audit.list()] == ["auth.login", "patient.update",
                                                          "patient.read"]
        assert [e.action for e in work.audit.list(AuditQuery(actor="bob"))] == [
            "auth.login", "patient.update"]
        assert [e.actor for e in work.audit.list(AuditQuery(patient_key="demo-001"))] == [
            "bob", "alice"]
        assert [e.action for e in work.audit.list(AuditQuery(action="patient.read"))] == [
            "patient.read"]
        window = AuditQuery(since=start + dt.timedelta(hours=1), until=start + dt.timedelta(hours=2))
        assert [e.action for e in work.audit.list(window)] == ["patient.update"]
        assert [e.action for e in work.audit.list(limit=1, offset=1)] == ["patient.update"]
        exported = list(work.audit.export())
    assert [e.action for e in exported] == ["patient.read", "patient.update", "auth.login"]
    assert exported[0] == event("patient.read", actor="alice", key="demo-001", at=start)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor = 'mallory'",
    "DELETE FROM audit_log",
])
def test_audit_log_refuses_update_and_delete_in_the_database(database: Database,
                                                              statement: str) -> None:
    with database() as work:
        work.audit.append(event())
        work.commit()
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))
    with database() as work:
        assert [e.actor for e in work.audit.list()] == ["alice"]


def test_audit_log_refuses_truncate_on_postgresql(postgres_server: PostgresServer) -> None:
    name = postgres_server.create_database(migrated=True)
    try:
        with Database(postgres_server.url_of(name)) as database:
            with database() as work:
                work.audit.append(event())
                work.commit()
            with pytest.raises(DBAPIError, match="append-only"), \
                    database.engine.begin() as connection:
                connection.execute(text("TRUNCATE audit_log"))
    finally:
        postgres_server.drop_database(name)


def test_audit_repository_has_no_way_to_change_events(database: Database) -> None:
    with database() as work:
        assert not {"update", "delete", "remove", "clear"} & set(dir(work.audit))


def test_sqlite_file_with_its_folder_foreign_keys_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "cds.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()
    assert path.is_file()


def test_urls() -> None:
    assert normalise_url("postgres://u:secret@db/cds").drivername == "postgresql+psycopg"
    assert normalise_url("postgresql://u@db/cds").drivername == "postgresql+psycopg"
    assert display_url("postgresql+psycopg://u:secret@db/cds") == "postgresql+psycopg://u:***@db/cds"
