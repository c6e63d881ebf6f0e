"""The patient list (worklist) on SQLite and PostgreSQL, and its in-memory fake: summaries made
from the typed results, kept with the page, sorted and filtered by what needs attention, refreshed
only for the rows shown when they are no longer current; one audited ``patient.list`` per page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from myositis_cds.adapters.storage import Database
from myositis_cds.bootstrap import default_params, make_live_parser
from myositis_cds.errors import PermissionDeniedError
from myositis_cds.services import patients
from myositis_cds.services.patient_list import list_patient_page, summarise
from myositis_cds.services.patient_results import patient_results
from myositis_cds.services.ports import (
    PatientListQuery,
    PatientSummary,
    SystemActor,
    UnitOfWorkFactory,
    User,
)
from tests.conftest import TODAY, load_example
from tests.postgres import BACKENDS, database_url_on
from tests.unit.fakes import FakeDatabase

ACTOR = SystemActor(username="test:list")
FINGERPRINT = "f" * 64
EXAMPLES = ("refractory-3-months", "incomplete-data", "non-severe", "over-40-no-screening",
            "drug-free-remission")


@pytest.fixture(params=[*BACKENDS, "fake"])
def uow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
    if request.param == "fake":
        yield FakeDatabase()
        return
    for url in database_url_on(request.param, request, tmp_path, migrated=True):
        with Database(url) as database:
            yield database


def _store(uow: UnitOfWorkFactory) -> dict[str, int]:
    return {name: patients.create_patient(uow, ACTOR, load_example(name), parse=make_live_parser()).id
            for name in EXAMPLES}


def _page(uow: UnitOfWorkFactory, **query: object) -> list[str]:
    page = list_patient_page(uow, ACTOR, PatientListQuery(**query),  # type: ignore[arg-type]
                             as_of=TODAY, fingerprint=FINGERPRINT, parse=make_live_parser(),
                             params=default_params())
    return [row.patient.patient_key.removeprefix("ex-") for row in page.rows]


def test_the_summary_says_what_needs_attention(uow: UnitOfWorkFactory) -> None:
    ids = _store(uow)
    with uow() as work:
        stored = work.patients.get(ids["refractory-3-months"])
    assert stored is not None
    results = patient_results(stored.record, parse=make_live_parser(), as_of=TODAY,
                              params=default_params())
    summary = summarise(stored, results, fingerprint=FINGERPRINT, params=default_params())
    assert (summary.critical, summary.warning, summary.info) == (0, 1, 0)  # bloods overdue
    # the cancer screen due 2026-07-10; Pneumocystis prophylaxis missing since 2026-08-10 (4 weeks
    # of prednisone >= 20 mg/day); methotrexate monitoring bloods of 2026-10-19 not done
    assert summary.overdue == 3
    assert summary.phase == "refractory"
    assert summary.inadequate is True  # TIS 12.5 after 3 months
    assert (summary.next_due, summary.next_due_date, summary.next_due_status) == (
        "screening", dt.date(2026, 7, 10), "overdue")
    assert summary.age == 38
    assert summary.sex == "female"
    assert summary.recheck_on is not None
    assert summary.recheck_on > TODAY
    assert summary.current_on(TODAY, version=stored.version, fingerprint=FINGERPRINT)
    assert not summary.current_on(summary.recheck_on, version=stored.version, fingerprint=FINGERPRINT)
    assert not summary.current_on(TODAY, version=stored.version + 1, fingerprint=FINGERPRINT)


def test_the_list_sorts_by_attention_and_filters(uow: UnitOfWorkFactory) -> None:
    _store(uow)
    # critical first, then by the number of overdue items (3, 2, 1, 0)
    assert _page(uow) == ["incomplete-data", "refractory-3-months", "over-40-no-screening",
                          "non-severe", "drug-free-remission"]
    assert _page(uow, attention="critical") == ["incomplete-data"]
    assert _page(uow, attention="overdue") == ["incomplete-data", "refractory-3-months",
                                                "over-40-no-screening", "non-severe"]
    assert _page(uow, attention="inadequate") == ["refractory-3-months"]
    assert _page(uow, attention="warning") == ["incomplete-data", "refractory-3-months",
                                                "over-40-no-screening"]
    assert _page(uow, phase="induction") == ["incomplete-data", "over-40-no-screening"]
    assert _page(uow, sort="name") == sorted(EXAMPLES)
    # 2026-07-10 screen, 2026-07-13 Pneumocystis prophylaxis, 2026-10-20 Pneumocystis prophylaxis
    assert _page(uow, sort="next_due")[:3] == ["refractory-3-months", "non-severe",
                                               "over-40-no-screening"]
    ages = _page(uow, sort="age")
    assert ages[-1] == "incomplete-data"  # no birth date: last
    assert _page(uow, text="SEVERE") == ["non-severe"]
    assert _page(uow, limit=2, offset=2) == ["over-40-no-screening", "non-severe"]


def test_only_rows_shown_and_not_current_are_summarised_again(uow: UnitOfWorkFactory) -> None:
    _store(uow)
    first = list_patient_page(uow, ACTOR, PatientListQuery(sort="name", limit=2), as_of=TODAY,
                              fingerprint=FINGERPRINT, parse=make_live_parser(),
                              params=default_params())
    assert first.refreshed == 2
    again = list_patient_page(uow, ACTOR, PatientListQuery(sort="name", limit=2), as_of=TODAY,
                              fingerprint=FINGERPRINT, parse=make_live_parser(),
                              params=default_params())
    assert again.refreshed == 0
    other = list_patient_page(uow, ACTOR, PatientListQuery(sort="name", limit=2), as_of=TODAY,
                              fingerprint="g" * 64, parse=make_live_parser(),
                              params=default_params())
    assert other.refreshed == 2  # another knowledge fingerprint: not current
    with uow() as work:
        events = [e for e in work.audit.list(limit=100) if e.action == "patient.list"]
    assert len(events) == 3


def test_an_unsummarised_patient_sorts_last_until_shown(uow: UnitOfWorkFactory) -> None:
    ids = _store(uow)
    with uow() as work:
        stored = work.patients.get(ids["incomplete-data"])
        assert stored is not None
        work.patient_list.put(PatientSummary(
            patient_id=stored.id, version=stored.version, fingerprint=FINGERPRINT, as_of=TODAY,
            recheck_on=None, age=None, sex=None, phase=None, next_due=None, next_due_date=None,
            next_due_status=None, critical=3, warning=0, info=0, overdue=0, inadequate=False))
        work.commit()
    page = list_patient_page(uow, ACTOR, PatientListQuery(limit=1), as_of=TODAY,
                             fingerprint=FINGERPRINT, parse=make_live_parser(), params=default_params())
    assert [r.patient.patient_key for r in page.rows] == ["ex-incomplete-data"]
    assert page.refreshed == 0  # stored and current: shown as stored


def test_a_researcher_may_not_list_patients(uow: UnitOfWorkFactory) -> None:
    researcher = User(username="rita", password_hash="x", role="researcher", active=True,
                      created_at=dt.datetime.now(dt.UTC))
    with pytest.raises(PermissionDeniedError):
        list_patient_page(uow, replace(researcher), PatientListQuery(), as_of=TODAY,
                          fingerprint=FINGERPRINT, parse=make_live_parser(), params=default_params())
