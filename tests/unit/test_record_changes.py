"""Entry-level changes merged onto the latest version: disjoint changes apply, real conflicts are
refused with what is stored now and who changed it, and every change is one audit event."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from myositis_cds import bootstrap
from myositis_cds.errors import ChangeValidationError, EntryConflictError, NotFoundError
from myositis_cds.services import patients
from myositis_cds.services.ports import SystemActor, User
from myositis_cds.services.record_changes import (
    AddEntries,
    DeleteEntry,
    ReplaceEntry,
    SetDetails,
    apply_change,
    change_patient,
    entry_digest,
)
from tests.conftest import TODAY, load_example
from tests.unit.fakes import FakeDatabase

PARSE = bootstrap.make_parser(TODAY)
SETUP = SystemActor(username="test:setup")
LAB = {"test": "CK", "value": 900, "unit": "U/L", "uln": 200, "date": "2026-03-01"}
FINDING = {"code": "dysphagia", "present": False, "date": "2026-03-01"}


def clinician(name: str) -> User:
    return User(username=name, password_hash="unused", role="clinician", active=True,
                created_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))


ANNA, BEN = clinician("anna"), clinician("ben")


def _at(document: dict[str, object], key: str) -> Any:
    return document[key]


@pytest.fixture
def record() -> dict[str, Any]:
    return copy.deepcopy(load_example("juvenile"))


def test_additions_append_and_name_their_paths(record: dict[str, Any]) -> None:
    before = len(record["labs"])
    applied = apply_change(record, AddEntries(entries=(("labs", LAB), ("findings", FINDING))))
    assert _at(applied.document, "labs")[-1] == LAB
    assert applied.paths == (f"$.labs[{before}]", f"$.findings[{len(record['findings'])}]")
    assert len(record["labs"]) == before  # the input is not changed


def test_a_correction_finds_its_entry_after_others_moved_it(record: dict[str, Any]) -> None:
    target = copy.deepcopy(record["labs"][2])
    del record["labs"][0]  # someone deleted an earlier lab: the target is now at index 1
    corrected = {**target, "value": 123}
    applied = apply_change(record, ReplaceEntry(key="labs", index=2, before=target, after=corrected))
    assert _at(applied.document, "labs")[1] == corrected
    assert applied.paths == ("$.labs[1]",)


def test_a_changed_entry_is_a_conflict_showing_its_current_form(record: dict[str, Any]) -> None:
    target = copy.deepcopy(record["labs"][0])
    record["labs"][0]["value"] = 4321  # someone else corrected the same lab
    with pytest.raises(Exception, match="lab result") as caught:
        apply_change(record, ReplaceEntry(key="labs", index=0, before=target,
                                          after={**target, "value": 1}))
    assert getattr(caught.value, "current") == record["labs"][0]  # noqa: B009 - internal signal
    assert getattr(caught.value, "index") == 0  # noqa: B009


def test_a_deleted_entry_is_a_conflict_without_a_current_form(record: dict[str, Any]) -> None:
    target = record["treatments"].pop(0)
    with pytest.raises(Exception, match="treatment") as caught:
        apply_change(record, DeleteEntry(key="treatments", index=0, before=target,
                                         reason="duplicate"))
    assert getattr(caught.value, "current") is None  # noqa: B009


def test_details_merge_field_by_field(record: dict[str, Any]) -> None:
    loaded = {"sex": record["sex"], "birth_date": record["birth_date"]}
    record["diagnosis"]["date"] = "2026-01-02"  # someone else changed another detail
    applied = apply_change(record, SetDetails(before=loaded, after={**loaded, "sex": "other"}))
    assert applied.document["sex"] == "other"
    assert _at(applied.document, "diagnosis")["date"] == "2026-01-02"
    record["sex"] = "unknown"  # ...and now the same detail
    with pytest.raises(Exception, match="patient details") as caught:
        apply_change(record, SetDetails(before=loaded, after={**loaded, "sex": "other"}))
    assert getattr(caught.value, "fields") == ("sex",)  # noqa: B009


def test_two_clinicians_additions_from_one_version_both_land() -> None:
    db = FakeDatabase()
    stored = patients.create_patient(db, SETUP, load_example("juvenile"), parse=PARSE)
    first = change_patient(db, ANNA, stored.id, AddEntries(entries=(("labs", LAB),)),
                           base_version=1, parse=PARSE)
    second = change_patient(db, BEN, stored.id, AddEntries(entries=(("findings", FINDING),)),
                            base_version=1, parse=PARSE)
    assert (first.merged, second.merged) == (False, True)
    assert second.stored.version == 3
    record = db.committed.patients[stored.id].record
    assert LAB in record["labs"]  # type: ignore[operator]
    assert FINDING in record["findings"]  # type: ignore[operator]
    details = [e.detail for e in db.committed.audit if e.action == "patient.update"]
    assert details == ["id 1, version 1 → 2: added 1 lab result",
                       "id 1, version 2 → 3: added 1 finding; applied to version 2 (the form was "
                       "loaded at version 1)"]


def test_a_real_conflict_names_who_changed_it_and_writes_nothing() -> None:
    db = FakeDatabase()
    stored = patients.create_patient(db, SETUP, load_example("juvenile"), parse=PARSE)
    lab = dict(stored.record["labs"][0])  # type: ignore[index]
    change_patient(db, ANNA, stored.id,
                   ReplaceEntry(key="labs", index=0, before=lab, after={**lab, "value": 111}),
                   base_version=1, parse=PARSE)
    audit_before = len(db.committed.audit)
    with pytest.raises(EntryConflictError) as caught:
        change_patient(db, ANNA, stored.id,
                       ReplaceEntry(key="labs", index=0, before=lab, after={**lab, "value": 222}),
                       base_version=1, parse=PARSE)
    conflict = caught.value
    assert (conflict.changed_by, conflict.current_version, conflict.base_version) == ("anna", 2, 1)
    assert conflict.current == {**lab, "value": 111}
    assert "changed since your form was loaded" in str(conflict)
    assert db.committed.patients[stored.id].version == 2
    assert len(db.committed.audit) == audit_before
    # Re-applied on the current entry (one click on the form): it lands.
    again = change_patient(db, ANNA, stored.id,
                           ReplaceEntry(key="labs", index=0, before={**lab, "value": 111},
                                        after={**lab, "value": 222}),
                           base_version=2, parse=PARSE)
    assert again.stored.record["labs"][0]["value"] == 222  # type: ignore[index]


def test_an_invalid_result_names_the_changed_entries_paths() -> None:
    db = FakeDatabase()
    stored = patients.create_patient(db, SETUP, load_example("juvenile"), parse=PARSE)
    bad = {**LAB, "value": -5}
    with pytest.raises(ChangeValidationError) as caught:
        change_patient(db, ANNA, stored.id, AddEntries(entries=(("labs", bad),)), base_version=1,
                       parse=PARSE)
    index = len(stored.record["labs"])  # type: ignore[arg-type]
    assert caught.value.paths == (f"$.labs[{index}]",)
    assert [e.path for e in caught.value.errors] == [f"$.labs[{index}].value"]
    assert db.committed.patients[stored.id].version == 1


def test_deleting_an_entry_is_audited_with_its_reason() -> None:
    db = FakeDatabase()
    stored = patients.create_patient(db, SETUP, load_example("juvenile"), parse=PARSE)
    lab = dict(stored.record["labs"][1])  # type: ignore[index]
    outcome = change_patient(db, BEN, stored.id,
                             DeleteEntry(key="labs", index=1, before=lab, reason="entered_in_error"),
                             base_version=1, parse=PARSE)
    assert entry_digest(lab) not in {entry_digest(e) for e in outcome.stored.record["labs"]}  # type: ignore[attr-defined]
    last = db.committed.audit[-1]
    assert (last.actor, last.action, last.patient_key) == ("ben", "patient.entry_delete",
                                                            "ex-juvenile")
    assert last.detail == "id 1, version 1 → 2: deleted a lab result (reason: entered in error)"
    with pytest.raises(ValueError, match="reason: got 'bored'"):
        change_patient(db, BEN, stored.id, DeleteEntry(key="labs", index=0, before=lab,
                                                       reason="bored"),
                       base_version=2, parse=PARSE)
    with pytest.raises(NotFoundError):
        change_patient(db, BEN, 999, AddEntries(entries=(("labs", LAB),)), base_version=1,
                       parse=PARSE)
