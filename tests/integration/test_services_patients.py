"""The patient use cases on real storage (SQLite and PostgreSQL): roles, validation before writing,
stale edits, and an audit event in the same transaction as every read and write."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
from types import TracebackType
from typing import Any, Self

import pytest

from myositis_cds import bootstrap
from myositis_cds.adapters.storage import Database, SqlUnitOfWork
from myositis_cds.errors import (
    AlreadyExistsError,
    NotFoundError,
    PermissionDeniedError,
    RecordValidationError,
    StaleEditError,
)
from myositis_cds.services import audit, patients
from myositis_cds.services.ports import AuditEvent, User
from tests.conftest import TODAY, load_example

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
PARSE = bootstrap.make_parser(TODAY)


def user(role: str, *, name: str | None = None, active: bool = True) -> User:
    return User(username=name or role, password_hash="unused", role=role,  # type: ignore[arg-type]
                active=active, created_at=NOW)


CLINICIAN = user("clinician", name="dr-ada")
ADMIN = user("admin", name="root-admin")
RESEARCHER = user("researcher", name="res-ben")


def events(database: Database) -> list[AuditEvent]:
    with database() as work:
        return list(work.audit.export())


def actions(database: Database) -> list[tuple[str, str, str | None]]:
    return [(e.actor, e.action, e.patient_key) for e in events(database)]


@pytest.fixture
def document() -> dict[str, Any]:
    return load_example("juvenile")


def test_create_read_update_delete_and_list_are_audited(database: Database,
                                                        document: dict[str, Any]) -> None:
    created = patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    assert (created.patient_key, created.version) == ("ex-juvenile", 1)
    read = patients.read_patient(database, ADMIN, created.id)
    assert read.record == document
    changed = copy.deepcopy(document)
    changed["sex"] = "male"
    updated = patients.update_patient(database, CLINICIAN, created.id, changed, expected_version=1,
                                      parse=PARSE)
    assert (updated.version, updated.record["sex"]) == (2, "male")
    page = patients.list_patients(database, CLINICIAN, query="JUV")
    assert ([p.patient_key for p in page.patients], page.total) == (["ex-juvenile"], 1)
    patients.delete_patient(database, CLINICIAN, created.id, expected_version=2)
    with pytest.raises(NotFoundError, match=f"no stored patient with id {created.id}"):
        patients.read_patient(database, CLINICIAN, created.id)
    assert actions(database) == [
        ("dr-ada", "patient.create", "ex-juvenile"),
        ("root-admin", "patient.read", "ex-juvenile"),
        ("dr-ada", "patient.update", "ex-juvenile"),
        ("dr-ada", "patient.list", None),
        ("dr-ada", "patient.delete", "ex-juvenile"),
    ]


def test_audit_details_hold_no_patient_data(database: Database, document: dict[str, Any]) -> None:
    created = patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    patients.read_patient(database, CLINICIAN, created.id)
    patients.list_patients(database, CLINICIAN, query="juvenile")
    for audit_event in events(database):
        assert "2016-04-18" not in audit_event.detail  # the birth date
        assert "juvenile" not in audit_event.detail  # not even the search text


def test_invalid_record_refused_before_anything_is_written(database: Database,
                                                          document: dict[str, Any]) -> None:
    document["labs"][0]["value"] = -5
    with pytest.raises(RecordValidationError, match=r"\$\.labs\[0\]\.value: got -5"):
        patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    with database() as work:
        assert work.patients.count() == 0
    assert events(database) == []


def test_invalid_update_refused_and_stored_record_unchanged(database: Database,
                                                           document: dict[str, Any]) -> None:
    created = patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    broken = copy.deepcopy(document)
    broken["birth_date"] = "2030-01-01"
    with pytest.raises(RecordValidationError):
        patients.update_patient(database, CLINICIAN, created.id, broken, expected_version=1,
                                parse=PARSE)
    assert patients.read_patient(database, CLINICIAN, created.id).record == document


def test_stale_edit_refused_with_message_and_nothing_changed(database: Database,
                                                            document: dict[str, Any]) -> None:
    created = patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    first, second = copy.deepcopy(document), copy.deepcopy(document)
    first["sex"], second["sex"] = "male", "other"
    patients.update_patient(database, CLINICIAN, created.id, first, expected_version=1, parse=PARSE)
    with pytest.raises(StaleEditError) as caught:
        patients.update_patient(database, ADMIN, created.id, second, expected_version=1, parse=PARSE)
    assert str(caught.value) == (
        "patient ex-juvenile has changed since your copy was read (now version 2, your edit was based on 1): "
        "reload and apply your change again")
    with pytest.raises(StaleEditError):
        patients.delete_patient(database, ADMIN, created.id, expected_version=1)
    current = patients.read_patient(database, CLINICIAN, created.id)
    assert (current.version, current.record["sex"]) == (2, "male")
    assert [a for _, a, _ in actions(database)] == ["patient.create", "patient.update",
                                                    "patient.read"]


def test_duplicate_patient_refused(database: Database, document: dict[str, Any]) -> None:
    patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    with pytest.raises(AlreadyExistsError, match="'ex-juvenile' is already stored"):
        patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    assert [a for _, a, _ in actions(database)] == ["patient.create"]


class FailingCommit:
    """A unit of work whose commit fails (a lost connection, a full disk) after the writes."""

    def __init__(self, database: Database) -> None:
        self._work: SqlUnitOfWork = database()

    def __enter__(self) -> Self:
        self._work.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._work.__exit__(exc_type, exc, tb)

    @property
    def patients(self) -> Any:
        return self._work.patients

    @property
    def users(self) -> Any:
        return self._work.users

    @property
    def audit(self) -> Any:
        return self._work.audit

    @property
    def patient_list(self) -> Any:
        return self._work.patient_list

    @property
    def views(self) -> Any:
        return self._work.views

    def commit(self) -> None:
        self._work.session.flush()
        msg = "connection lost during commit"
        raise ConnectionError(msg)

    def rollback(self) -> None:
        self._work.rollback()


def test_a_failed_write_leaves_neither_the_write_nor_its_audit_event(database: Database,
                                                                    document: dict[str, Any]) -> None:
    with pytest.raises(ConnectionError):
        patients.create_patient(lambda: FailingCommit(database), CLINICIAN, document, parse=PARSE)
    with database() as work:
        assert work.patients.count() == 0
    assert events(database) == []
    created = patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    changed = copy.deepcopy(document)
    changed["sex"] = "male"
    with pytest.raises(ConnectionError):
        patients.update_patient(lambda: FailingCommit(database), CLINICIAN, created.id, changed,
                                expected_version=1, parse=PARSE)
    with database() as work:
        stored = work.patients.get(created.id)
    assert stored is not None
    assert (stored.version, stored.record["sex"]) == (1, "female")
    assert [a for _, a, _ in actions(database)] == ["patient.create"]


@pytest.mark.parametrize("actor", [RESEARCHER, user("clinician", name="gone", active=False)],
                         ids=["researcher", "disabled-clinician"])
def test_identifiable_access_refused_and_the_refusal_audited(database: Database,
                                                            document: dict[str, Any],
                                                            actor: User) -> None:
    created = patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    with pytest.raises(PermissionDeniedError, match="permission denied"):
        patients.read_patient(database, actor, created.id)
    with pytest.raises(PermissionDeniedError):
        patients.list_patients(database, actor)
    with pytest.raises(PermissionDeniedError):
        patients.update_patient(database, actor, created.id, document, expected_version=1,
                                parse=PARSE)
    with pytest.raises(PermissionDeniedError):
        patients.delete_patient(database, actor, created.id, expected_version=1)
    other = copy.deepcopy(document)
    other["id"] = "ex-other"
    with pytest.raises(PermissionDeniedError):
        patients.create_patient(database, actor, other, parse=PARSE)
    logged = events(database)
    assert [e.action for e in logged] == ["patient.create"] + ["access.denied"] * 5
    assert {e.actor for e in logged[1:]} == {actor.username}
    assert logged[1].detail.startswith("patient.read refused for role")
    with database() as work:
        assert work.patients.count() == 1


def test_researcher_message_names_the_role_and_remedy(database: Database) -> None:
    with pytest.raises(PermissionDeniedError) as caught:
        patients.read_patient(database, RESEARCHER, 1)
    assert str(caught.value) == ("permission denied: the role 'researcher' may not read identifiable "
                                 "patient records; this needs the role admin or clinician")


def test_list_pages(database: Database, document: dict[str, Any]) -> None:
    for index in range(7):
        document["id"] = f"demo-{index:03}"
        patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    page = patients.list_patients(database, CLINICIAN, query="demo", limit=3, offset=3)
    assert [p.patient_key for p in page.patients] == ["demo-003", "demo-004", "demo-005"]
    assert (page.total, page.limit, page.offset) == (7, 3, 3)


def test_admin_exports_the_audit_log(database: Database, document: dict[str, Any]) -> None:
    created = patients.create_patient(database, CLINICIAN, document, parse=PARSE)
    patients.read_patient(database, CLINICIAN, created.id)
    out = io.StringIO()
    assert audit.export_audit_events(database, ADMIN, out) == 2
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["actor"], line["action"], line["patient_key"]) for line in lines] == [
        ("dr-ada", "patient.create", "ex-juvenile"), ("dr-ada", "patient.read", "ex-juvenile")]
    csv_out = io.StringIO()
    audit.export_audit_events(database, ADMIN, csv_out, fmt="csv")
    assert csv_out.getvalue().splitlines()[0] == "at,actor,action,patient_key,detail"
    listed = audit.list_audit_events(database, ADMIN, limit=1)
    assert [e.action for e in listed] == ["audit.export"]
    with pytest.raises(PermissionDeniedError):
        audit.export_audit_events(database, CLINICIAN, io.StringIO())
