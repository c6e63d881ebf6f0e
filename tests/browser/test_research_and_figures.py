"""The researcher's page and the trend figures in a real browser, at desktop and phone width."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from myositis_cds import bootstrap
from myositis_cds.services import patients
from myositis_cds.services.ports import SystemActor
from tests.browser.conftest import CLINICIAN, DESKTOP, PHONE, RESEARCHER, BrowserPage
from tests.conftest import load_example

if TYPE_CHECKING or importlib.util.find_spec("playwright") is not None:
    from playwright.sync_api import expect


def _store_cohort(url: str) -> None:
    """A synthetic cohort (every PF2019 group present), stored once per test session."""
    from myositis_cds.stats.synthetic_cohort import synthesize  # noqa: PLC0415

    database = bootstrap.make_unit_of_work(url)
    try:
        with database() as work:
            if work.patients.get_by_key("synthetic-0001") is not None:
                return
        parse = bootstrap.make_parser(bootstrap.current_date())
        for document in synthesize(24, seed=3, today=bootstrap.current_date()):
            patients.create_patient(database, SystemActor(username="test:cohort"), document,
                                    parse=parse)
    finally:
        database.dispose()


def test_researcher_reads_table1_by_group_and_the_course_figure(bpage: BrowserPage) -> None:
    _store_cohort(bpage.app.database_url)
    page = bpage.page
    page.set_default_timeout(60_000)  # the analyses run on every view (a shared 2-core machine)
    bpage.sign_in(RESEARCHER)
    page.wait_for_url(re.compile(r"/cohort$"))
    table = page.locator("table.table1").first
    expect(table).to_be_visible()
    for group in ("anti-Mi-2-positive DM", "anti-Mi-2-negative DM", "antisynthetase syndrome",
                  "IMNM"):
        expect(table.locator("thead")).to_contain_text(group)
    expect(page.get_by_role("link", name="Download Table 1 (CSV)")).to_be_visible()
    expect(page.locator(".figure-wide svg")).to_be_visible()
    expect(page.locator(".figure-narrow svg")).to_be_hidden()
    bpage.shots("40-researcher-cohort")
    page.set_viewport_size(PHONE)
    expect(page.locator(".figure-narrow svg")).to_be_visible()  # stacked panels on a phone
    expect(page.locator(".figure-wide svg")).to_be_hidden()
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], scroll_width  # no sideways scrolling of the page
    assert bpage.log.blocked() == []


def _open_figures(bpage: BrowserPage) -> None:
    """Open the collapsed "Trend figures" section (no JavaScript) and wait for the lazy CK figure."""
    page = bpage.page
    page.locator("summary", has_text="Trend figures").click()
    figure = page.locator(".trend-ck img")
    figure.scroll_into_view_if_needed()
    expect(figure).to_be_visible()
    page.wait_for_function("() => document.querySelector('.trend-ck img').complete"
                           " && document.querySelector('.trend-ck img').naturalWidth > 0")


def test_trend_figures_are_drawn_for_the_screen_width(bpage: BrowserPage, tmp_path: Path) -> None:
    page = bpage.page
    bpage.sign_in(CLINICIAN)
    record = copy.deepcopy(load_example("drug-free-remission"))
    record["id"] = "br-figures"
    path = tmp_path / "figures.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    bpage.goto("/patients/import")
    page.get_by_label("Record file").set_input_files(path)
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/patients/\d+$"))
    page.set_viewport_size(DESKTOP)
    page.reload(wait_until="networkidle")
    figure = page.locator(".trend-ck img")
    _open_figures(bpage)
    assert "-narrow" not in figure.evaluate("img => img.currentSrc")
    width = figure.evaluate("img => img.naturalWidth")
    shown = figure.bounding_box()
    assert shown is not None
    assert width >= 900  # drawn about as wide as it is shown: text is not shrunk
    assert shown["width"] / width > 0.75, (shown, width)
    bpage.shot("41-trend-figure-desktop", full_page=False)
    page.set_viewport_size(PHONE)
    page.reload(wait_until="networkidle")
    _open_figures(bpage)
    assert "-narrow" in figure.evaluate("img => img.currentSrc")
    width = figure.evaluate("img => img.naturalWidth")
    shown = figure.bounding_box()
    assert shown is not None
    assert shown["width"] / width > 0.85, (shown, width)
    bpage.shot("42-trend-figure-phone", full_page=False)
    assert bpage.log.blocked() == []
