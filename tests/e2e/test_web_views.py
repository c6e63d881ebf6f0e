"""Stored page views in the web application and ``myositis-cds views render``; the settings every
server process reads from its environment (``serve --workers N``)."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from myositis_cds.engine import EngineParams
from myositis_cds.entrypoints.cli import main
from myositis_cds.entrypoints.web import WebSettings
from myositis_cds.entrypoints.web.clinical import Clinic, PageParts, view_fingerprint
from myositis_cds.knowledge.settings import resolve_settings
from myositis_cds.services import patients, views
from myositis_cds.services.ports import PatientListQuery, StoredView
from tests.conftest import TODAY
from tests.e2e.web_support import ADMIN, Web, make_web, page_sign_in


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    web = make_web(tmp_path)
    web.add_user("alice")
    yield web
    web.close()


def stored_view(web: Web, patient_id: int, fingerprint: str) -> StoredView | None:
    with web.uow() as work:
        return work.views.get(patient_id, fingerprint)


def _without_view_tokens(html: str) -> str:
    """A page as stored: it is served with this view's token on the figure URLs (view_tokens)."""
    return re.sub(r"&amp;view=[0-9a-f]{32}", "", html)


def test_the_page_is_rendered_once_per_version_and_date_then_read_back(web: Web) -> None:
    stored = web.store("severe-ild")
    fingerprint = Clinic().fingerprint
    with web.client() as client:
        page_sign_in(client, "alice")
        first = client.get(f"/patients/{stored.id}")
        assert first.status_code == 200
        kept = stored_view(web, stored.id, fingerprint)
        assert kept is not None
        assert (kept.version, kept.as_of) == (1, TODAY)
        parts = PageParts.decode(kept.body)
        assert parts.page in _without_view_tokens(first.text)
        # What is served next comes from the stored view: replace it and see the replacement.
        views.save_view(web.uow, StoredView(
            patient_id=stored.id, version=1, as_of=TODAY, fingerprint=fingerprint,
            body=PageParts(page="<p>stored view</p>").encode(),
            summary={"critical": 7, "warning": 0, "info": 0}))
        # The list's badges come from the summary kept with the page, not from a new assessment.
        with web.uow() as work:
            rows, _ = work.patient_list.page(PatientListQuery())
            kept_summary = rows[0].summary
            assert kept_summary is not None
            work.patient_list.put(dataclasses.replace(kept_summary, critical=7))
            work.commit()
        assert "7 critical" in client.get("/patients").text
        assert "<p>stored view</p>" in client.get(f"/patients/{stored.id}").text
        assert "<p>stored view</p>" not in client.get(f"/patients/{stored.id}/print").text  # a letter
        # Another date is another view; the stored one stays for today.
        earlier = client.get(f"/patients/{stored.id}?as_of=2026-10-01")
        assert "<p>stored view</p>" not in earlier.text
        # A new version is rendered afresh.
        changed = copy.deepcopy(dict(stored.record))
        changed["sex"] = "male"
        patients.update_patient(web.uow, ADMIN, stored.id, changed, expected_version=1,
                                parse=Clinic().parse)
        fresh = client.get(f"/patients/{stored.id}")
        assert "<p>stored view</p>" not in fresh.text
        again = stored_view(web, stored.id, fingerprint)
        assert again is not None
        assert again.version == 2
        assert PageParts.decode(again.body).page in _without_view_tokens(fresh.text)
        assert f"/patients/{stored.id}/figures/ck.svg?v=2&amp;as_of=2026-11-21" in fresh.text


def test_the_fingerprint_follows_the_settings_in_force() -> None:
    clinic = Clinic()
    assert clinic.fingerprint == view_fingerprint(clinic.params)
    assert len(clinic.fingerprint) == 64
    site = resolve_settings(clinic.params.pack, {"screening_window_days": 60})
    assert view_fingerprint(EngineParams.build(clinic.params.pack, site)) != clinic.fingerprint


def test_views_render_prerenders_every_page_once(web: Web, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    first, second = web.store("severe-ild"), web.store("juvenile")
    monkeypatch.setenv("MYOSITIS_CDS_DATABASE_URL", web.url)
    assert main(["views", "render"]) == 0
    assert capsys.readouterr().out == (
        "pages for 2026-11-21: 2 rendered, 0 already current, 0 not rendered (the stored record "
        "no longer validates; its page lists the errors)\n")
    fingerprint = Clinic().fingerprint
    for patient in (first, second):
        kept = stored_view(web, patient.id, fingerprint)
        assert kept is not None
        assert (kept.version, kept.as_of) == (1, TODAY)
    assert main(["views", "render"]) == 0
    assert "0 rendered, 2 already current" in capsys.readouterr().out
    assert main(["views", "render", "--as-of", "2099-01-01"]) == 2
    assert "--as-of: got 2099-01-01; expected a date from 1900-01-01 to today" in capsys.readouterr().err


def test_server_processes_read_their_settings_from_the_environment() -> None:
    settings = WebSettings.from_environment({
        "MYOSITIS_CDS_DATABASE_URL": "sqlite:///x.sqlite3",
        "MYOSITIS_CDS_SECRET_KEY": "k" * 32, "MYOSITIS_CDS_SECURE_COOKIES": "TRUE"})
    assert (settings.database_url, settings.secret_key, settings.secure_cookies) == (
        "sqlite:///x.sqlite3", b"k" * 32, True)
    assert not WebSettings.from_environment({"MYOSITIS_CDS_DATABASE_URL": "sqlite://"}).secure_cookies
    with pytest.raises(ValueError, match="MYOSITIS_CDS_DATABASE_URL: not set"):
        WebSettings.from_environment({})


@pytest.mark.parametrize("workers", ["0", "65", "two"])
def test_serve_refuses_a_bad_number_of_workers(workers: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--workers", workers])
    assert exit_info.value.code == 2
    assert (f"argument --workers: got {workers!r}; expected a whole number of processes from 1 "
            "to 64") in capsys.readouterr().err


@given(page=st.text())
def test_page_parts_survive_storage_exactly(page: str) -> None:
    parts = PageParts(page=page)
    assert PageParts.decode(parts.encode()) == parts
