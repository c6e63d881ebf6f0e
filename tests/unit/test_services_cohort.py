"""The de-identified cohort use case: pseudonyms, no identifiers or dates, one audit event."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from myositis_cds import bootstrap
from myositis_cds.errors import PermissionDeniedError
from myositis_cds.services import patients
from myositis_cds.services.cohort import deidentified_cohort
from myositis_cds.services.ports import SystemActor
from myositis_cds.stats.synthetic_cohort import synthesize
from tests.unit.fakes import FakeDatabase

TODAY = dt.date(2026, 11, 21)


def _stored(documents: list[dict[str, object]]) -> FakeDatabase:
    db = FakeDatabase()
    parse = bootstrap.make_parser(TODAY)
    for document in documents:
        patients.create_patient(db, SystemActor(username="loader"), document, parse=parse)
    return db


def test_researcher_gets_pseudonyms_and_one_audit_event() -> None:
    documents = synthesize(12, seed=5, today=TODAY)
    documents[0] = {**documents[0], "id": "real-patient-key", "birth_date": "1920-02-03"}
    db = _stored(documents)
    before = len(db.committed.audit)
    cohort = deidentified_cohort(db, SystemActor(username="rita", role="researcher"),
                                 parse=bootstrap.make_parser(TODAY), params=bootstrap.default_params(),
                                 as_of=TODAY)
    assert [p.key for p in cohort.patients] == [f"P{i:04d}" for i in range(1, 13)]
    assert cohort.synthetic is False  # one key does not start with "synthetic-"
    text = repr([dataclasses.asdict(p) for p in cohort.patients]) + repr(cohort.titer_model.to_dict())
    assert "real-patient-key" not in text
    assert "synthetic-" not in text
    assert "1920" not in text
    ages = [p.features["age_at_diagnosis"] for p in cohort.patients]
    assert [a for a in ages if a is not None] == [90]  # ≥ 90 shown as 90 (HIPAA Safe Harbor)
    assert "2026-" not in text  # no dates at all
    events = db.committed.audit[before:]
    assert [(e.action, e.actor, e.patient_key, e.detail) for e in events] == [
        ("cohort.export", "rita", None, "de-identified cohort of 12 patients")]


def test_disabled_account_is_refused_and_audited() -> None:
    db = _stored(synthesize(4, seed=1, today=TODAY))
    before = len(db.committed.audit)
    with pytest.raises(PermissionDeniedError, match="disabled"):
        deidentified_cohort(db, SystemActor(username="gone", role="researcher", active=False),
                            parse=bootstrap.make_parser(TODAY), params=bootstrap.default_params(),
                            as_of=TODAY)
    assert [e.action for e in db.committed.audit[before:]] == ["access.denied"]
