"""SMART App Launch 2.x against a FHIR server with an authorization server started on loopback for
the test (tests/fhir_server.py): EHR launch and standalone launch with PKCE, the chart read with the
token, the patient page rendered as a stored patient's, framing only for the EHR's origins."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from myositis_cds.entrypoints.web.smart.config import load_smart_config
from myositis_cds.errors import SettingsError
from myositis_cds.services import patients
from myositis_cds.services.ports import SystemActor
from tests.conftest import load_example
from tests.e2e.cds_support import example_resources
from tests.e2e.web_support import Web, make_web, page_sign_in
from tests.fhir_server import FhirServer, serve_fhir

APP = "http://testserver"
EHR_ORIGIN = "https://ehr-ui.example.org"


@dataclass
class Env:
    web: Web
    client: TestClient
    fhir: FhirServer
    patient_id: str


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    patient_id, resources = example_resources("incomplete-data")
    with serve_fhir(FhirServer(resources=resources)) as fhir:
        fhir.clients["myositis-cds"] = {f"{APP}/smart/callback"}
        fhir.launches["launch-abc"] = patient_id
        fhir.standalone_patient = patient_id
        smart = tmp_path / "smart.toml"
        smart.write_text(f'public_url = "{APP}"\n[[ehr]]\niss = "{fhir.fhir_base}"\n'
                         f'client_id = "myositis-cds"\nframe_origins = ["{EHR_ORIGIN}"]\n', "utf-8")
        web = make_web(tmp_path, smart=load_smart_config(smart))
        with web.client() as client:
            yield Env(web=web, client=client, fhir=fhir, patient_id=patient_id)
        web.close()


def _authorization_server(url: str) -> str:
    """The browser at the EHR's authorization endpoint: where it is sent next (a redirect)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=30)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 302, answer.status
        return str(answer.getheader("Location"))
    finally:
        connection.close()


def _launch(env: Env, query: str) -> Any:
    """The browser's journey: the app's /launch, the EHR's authorization endpoint (which answers
    at once), back to the app's callback, on to the page."""
    response = env.client.get(f"/launch?{query}", follow_redirects=False)
    assert response.status_code == 302, response.text
    authorize = response.headers["location"]
    assert authorize.startswith(env.fhir.base + "/oauth/authorize?")
    back = _authorization_server(authorize)
    assert back.startswith(f"{APP}/smart/callback?")
    return env.client.get(back.removeprefix(APP), follow_redirects=True)


def _report(html: str) -> str:
    """The act-now patient page's content (figure URLs, wide and narrow, in a link, an image or a
    ``<picture>`` source, reduced to the figure's name)."""
    found = re.search(r'<article class="patient-page.*?</article>', html, re.DOTALL)
    assert found is not None
    return re.sub(r'(href|src|srcset)="[^"]*/figures/([\w-]+)\.svg[^"]*"', r'\1="\2"',
                  found.group(0))


def test_an_ehr_launch_shows_the_patient_page_of_the_chart(env: Env) -> None:
    page = _launch(env, f"iss={env.fhir.fhir_base}&launch=launch-abc")
    assert page.status_code == 200, page.text
    assert str(page.url) == f"{APP}/smart/patient"
    assert "ex-incomplete-data" in page.text
    authorize = next(p for m, p, _ in env.fhir.requests if p.startswith("/oauth/authorize"))
    for part in ("code_challenge_method=S256", "scope=launch+patient%2F%2A.read",
                 "launch=launch-abc", f"aud={quote(env.fhir.fhir_base, safe='')}"):
        assert part in authorize, part
    # The page is the one a stored patient of the same record gets: the same rendering.
    actor = SystemActor(username="system:test")
    stored = patients.create_patient(env.web.uow, actor, load_example("incomplete-data"),
                                     parse=env.web.app.state.web.clinic.parse)
    env.web.add_user("dr", role="clinician")
    page_sign_in(env.client, "dr")
    clinic_page = env.client.get(f"/patients/{stored.id}")
    assert clinic_page.status_code == 200
    assert len(_report(page.text)) > 2000
    assert _report(page.text) == _report(clinic_page.text)
    figure = env.client.get("/smart/figures/ck.svg")
    assert (figure.status_code, figure.headers["content-type"]) == (200, "image/svg+xml")
    for as_of in ("0", "0001-01-01", "2999-01-01"):  # issue 13, item 5: ISO dates 1900 to today
        for path in ("/smart/patient", "/smart/figures/ck.svg"):
            assert env.client.get(path, params={"as_of": as_of}).status_code == 422, (path, as_of)


def test_a_standalone_launch_asks_for_the_patient_context(env: Env) -> None:
    page = _launch(env, f"iss={env.fhir.fhir_base}")
    assert page.status_code == 200, page.text
    authorize = next(p for m, p, _ in env.fhir.requests if p.startswith("/oauth/authorize"))
    assert "scope=launch%2Fpatient+patient%2F%2A.read" in authorize
    assert "launch=" not in authorize


