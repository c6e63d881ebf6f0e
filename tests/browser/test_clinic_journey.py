"""A clinician's day in a real browser, a researcher's refusal, and the CSP holding on the page.

The journey uses the new-patient and add-visit forms when the app serves them (``/patients/new`` and
``/patients/{patient_id}/add/visit``, fields named as the ``patient-record@1`` keys); without them it
imports the baseline record through the import page and adds each visit by replacing the record
with a file that has one more visit.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.browser.conftest import CLINICIAN, RESEARCHER, BrowserPage
from tests.conftest import load_example

# Without Playwright the fixtures fail (CI) or skip the tests before ``expect`` is needed.
if TYPE_CHECKING or importlib.util.find_spec("playwright") is not None:
    from playwright.sync_api import expect

NEW_PATIENT = "/patients/new"
ADD_VISIT = "/patients/{patient_id}/add/{slug}"
PATIENT_KEY = "br-journey"
EXAMPLE = "juvenile"
BASELINE = "2026-02-09"
VISIT_DATES = ("2026-05-11", "2026-08-10")
ASSESSMENT_FIELDS = ("physician_global", "patient_global", "extramuscular_global", "mmt8",
                     "mmt8_max", "haq", "cdasi_activity")


def _record_up_to(last: str) -> dict[str, Any]:
    """The example with its visits (assessments and labs) up to ``last`` only."""
    record = copy.deepcopy(load_example(EXAMPLE))
    record["id"] = PATIENT_KEY
    record["assessments"] = [a for a in record["assessments"] if a["date"] <= last]
    record["labs"] = [lab for lab in record["labs"] if lab["date"] <= last]
    return record


def _visit(day: str) -> dict[str, Any]:
    return next(a for a in load_example(EXAMPLE)["assessments"] if a["date"] == day)


def _write(tmp_path: Path, name: str, record: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def _patient_id(bpage: BrowserPage) -> str:
    match = re.search(r"/patients/(\d+)", bpage.page.url)
    assert match is not None, bpage.page.url
    return match.group(1)


def _stored_version(bpage: BrowserPage) -> int:
    meta = bpage.page.locator("main dl.record-meta").text_content() or ""
    match = re.search(r"Record version\s*(\d+)", meta)
    assert match is not None, meta
    return int(match.group(1))


def _create_patient(bpage: BrowserPage, tmp_path: Path) -> str:
    page = bpage.page
    if NEW_PATIENT in bpage.app.paths:
        record = _record_up_to(BASELINE)
        bpage.goto(NEW_PATIENT)
        form = page.locator("main form").filter(has=page.locator('[name="id"]'))
        form.locator('[name="id"]').fill(PATIENT_KEY)
        form.locator('[name="sex"]').select_option(record["sex"])
        form.locator('[name="birth_date"]').fill(record["birth_date"])
        form.locator('[name="diagnosis_name"]').select_option(record["diagnosis"]["name"])
        form.locator('[name="diagnosis_date"]').fill(record["diagnosis"]["date"])
        bpage.shot("02-new-patient-form")
        form.get_by_role("button", name="Save").click()
        page.wait_for_url(re.compile(r"/patients/\d+$"))
        patient_id = _patient_id(bpage)
        _add_visit_by_form(bpage, patient_id, _visit(BASELINE))
        return patient_id
    bpage.goto("/patients/import")
    page.get_by_label("Record file").set_input_files(_write(tmp_path, "baseline", _record_up_to(BASELINE)))
    bpage.shot("02-import-form")
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    return _patient_id(bpage)


def _add_visit_by_form(bpage: BrowserPage, patient_id: str, visit: dict[str, Any]) -> None:
    page = bpage.page
    bpage.goto(ADD_VISIT.format(patient_id=patient_id, slug="visit"))
    form = page.locator("main form").filter(has=page.locator('[name="haq"]'))
    form.locator('[name="date"]').fill(visit["date"])
    for name in ASSESSMENT_FIELDS:
        if name in visit:
            form.locator(f'[name="{name}"]').fill(str(visit[name]))
    form.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/patients/{patient_id}$"))


def _add_visit(bpage: BrowserPage, tmp_path: Path, patient_id: str, day: str) -> None:
    if ADD_VISIT in bpage.app.paths:
        _add_visit_by_form(bpage, patient_id, _visit(day))
        return
    page = bpage.page
    replace = page.locator('form[action$="/replace"]')
    replace.locator('input[type="file"]').set_input_files(_write(tmp_path, day, _record_up_to(day)))
    replace.get_by_role("button", name="Replace", exact=True).click()
    page.wait_for_url(re.compile(rf"/patients/{patient_id}$"))


def _invalid_visit(bpage: BrowserPage, tmp_path: Path, patient_id: str) -> None:
    """HAQ 5 (the scale ends at 3): refused with the field's message, nothing stored."""
    page = bpage.page
    if ADD_VISIT in bpage.app.paths:
        bpage.goto(ADD_VISIT.format(patient_id=patient_id, slug="visit"))
        form = page.locator("main form").filter(has=page.locator('[name="haq"]'))
        form.locator('[name="date"]').fill("2026-11-20")
        form.locator('[name="physician_global"]').fill("2.5")
        form.locator('[name="haq"]').fill("5")
        form.get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        haq = page.locator('main form [name="haq"]')
        expect(haq).to_have_value("5")  # the typed input is kept
        expect(haq).to_have_attribute("aria-invalid", "true")
        expect(page.locator('main form [name="physician_global"]')).to_have_value("2.5")
        message = page.locator("#" + (haq.get_attribute("aria-describedby") or "e-haq"))
        expect(message).to_be_visible()  # the message stands next to the field
        expect(message).to_contain_text(re.compile(r"3"))
        bpage.shot("06-validation-error")
        return
    record = _record_up_to(VISIT_DATES[-1])
    record["assessments"].append({**_visit(VISIT_DATES[-1]), "date": "2026-11-20", "haq": 5})
    replace = page.locator('form[action$="/replace"]')
    replace.locator('input[type="file"]').set_input_files(_write(tmp_path, "invalid", record))
    replace.get_by_role("button", name="Replace", exact=True).click()
    page.wait_for_load_state()
    message = page.get_by_role("alert")
    expect(message).to_be_visible()
    row = page.locator("tr", has=page.locator("code", has_text=re.compile(r"\.haq$")))
    expect(row).to_contain_text("5")  # the offending value is shown back
    expect(row).to_contain_text(re.compile(r"less than or equal to 3"))
    bpage.shot("06-validation-error")


