"""Data entry in a real browser: one visit screen, correcting a lab, stopping a treatment,
deleting an entry with a reason, two clinicians' additions merging, and a real conflict kept and
re-applied with one click. Screenshots of each screen at desktop and phone width."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.browser.conftest import CLINICIAN, PHONE, SECOND_CLINICIAN, BrowserPage
from tests.conftest import load_example

if TYPE_CHECKING or importlib.util.find_spec("playwright") is not None:
    from playwright.sync_api import expect


def _import(bpage: BrowserPage, tmp_path: Path, key: str) -> str:
    """Import an example under a new key; the patient's URL path."""
    record: dict[str, Any] = copy.deepcopy(load_example("refractory-3-months"))
    record["id"] = key
    path = tmp_path / f"{key}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    bpage.goto("/patients/import")
    bpage.page.get_by_label("Record file").set_input_files(path)
    bpage.page.get_by_role("button", name="Import").click()
    bpage.page.wait_for_url(re.compile(r"/patients/\d+$"))
    match = re.search(r"(/patients/\d+)$", bpage.page.url)
    assert match is not None
    return match.group(1)


def _entries(bpage: BrowserPage, patient: str, section: str) -> Any:
    bpage.goto(f"{patient}/record")
    return bpage.page.locator(f"#s-{section} table.entries tbody tr")


def test_visit_correction_stop_and_delete(bpage: BrowserPage, tmp_path: Path) -> None:
    page = bpage.page
    bpage.sign_in(CLINICIAN)
    patient = _import(bpage, tmp_path, "br-entry")
    page.locator("#change > summary").click()  # "Change this patient" opens without JavaScript
    page.get_by_role("link", name="Visit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Visit")
    page.get_by_label("Physician global activity").fill("3.5")
    page.get_by_label("HAQ disability index").fill("7")  # beyond the scale
    page.get_by_label("MMT-8 total").fill("abc")
    page.get_by_label("Gottron's papules: Present").check()
    page.get_by_label("Dysphagia: Absent").check()
    page.get_by_label("CK value").fill("950")
    page.get_by_label("CK upper limit of normal").fill("200")
    page.get_by_label("Platelets value").fill("9000")  # beyond the pack's plausibility range
    expect(page.locator("#h-lab_platelets_value")).to_contain_text("plausible: 0–5,000")
    page.get_by_role("button", name="Save visit").click()
    expect(page.locator(".field-error")).to_have_count(3)  # all at once
    expect(page.locator("#e-lab_platelets_value")).to_contain_text("setting plausibility")
    expect(page.locator("#e-haq")).to_contain_text("less than or equal to 3")
    expect(page.locator("#e-mmt8")).to_contain_text("expected a number")
    expect(page.get_by_label("CK value")).to_have_value("950")  # the input is kept
    expect(page.get_by_label("Gottron's papules: Present")).to_be_checked()
    page.set_viewport_size(PHONE)  # the form with its lab tables does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    bpage.shots("30-visit-form-errors")
    page.get_by_label("Platelets value").fill("250")
    page.get_by_label("HAQ disability index").fill("0.75")
    page.get_by_label("MMT-8 total").fill("71")
    page.get_by_role("button", name="Save visit").click()
    page.wait_for_url(re.compile(rf"{patient}$"))

    labs = _entries(bpage, patient, "labs")
    expect(labs.filter(has_text="platelets")).to_contain_text("250")  # a monitoring blood
    ck = labs.filter(has_text="950")
    expect(ck).to_have_count(1)
    bpage.shots("31-record-page")
    ck.get_by_role("link", name="Correct").click()
    page.get_by_label("Value").fill("590")
    page.get_by_role("button", name="Save the corrected lab result").click()
    expect(page.get_by_role("status")).to_contain_text("The lab result was corrected.")
    expect(page.locator("#s-labs tbody tr", has_text="590")).to_have_count(1)

    ongoing = page.locator("#s-treatments tbody tr", has=page.locator("form.stop")).first
    drug = ongoing.locator("td").first.inner_text()
    ongoing.get_by_label("Stopped on").fill("2026-11-01")
    ongoing.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("status")).to_contain_text("The treatment was stopped.")
    stopped = page.locator("#s-treatments tbody tr", has_text=drug).filter(has_text="2026-11-01")
    expect(stopped).to_have_count(1)

    findings = page.locator("#s-findings tbody tr")
    before = findings.count()
    findings.first.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete this finding").click()
    expect(page.locator("#e-reason")).to_be_visible()  # a reason is required
    page.get_by_label("Why is it deleted?").select_option("entered_in_error")
    bpage.shots("32-delete-entry")
    page.get_by_role("button", name="Delete this finding").click()
    expect(page.get_by_role("status")).to_contain_text("The finding was deleted.")
    expect(page.locator("#s-findings tbody tr")).to_have_count(before - 1)

    bpage.goto(f"{patient}/add/treatment")  # the picklist's longest choice fits a phone
    page.get_by_label("Drug").select_option("mycophenolate_mofetil")
    expect(page.get_by_label("Drug")).to_contain_text("Mycophenolate mofetil (also: mmf")
    bpage.shots("33-treatment-picklist")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert bpage.log.blocked() == []