def test_the_chart_is_read_with_the_token_and_the_token_is_not_kept(env: Env) -> None:
    _launch(env, f"iss={env.fhir.fhir_base}&launch=launch-abc")
    reads = [(path, headers) for method, path, headers in env.fhir.requests
             if path.startswith("/fhir/") and ".well-known" not in path]
    assert [p.split("?")[0] for p, _ in reads] == [
        f"/fhir/Patient/{env.patient_id}", "/fhir/Observation", "/fhir/Condition",
        "/fhir/MedicationRequest", "/fhir/MedicationStatement", "/fhir/Procedure",
        "/fhir/DiagnosticReport"]
    token = reads[0][1]["Authorization"].removeprefix("Bearer ")
    with env.web.uow.engine.connect() as connection:
        dump = "\n".join(str(row) for table in ("smart_sessions", "smart_launches", "audit_log")
                         for row in connection.exec_driver_sql(f"SELECT * FROM {table}"))
    assert token not in dump
    events = [(e.actor, e.action, e.patient_key) for e in env.web.audit()]
    assert (f"smart:{env.fhir.fhir_base}", "patient.read", env.patient_id) in events
    details = [e.detail for e in env.web.audit()]
    assert any(d.startswith("SMART EHR launch: chart read from the EHR") for d in details)
    assert any(d.startswith("SMART page view as of") for d in details)


def test_only_the_ehr_origins_may_frame_the_launched_app(env: Env) -> None:
    page = _launch(env, f"iss={env.fhir.fhir_base}&launch=launch-abc")
    policy = page.headers["content-security-policy"]
    assert f"frame-ancestors {EHR_ORIGIN}" in policy
    assert "x-frame-options" not in page.headers
    other = env.client.get("/login")
    assert "frame-ancestors 'none'" in other.headers["content-security-policy"]
    assert other.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("case", ["unknown-iss", "denied", "state", "reused", "scope",
                                  "no-session", "launch"])
def test_launches_that_must_fail_fail_plainly(env: Env, case: str) -> None:
    if case == "unknown-iss":
        response = env.client.get("/launch?iss=https://evil.example.org/fhir&launch=x")
        assert response.status_code == 400
        assert "not one this application is registered with" in response.text
        return
    if case == "no-session":
        assert env.client.get("/smart/patient").status_code == 401
        return
    if case == "denied":
        env.fhir.deny = True
        response = _launch(env, f"iss={env.fhir.fhir_base}&launch=launch-abc")
        assert response.status_code == 403
        assert "access_denied" in response.text
        return
    if case == "scope":
        env.fhir.grant_scope = "launch openid"
        response = _launch(env, f"iss={env.fhir.fhir_base}&launch=launch-abc")
        assert response.status_code == 403
        assert "patient/*.read" in response.text
        return
    if case == "launch":  # a launch parameter the EHR does not know: no patient context
        response = _launch(env, f"iss={env.fhir.fhir_base}&launch=forged")
        assert response.status_code == 403
        return
    response = env.client.get(f"/launch?iss={env.fhir.fhir_base}&launch=launch-abc",
                              follow_redirects=False)
    back = _authorization_server(response.headers["location"]).removeprefix(APP)
    if case == "state":  # a callback this browser did not start (e.g. a forged link)
        env.client.cookies.clear()
        assert env.client.get(back).status_code == 400
        return
    assert env.client.get(back, follow_redirects=False).status_code == 303
    again = env.client.get(back)  # the same code and state again
    assert again.status_code == 400


def test_a_bad_smart_file_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "smart.toml"
    path.write_text('public_url = "cds.example.org"\nsession_minutes = 0\n[[ehr]]\n'
                    'iss = "ehr"\nframe_origins = ["https://x.org/path"]\n', "utf-8")
    with pytest.raises(SettingsError) as raised:
        load_smart_config(path)
    assert sorted(e.path for e in raised.value.errors) == [
        "ehr[0].client_id", "ehr[0].frame_origins", "ehr[0].iss", "public_url", "session_minutes"]



def _smart_reads(env: Env) -> list[str]:
    return [e.detail for e in env.web.audit()
            if e.actor == f"smart:{env.fhir.fhir_base}" and e.action == "patient.read"]


def test_one_launched_page_view_is_one_audit_event_with_its_figures(env: Env) -> None:
    page = _launch(env, f"iss={env.fhir.fhir_base}&launch=launch-abc")
    assert page.status_code == 200, page.text
    before = _smart_reads(env)
    assert sum(d.startswith("SMART page view") for d in before) == 1
    urls = [u.replace("&amp;", "&")
            for u in re.findall(r'(?:src|srcset)="(/smart/figures/[^"]+)"', page.text)]
    assert len(urls) == 6  # three figures, wide and narrow
    for url in urls:
        figure = env.client.get(url)
        assert (figure.status_code, figure.headers["content-type"]) == (200, "image/svg+xml")
    assert _smart_reads(env) == before  # the page view's one event covers its figures
    # Without the view's token, or with a wrong one, a figure is a read of its own.
    plain = urls[0].split("&view=")[0]
    assert env.client.get(plain).status_code == 200
    assert env.client.get(plain, params={"view": "0" * 32}).status_code == 200
    after = _smart_reads(env)
    assert len(after) == len(before) + 2
    assert all(d.endswith("outside a page view") for d in after[len(before):])
