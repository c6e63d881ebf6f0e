"""The pages as a person uses them (no JavaScript): sign in, list, report, import, export, sign out."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from myositis_cds import bootstrap
from myositis_cds.services import patients
from tests.conftest import load_example
from tests.e2e.web_support import ADMIN, Web, hidden_value, make_web, page_sign_in


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    web = make_web(tmp_path)
    web.add_user("alice")
    web.add_user("rita", role="researcher")
    yield web
    web.close()


@pytest.fixture
def client(web: Web) -> Iterator[TestClient]:
    with web.client() as client:
        page_sign_in(client, "alice")
        yield client



def test_sign_in_page_then_patient_list_then_sign_out(web: Web) -> None:
    web.store("non-severe")
    with web.client() as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
        form = client.get("/login")
        assert form.status_code == 200
        assert '<form class="stack" method="post" action="/login">' in form.text
        token = re.search(r'name="login_token" value="([^"]+)"', form.text)
        assert token is not None
        failed = client.post("/login", data={"username": "alice", "password": "wrong password",
                                             "login_token": token.group(1)})
        assert failed.status_code == 401
        assert "Sign-in failed" in failed.text
        assert 'value="alice"' in failed.text  # the username is kept
        page_sign_in(client, "alice")
        listing = client.get("/patients")
        assert "ex-non-severe" in listing.text
        assert "alice (clinician)" in listing.text
        out = client.post("/logout", data={"csrf_token": hidden_value(listing.text, "csrf_token")},
                          follow_redirects=False)
        assert out.status_code == 303
        assert out.headers["location"] == "/login"
        assert client.get("/patients", follow_redirects=False).status_code == 303


def test_patient_list_searches_and_shows_alert_badges(web: Web, client: TestClient) -> None:
    for name in ("non-severe", "juvenile", "over-40-no-screening"):
        web.store(name)
    listing = client.get("/patients")
    assert listing.status_code == 200
    assert "1–3 of 3 patients" in listing.text
    badges = re.findall(r'<span class="badge sev-(critical|warning|info)" data-count="\1">(\d+) ',
                        listing.text)
    assert badges
    api = client.get("/api/v1/patients").json()
    counted = 0
    for patient in api["patients"]:
        alerts = client.get(f"/api/v1/patients/{patient['id']}/assessment").json()["alerts"]
        counted += len(alerts)
    assert sum(int(n) for _, n in badges) == counted
    found = client.get("/patients", params={"q": "JUVEN"})
    assert "1–1 of 1 patient matching" in found.text
    assert "ex-juvenile" in found.text
    assert "ex-non-severe" not in found.text
    none = client.get("/patients", params={"q": "<b>x</b>"})
    assert "&lt;b&gt;x&lt;/b&gt;" in none.text
    assert "<b>x</b>" not in none.text


def test_patient_page_shows_the_report_and_trend_figures(web: Web, client: TestClient) -> None:
    stored = web.store("drug-free-remission")
    page = client.get(f"/patients/{stored.id}", params={"as_of": "2026-11-20"})
    assert page.status_code == 200
    html = page.text
    assert re.search(r'<h2 [^>]*class="who"><span class="name">ex-drug-free-remission</span>', html)
    assert "2026-11-20" in html
    assert "Continue monitoring" in html or "Do not discontinue monitoring" in html
    assert html.count('class="trend-figure') == 3  # figures are referenced, drawn on their own URLs
    assert 'class="section trends"' in html
    assert 'href="/static/report.css"' in html
    assert "Export record (JSON)" in html
    future = client.get(f"/patients/{stored.id}", params={"as_of": "2099-01-01"})
    assert future.status_code == 422
    assert "from 1900-01-01 to today" in future.text
    assert client.get("/patients/999999").status_code == 404


def test_export_downloads_the_stored_record(web: Web, client: TestClient) -> None:
    stored = web.store("juvenile")
    response = client.get(f"/patients/{stored.id}/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"] == 'attachment; filename="ex-juvenile.json"'
    assert json.loads(response.content) == load_example("juvenile")


def test_import_stores_a_record_file_and_refuses_bad_ones(web: Web, client: TestClient) -> None:
    form = client.get("/patients/import")
    csrf = hidden_value(form.text, "csrf_token")
    record = json.dumps(load_example("severe-ild")).encode()
    response = client.post("/patients/import", data={"csrf_token": csrf},
                           files={"file": ("severe.json", record, "application/json")},
                           follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert '<span class="name">ex-severe-ild</span>' in page.text
    again = client.post("/patients/import", data={"csrf_token": csrf},
                        files={"file": ("severe.json", record, "application/json")})
    assert again.status_code == 409
    assert "already stored" in again.text
    bad = load_example("non-severe")
    bad["labs"][0]["value"] = -5
    refused = client.post("/patients/import", data={"csrf_token": csrf},
                          files={"file": ("bad.json", json.dumps(bad).encode(), "application/json")})
    assert refused.status_code == 422
    assert "<code>$.labs[0].value</code>" in refused.text
    assert "greater than or equal to 0" in refused.text
    garbage = client.post("/patients/import", data={"csrf_token": csrf},
                          files={"file": ("x.json", b"{oops", "application/json")})
    assert garbage.status_code == 422
    assert "invalid JSON" in garbage.text
    assert "valid JSON" in garbage.text
    as_text = client.post("/patients/import", data={"csrf_token": csrf},  # a string holding JSON
                          files={"file": ("s.json", json.dumps(json.dumps(bad)).encode(),
                                          "application/json")})
    assert as_text.status_code == 422
    assert "a string" in as_text.text
    assert "one patient-record@1 JSON object" in as_text.text
    assert client.get("/api/v1/patients").json()["total"] == 1


def test_replace_with_a_stale_version_is_refused_and_delete_removes(web: Web,
                                                                     client: TestClient) -> None:
    stored = web.store("non-severe")
    page = client.get(f"/patients/{stored.id}")
    csrf = hidden_value(page.text, "csrf_token")
    assert 'name="version" value="1"' in page.text
    edited = load_example("non-severe")
    edited["body_measurements"][-1]["weight_kg"] = 70.0
    upload = {"file": ("p.json", json.dumps(edited).encode(), "application/json")}
    first = client.post(f"/patients/{stored.id}/replace", data={"csrf_token": csrf, "version": "1"},
                        files=upload, follow_redirects=False)
    assert first.status_code == 303
    other = load_example("non-severe")
    other["body_measurements"][-1]["weight_kg"] = 40.0
    stale = client.post(f"/patients/{stored.id}/replace", data={"csrf_token": csrf, "version": "1"},
                        files={"file": ("p.json", json.dumps(other).encode(), "application/json")})
    assert stale.status_code == 409
    assert "version 2" in stale.text
    assert "based on 1" in stale.text
    kept = client.get(f"/api/v1/patients/{stored.id}").json()
    assert kept["record"]["body_measurements"][-1]["weight_kg"] == 70.0
    confirmed = {"csrf_token": csrf, "confirm": stored.patient_key, "reason": "duplicate"}
    assert client.post(f"/patients/{stored.id}/delete",
                       data={**confirmed, "version": "1"}).status_code == 409
    gone = client.post(f"/patients/{stored.id}/delete", data={**confirmed, "version": "2"},
                       follow_redirects=False)
    assert gone.status_code == 303
    assert client.get(f"/patients/{stored.id}").status_code == 404


def test_researcher_sees_the_cohort_page_only(web: Web) -> None:
    stored = web.store("non-severe")
    with web.client() as client:
        page_sign_in(client, "rita")
        cohort = client.get("/cohort")
        assert "1 stored patient," in cohort.text
        assert 'href="/patients"' not in cohort.text
        assert client.get(f"/patients/{stored.id}").status_code == 403
        assert client.get("/patients/import").status_code == 403
        refused = client.post("/patients/import",
                              data={"csrf_token": hidden_value(cohort.text, "csrf_token")},
                              files={"file": ("p.json", json.dumps(load_example("juvenile")).encode(),
                                              "application/json")})
        assert refused.status_code == 403


FIGURES = ("ck", "mmt8", "titer")


def test_patient_page_references_the_figures_instead_of_drawing_them(web: Web,
                                                                     client: TestClient) -> None:
    stored = web.store("drug-free-remission")
    for path in (f"/patients/{stored.id}",):
        html = client.get(path, params={"as_of": "2026-11-20"}).text
        assert "<svg" not in html
        for name in FIGURES:
            url = f"/patients/{stored.id}/figures/{name}.svg?v={stored.version}&amp;as_of=2026-11-20"
            img = re.search(rf'<img src="{re.escape(url)}&amp;view=[0-9a-f]{{32}}" alt="([^"]+)" '
                            r'width="\d+" height="\d+"', html)
            assert img is not None, (path, name)
            assert "ex-drug-free-remission" in img.group(1)
            assert "over time" in img.group(1)


def test_figure_endpoint_serves_svg_with_one_element_per_measurement(web: Web,
                                                                     client: TestClient) -> None:
    stored = web.store("drug-free-remission")
    before = len([e for e in web.audit() if e.actor == "alice" and e.action == "patient.read"])
    counts = {}
    for name in FIGURES:
        response = client.get(f"/patients/{stored.id}/figures/{name}.svg",
                              params={"v": stored.version, "as_of": "2026-11-20"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.headers["cache-control"].startswith("private, max-age=")
        svg = response.text
        assert "<svg" in svg
        assert "<style" not in svg
        assert " style=" not in svg
        ids = re.findall(r'\bid="([^"]+)"', svg)
        counts[name] = sum(1 for i in ids if re.fullmatch(rf"{name}-point-\d+", i))
    assert counts == {"ck": 8, "mmt8": 8, "titer": 6}
    reads = [e for e in web.audit() if e.actor == "alice" and e.action == "patient.read"]
    assert len(reads) == before + 3
    assert {e.patient_key for e in reads[before:]} == {stored.patient_key}
    unversioned = client.get(f"/patients/{stored.id}/figures/ck.svg")
    assert unversioned.status_code == 200
    assert unversioned.headers["cache-control"] == "no-store"
    stale = client.get(f"/patients/{stored.id}/figures/ck.svg",
                       params={"v": stored.version + 1, "as_of": "2026-11-20"})
    assert stale.headers["cache-control"] == "no-store"
    assert client.get(f"/patients/{stored.id}/figures/other.svg").status_code == 404
    assert client.get("/patients/999999/figures/ck.svg").status_code == 404


def _figure_urls(html: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'<img src="(/patients/[^"]+\.svg[^"]*)"', html)]


def _narrow_figure_urls(html: str) -> list[str]:
    """The phone-sized figures of a page (``<picture>`` sources)."""
    return [u.replace("&amp;", "&")
            for u in re.findall(r'<source media="[^"]*" srcset="(/patients/[^"]+\.svg[^"]*)"', html)]


def _reads(web: Web, who: str) -> int:
    return len([e for e in web.audit() if e.actor == who and e.action == "patient.read"])


def test_one_page_view_is_one_audit_event_with_its_figures(web: Web, client: TestClient) -> None:
    stored = web.store("drug-free-remission")
    before = _reads(web, "alice")
    html = client.get(f"/patients/{stored.id}", params={"as_of": "2026-11-20"}).text
    urls, narrow = _figure_urls(html), _narrow_figure_urls(html)
    assert (len(urls), len(narrow)) == (3, 3)
    assert all("-narrow.svg?" in url and "&view=" in url for url in narrow)
    for url in (*urls, *narrow):
        assert client.get(url).status_code == 200
    assert _reads(web, "alice") == before + 1  # the page and its figures, wide or narrow
    # A figure without the view's token, with another session's token, or of another version is
    # a read of its own.
    plain = _figure_urls(client.get(f"/patients/{stored.id}", params={"as_of": "2026-11-20"}).text)[0]
    before = _reads(web, "alice")
    assert client.get(plain.split("&view=")[0]).status_code == 200
    assert _reads(web, "alice") == before + 1
    web.add_user("bob")
    with web.client() as other:
        page_sign_in(other, "bob")
        assert other.get(plain).status_code == 200
        assert _reads(web, "bob") == 1
    updated = {**stored.record, "sex": "male"}
    patients.update_patient(web.uow, ADMIN, stored.id, updated, expected_version=stored.version,
                            parse=bootstrap.make_live_parser())
    before = _reads(web, "alice")
    assert client.get(plain).status_code == 200  # the old view's token, but a newer version now
    assert _reads(web, "alice") == before + 1


def test_figure_endpoint_requires_sign_in_and_refuses_researchers(web: Web) -> None:
    stored = web.store("non-severe")
    with web.client() as anonymous:
        response = anonymous.get(f"/patients/{stored.id}/figures/ck.svg", follow_redirects=False)
        assert response.status_code in (303, 401)
        assert "<svg" not in response.text
    with web.client() as client:
        page_sign_in(client, "rita")
        refused = client.get(f"/patients/{stored.id}/figures/ck.svg",
                             params={"v": stored.version})
        assert refused.status_code == 403
        assert "<svg" not in refused.text
        assert refused.headers["cache-control"] == "no-store"