def test_clinician_creates_a_patient_adds_visits_sees_tis_and_alerts(bpage: BrowserPage,
                                                                    tmp_path: Path) -> None:
    page = bpage.page
    bpage.sign_in(CLINICIAN)
    page.wait_for_url(re.compile(r"/patients$"))
    expect(page.locator("header.site")).to_contain_text(f"{CLINICIAN} (clinician)")
    bpage.shot("01-signed-in-patient-list")

    patient_id = _create_patient(bpage, tmp_path)
    expect(page.locator(".act-now h2.who .name")).to_have_text(PATIENT_KEY)
    bpage.shot("03-patient-baseline")

    baseline_version = _stored_version(bpage)
    for number, day in enumerate(VISIT_DATES, start=1):
        _add_visit(bpage, tmp_path, patient_id, day)
        assert _stored_version(bpage) == baseline_version + number

    expect(page.locator(".act-now .act-response")).to_contain_text(re.compile(r"TIS \d+"))
    page.locator("summary", has_text="Response").click()  # the details open without JavaScript
    tis = page.locator("h5", has_text="Total Improvement Score (TIS)")
    expect(tis.first).to_be_visible()
    bpage.shot("04-patient-tis")
    page.locator("summary", has_text="All alerts").click()
    alerts = page.locator("li.alert")
    expect(alerts.first).to_be_visible()
    expect(alerts.first.locator(".alert-title strong")).not_to_have_text(re.compile(r"^ALERT-"))
    bpage.shot("05-patient-alerts")

    _invalid_visit(bpage, tmp_path, patient_id)
    bpage.goto(f"/patients/{patient_id}")
    assert _stored_version(bpage) == baseline_version + len(VISIT_DATES)  # the invalid visit was not stored

    page.locator("header.site").get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    bpage.shot("07-signed-out")
    assert bpage.log.blocked() == []
    bpage.goto(f"/patients/{patient_id}")
    expect(page).to_have_url(re.compile(r"/login$"))  # the session has ended


def test_researcher_cannot_open_a_patient_page(bpage: BrowserPage) -> None:
    page = bpage.page
    bpage.sign_in(RESEARCHER)
    page.wait_for_url(re.compile(r"/cohort$"))
    expect(page.locator("header.site")).not_to_contain_text("Patients")
    response = page.goto(bpage.app.url("/patients/1"))
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("permission denied")
    bpage.shot("08-researcher-403")


def test_patient_page_keeps_to_the_csp_and_shows_the_trend_figures(bpage: BrowserPage,
                                                                  tmp_path: Path) -> None:
    page = bpage.page
    bpage.sign_in(CLINICIAN)
    bpage.goto("/patients/import")
    record = copy.deepcopy(load_example("drug-free-remission"))
    page.get_by_label("Record file").set_input_files(_write(tmp_path, "remission", record))
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    page.reload(wait_until="networkidle")
    page.locator("summary", has_text="Trend figures").click()
    page.wait_for_load_state("networkidle")
    figures = page.locator(".trends img")
    expect(figures.first).to_be_visible()
    assert figures.count() >= 3
    for index in range(figures.count()):
        box = figures.nth(index).bounding_box()
        assert box is not None
        assert box["width"] > 100
        assert box["height"] > 50
    figures.first.scroll_into_view_if_needed()
    bpage.shot("09-trend-figures")
    assert bpage.log.blocked() == []
    assert bpage.log.problems() == [], bpage.log.problems()
