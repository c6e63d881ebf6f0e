"""Pages and trend figures rendered off the request path (issue 15, item 4): made when a record is
stored, kept per record version and date, and drawn on demand (or shown as "being drawn") when
missing — never an older version's, never an error."""

from __future__ import annotations

import copy
import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from myositis_cds.entrypoints.web.background import BackgroundRenderer
from myositis_cds.entrypoints.web.clinical import Clinic, PageParts
from myositis_cds.entrypoints.web.figures import BEING_DRAWN_SVG, FIGURE_NAMES, decode_figures
from myositis_cds.entrypoints.web.state import WebState
from myositis_cds.errors import RecordValidationError
from myositis_cds.services import patients
from myositis_cds.services.ports import StoredPatient, StoredView
from tests.conftest import TODAY, load_example
from tests.e2e.web_support import ADMIN, Web, api_sign_in, make_web
from tests.unit.fakes import FakeDatabase

NO_WAIT = dt.timedelta(0)


def _state(web: Web) -> WebState:
    state: WebState = web.app.state.web
    return state


def _view(web: Web, patient_id: int, fingerprint: str) -> StoredView | None:
    with web.uow() as work:
        return work.views.get(patient_id, fingerprint)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    """Rendering on write, as in production; a missing figure is not waited for at all."""
    web = make_web(tmp_path, render_on_write=True, figure_wait=NO_WAIT)
    web.add_user("alice")
    yield web
    web.close()


@pytest.fixture
def client(web: Web) -> Iterator[TestClient]:
    with web.client() as client:
        client.headers["X-CSRF-Token"] = api_sign_in(client, "alice")
        yield client


def _figure(client: TestClient, patient_id: int, name: str, version: int) -> bytes:
    response = client.get(f"/patients/{patient_id}/figures/{name}.svg", params={"v": version})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    return response.content


def test_a_stored_record_has_its_figures_and_page_ready_before_anyone_opens_it(
        web: Web, client: TestClient) -> None:
    created = client.post("/api/v1/patients", json=load_example("drug-free-remission"))
    assert created.status_code == 201
    patient_id = created.json()["id"]
    state = _state(web)
    assert state.renderer.wait_idle(120)
    figures = _view(web, patient_id, state.clinic.figures_fingerprint)
    page = _view(web, patient_id, state.clinic.fingerprint)
    assert figures is not None
    assert page is not None
    assert (figures.version, figures.as_of, page.version, page.as_of) == (1, TODAY, 1, TODAY)
    assert sorted(decode_figures(figures.body)) == sorted(FIGURE_NAMES)
    assert "ex-drug-free-remission" in PageParts.decode(page.body).page
    for name in FIGURE_NAMES:  # served from the stored view: no wait allowed, yet no placeholder
        svg = _figure(client, patient_id, name, 1)
        assert svg != BEING_DRAWN_SVG
        assert svg.startswith((b"<?xml", b"<svg"))
        assert b"<style" not in svg


def test_figures_are_kept_per_record_version_and_an_older_one_is_never_served(
        web: Web, client: TestClient) -> None:
    record = load_example("drug-free-remission")
    patient_id = client.post("/api/v1/patients", json=record).json()["id"]
    state = _state(web)
    assert state.renderer.wait_idle(120)
    first = _figure(client, patient_id, "ck", 1)
    # Version 2, stored behind the application's back (no background job): its figures are
    # missing, and the version 1 figures must not stand in for them.
    changed = copy.deepcopy(record)
    labs = changed["labs"]
    assert isinstance(labs, list)
    ck = next(lab for lab in labs if lab["test"] == "CK")
    labs.append({**ck, "date": "2026-11-01", "value": ck["value"] * 3})
    patients.update_patient(web.uow, ADMIN, patient_id, changed, expected_version=1,
                            parse=state.clinic.parse)
    assert _figure(client, patient_id, "ck", 2) == BEING_DRAWN_SVG  # asked for: now drawn
    assert state.renderer.wait_idle(120)
    second = _figure(client, patient_id, "ck", 2)
    assert second not in (BEING_DRAWN_SVG, first)
    kept = _view(web, patient_id, state.clinic.figures_fingerprint)
    assert kept is not None
    assert kept.version == 2


def test_a_missing_figure_is_drawn_when_asked_for_and_waited_for(tmp_path: Path) -> None:
    web = make_web(tmp_path)  # the suite's default: no rendering on write, a long wait
    try:
        web.add_user("alice")
        stored = web.store("severe-ild")  # stored by another process: no job
        with web.client() as client:
            api_sign_in(client, "alice")
            svg = _figure(client, stored.id, "mmt8-narrow", stored.version)
        assert svg != BEING_DRAWN_SVG
        assert b"mmt8-point-" in svg
        kept = _view(web, stored.id, _state(web).clinic.figures_fingerprint)
        assert kept is not None
        assert (kept.version, kept.as_of) == (stored.version, TODAY)
    finally:
        web.close()


class _BrokenClinic(Clinic):
    def figures(self, results: object) -> dict[str, bytes]:
        msg = "matplotlib fell over"
        raise RuntimeError(msg)


def _patient(record: object, patient_id: int = 1) -> StoredPatient:
    now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    return StoredPatient(id=patient_id, patient_key="p", record=record,  # type: ignore[arg-type]
                         version=1, created_at=now, updated_at=now)


def test_a_failing_job_is_logged_without_patient_data_and_the_renderer_carries_on(
        caplog: pytest.LogCaptureFixture) -> None:
    renderer = BackgroundRenderer(FakeDatabase(), _BrokenClinic())
    try:
        assert renderer.figure(_patient(load_example("non-severe")), TODAY, "ck", wait=120) is None
        assert renderer.failed == 1
        assert [r.getMessage() for r in caplog.records] == [
            "background rendering failed: RuntimeError"]
        with pytest.raises(RecordValidationError):  # an invalid record: its errors
            renderer.figure(_patient({"id": "x", "sex": "banana"}, 2), TODAY, "ck", wait=120)
    finally:
        renderer.close()


class _HeldClinic(Clinic):
    """Draws nothing until released (the thread stays busy with its first job)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def figures(self, results: object) -> dict[str, bytes]:
        self.release.wait(120)
        return {}


def test_the_queue_is_bounded_and_a_closed_renderer_takes_no_jobs() -> None:
    clinic = _HeldClinic()
    renderer = BackgroundRenderer(FakeDatabase(), clinic, max_pending=1)
    record = load_example("non-severe")
    try:
        renderer.stored(_patient(record, 1))  # taken by the thread, which is held
        deadline = time.monotonic() + 60
        while renderer.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        renderer.stored(_patient(record, 2))  # waits
        renderer.stored(_patient(record, 3))  # the queue is full: dropped
        assert (renderer.pending, renderer.dropped) == (1, 1)
        assert renderer.figure(_patient(record, 4), TODAY, "ck", wait=0) is None  # full
        clinic.release.set()
        assert renderer.wait_idle(120)
    finally:
        clinic.release.set()
        renderer.close()
    renderer.stored(_patient(record, 5))
    assert (renderer.pending, renderer.dropped) == (0, 1)  # closed: nothing queued
