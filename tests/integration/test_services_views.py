"""Stored patient views on real storage (SQLite and PostgreSQL): reused only for exactly the same
version, date and fingerprint; never kept for a patient that changed; gone with the patient;
pre-rendering audits every read and skips what is current."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from myositis_cds import bootstrap
from myositis_cds.adapters.storage import Database
from myositis_cds.errors import PermissionDeniedError
from myositis_cds.services import patients, views
from myositis_cds.services.ports import StoredPatient, StoredView, SystemActor, User
from tests.conftest import TODAY, load_example

PARSE = bootstrap.make_parser(TODAY)
ACTOR = SystemActor(username="test:views")
NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
RESEARCHER = User(username="rita", password_hash="unused", role="researcher", active=True,
                  created_at=NOW)
DAY = dt.date(2026, 11, 21)


def view(stored: StoredPatient, *, as_of: dt.date = DAY, fingerprint: str = "f1",
         body: bytes = b"page", alerts: int = 1) -> StoredView:
    return StoredView(patient_id=stored.id, version=stored.version, as_of=as_of,
                      fingerprint=fingerprint, body=body, summary={"alerts": alerts})


@pytest.fixture
def stored(database: Database) -> StoredPatient:
    return patients.create_patient(database, ACTOR, load_example("juvenile"), parse=PARSE)


def read(database: Database, stored: StoredPatient, *, as_of: dt.date = DAY,
         fingerprint: str = "f1") -> bytes | None:
    return patients.read_patient_with_view(database, ACTOR, stored.id, as_of=as_of,
                                           fingerprint=fingerprint)[1]


def test_a_view_is_reused_only_for_the_same_version_date_and_fingerprint(
        database: Database, stored: StoredPatient) -> None:
    assert read(database, stored) is None
    assert views.save_view(database, view(stored, body=b"one"))
    assert read(database, stored) == b"one"
    assert read(database, stored, as_of=DAY - dt.timedelta(days=1)) is None
    assert read(database, stored, fingerprint="f2") is None
    assert views.save_view(database, view(stored, body=b"two"))  # replaced in place
    assert read(database, stored) == b"two"
    changed: dict[str, Any] = copy.deepcopy(dict(stored.record))
    changed["sex"] = "male"
    patients.update_patient(database, ACTOR, stored.id, changed, expected_version=1, parse=PARSE)
    assert read(database, stored) is None  # version 2 has no view yet
    assert not views.save_view(database, view(stored, body=b"stale"))  # made from version 1


def test_reading_with_a_view_is_one_audited_read_and_keeps_the_roles(
        database: Database, stored: StoredPatient) -> None:
    with database() as work:
        before = sum(1 for _ in work.audit.export())
    patients.read_patient_with_view(database, ACTOR, stored.id, as_of=DAY, fingerprint="f1")
    with database() as work:
        events = list(work.audit.export())
    assert len(events) == before + 1
    assert (events[-1].action, events[-1].patient_key) == ("patient.read", "ex-juvenile")
    with pytest.raises(PermissionDeniedError):
        patients.read_patient_with_view(database, RESEARCHER, stored.id, as_of=DAY,
                                        fingerprint="f1")


def test_views_go_with_their_patient(database: Database, stored: StoredPatient) -> None:
    views.save_view(database, view(stored))
    patients.delete_patient(database, ACTOR, stored.id, expected_version=1)
    with database() as work:
        assert work.views.get(stored.id, "f1") is None
    assert not views.save_view(database, view(stored))


def test_pre_rendering_renders_what_is_missing_and_audits_each_read(database: Database) -> None:
    names = ["juvenile", "non-severe", "severe-ild"]
    stored = [patients.create_patient(database, ACTOR, load_example(n), parse=PARSE) for n in names]
    views.save_view(database, view(stored[0], body=b"current"))
    rendered: list[tuple[str, dt.date]] = []

    def render(patient: StoredPatient, as_of: dt.date) -> tuple[bytes, dict[str, int]]:
        rendered.append((patient.patient_key, as_of))
        return f"{patient.patient_key}@{as_of}".encode(), {"alerts": len(rendered)}

    summary = views.render_views(database, ACTOR, as_of=DAY, fingerprint="f1", render=render)
    assert (summary.rendered, summary.current, summary.invalid) == (2, 1, 0)
    assert sorted(rendered) == [("ex-non-severe", DAY), ("ex-severe-ild", DAY)]
    assert read(database, stored[2]) == b"ex-severe-ild@2026-11-21"
    listed = patients.list_patients(database, ACTOR, views_of=(DAY, "f1"))
    assert {p.patient_key: listed.summaries.get(p.id) for p in listed.patients} == {
        "ex-juvenile": {"alerts": 1}, "ex-non-severe": {"alerts": 1}, "ex-severe-ild": {"alerts": 2}}
    assert read(database, stored[0]) == b"current"
    with database() as work:
        details = [e.detail for e in work.audit.export() if "pre-rendered" in e.detail]
    assert len(details) == 2
    again = views.render_views(database, ACTOR, as_of=DAY, fingerprint="f1", render=render)
    assert (again.rendered, again.current) == (0, 3)
    with pytest.raises(PermissionDeniedError):
        views.render_views(database, RESEARCHER, as_of=DAY, fingerprint="f1", render=render)


def test_the_list_carries_only_current_summaries(database: Database, stored: StoredPatient) -> None:
    assert patients.list_patients(database, ACTOR).summaries == {}
    views.save_view(database, view(stored, alerts=3))
    assert patients.list_patients(database, ACTOR, views_of=(DAY, "f1")).summaries == {
        stored.id: {"alerts": 3}}
    for other in ((DAY - dt.timedelta(days=1), "f1"), (DAY, "f2")):
        assert patients.list_patients(database, ACTOR, views_of=other).summaries == {}
    changed: dict[str, Any] = copy.deepcopy(dict(stored.record))
    changed["sex"] = "male"
    patients.update_patient(database, ACTOR, stored.id, changed, expected_version=1, parse=PARSE)
    assert patients.list_patients(database, ACTOR, views_of=(DAY, "f1")).summaries == {}