def test_two_clinicians_merge_and_a_real_conflict_is_re_applied(
        bpage: BrowserPage, second_bpage: BrowserPage, tmp_path: Path) -> None:
    anna, ben = bpage, second_bpage
    anna.sign_in(CLINICIAN)
    ben.sign_in(SECOND_CLINICIAN)
    patient = _import(anna, tmp_path, "br-merge")
    # Both open forms on the same version; each adds something else: both are kept.
    anna.goto(f"{patient}/add/lab")
    ben.goto(f"{patient}/add/visit")
    ben.page.get_by_label("Physician global activity").fill("2")
    ben.page.get_by_role("button", name="Save visit").click()
    ben.page.wait_for_url(re.compile(rf"{patient}$"))
    form = anna.page.locator("form.record")
    form.get_by_label(re.compile(r"^Test")).select_option("ALT")
    form.get_by_label(re.compile(r"^Value")).fill("64")
    form.get_by_label(re.compile(r"^Unit")).select_option("U/L")
    form.get_by_label(re.compile(r"^Date")).fill("2026-11-02")
    form.get_by_role("button", name="Save").click()
    anna.page.wait_for_url(re.compile(rf"{patient}$"))
    expect(_entries(anna, patient, "labs").filter(has_text="ALT").filter(has_text="2026-11-02")
           ).to_have_count(1)
    visits = len(load_example("refractory-3-months")["assessments"])
    expect(anna.page.locator("#s-assessments tbody tr")).to_have_count(visits + 1)  # ben's visit

    # Both correct the same lab: the second gets a conflict with their input kept.
    _entries(anna, patient, "labs").first.get_by_role("link", name="Correct").click()
    _entries(ben, patient, "labs").first.get_by_role("link", name="Correct").click()
    ben.page.get_by_label(re.compile(r"^Value")).fill("111")
    ben.page.get_by_role("button", name=re.compile("Save the corrected")).click()
    anna.page.get_by_label(re.compile(r"^Value")).fill("222")
    anna.page.get_by_role("button", name=re.compile("Save the corrected")).click()
    expect(anna.page.get_by_role("alert")).to_contain_text(f"{SECOND_CLINICIAN} changed it")
    expect(anna.page.locator(".conflict")).to_contain_text("111")
    expect(anna.page.get_by_label(re.compile(r"^Value"))).to_have_value("222")
    anna.shots("33-conflict")
    anna.page.get_by_role("button", name="Apply my change to the current version").click()
    expect(anna.page.get_by_role("status")).to_contain_text("corrected")
    expect(anna.page.locator("#s-labs tbody tr").first).to_contain_text("222")
    assert anna.log.blocked() == []
    assert ben.log.blocked() == []
