"""The clinician's screen in Chromium: the whole act-now block of every example patient fits the
first screen at 1366×768 and at 390×844 (asserted by element positions), with nothing urgent
folded away and the rest one tap away; nothing scrolls sideways at 390 px, and the print letter is
at most two A4 pages.
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pypdf import PdfReader

from myositis_cds import bootstrap
from myositis_cds.services import patients
from myositis_cds.services.ports import SystemActor
from tests.browser.conftest import CLINICIAN, BrowserPage, LiveApp
from tests.conftest import EXAMPLES, load_example

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

NAMES = [p.stem for p in EXAMPLES]
SIZES: dict[str, ViewportSize] = {"desktop": {"width": 1366, "height": 768},
                                  "phone": {"width": 390, "height": 844}}
ACT_NOW_PARTS = (".act-now h2.who", ".act-actions", ".act-alerts", ".act-due", ".act-therapy",
                 ".act-response", ".act-now")
"""The whole act-now block is on the first screen at 1366×768 and at 390×844."""
URGENT = ".act-action, .act-alert, .act-due-item.urgent"
"""Never folded away: the actions, the critical and warning alerts, the overdue items, an
inadequate response and a missing item past its date."""
_SETUP = SystemActor(username="test:browser-screen")


@pytest.fixture(scope="module")
def stored(live_app: LiveApp) -> Iterator[dict[str, int]]:
    database = bootstrap.make_unit_of_work(live_app.database_url)
    try:
        ids = {}
        for name in NAMES:
            record = {**load_example(name), "id": f"screen-{name}"}
            ids[name] = patients.create_patient(database, _SETUP, record,
                                                parse=bootstrap.make_live_parser()).id
        yield ids
    finally:
        database.dispose()


def _bottom(bpage: BrowserPage, selector: str) -> float:
    box = bpage.page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["y"] + box["height"]


@pytest.mark.parametrize("size", SIZES)
def test_act_now_is_above_the_fold_for_every_example(bpage: BrowserPage, stored: dict[str, int],
                                                     size: str) -> None:
    page = bpage.page
    viewport = SIZES[size]
    page.set_viewport_size(viewport)
    bpage.sign_in(CLINICIAN)
    folded_somewhere = False
    for name, patient_id in stored.items():
        bpage.goto(f"/patients/{patient_id}")
        page.wait_for_load_state("networkidle")
        for part in ACT_NOW_PARTS:
            assert _bottom(bpage, part) <= viewport["height"], (name, size, part)
        urgent = page.locator(URGENT)
        assert urgent.count() == page.locator(f"{URGENT} >> visible=true").count(), (name, size)
        for item in urgent.all():
            box = item.bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= viewport["height"], (name, size, item.inner_text())
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], (name, size, width)  # no sideways scrolling
        page.screenshot(path=str(bpage.shot_path(f"act-now-{name}-{size}")))
        folded_somewhere |= _folded_items_open_on_a_tap(bpage, name, size)
    assert folded_somewhere == (size == "phone")  # the examples include a patient with many items
    assert bpage.log.blocked() == []


def _folded_items_open_on_a_tap(bpage: BrowserPage, name: str, size: str) -> bool:
    """Every open item is on the screen or one tap away, folded in "N more due or missing
    items" on a phone (whose summary counts them); nothing is folded on a desktop."""
    page = bpage.page
    listed = page.locator(".act-due > ul > li.act-due-item")
    hidden = [text for item in listed.all() if not item.is_visible()
              for text in [item.locator(".what").inner_text()]]
    more = page.locator("details.more-due")
    if size == "desktop" or not hidden:
        assert hidden == [], (name, size, hidden)
        assert not more.is_visible(), (name, size)
        return False
    summary = more.locator(":scope > summary")
    assert summary.inner_text() == f"{len(hidden)} more due or missing item" + (
        "s" if len(hidden) > 1 else ""), name
    summary.click()
    shown = [t.inner_text() for t in more.locator("li.act-due-item summary .what").all()]
    assert shown == hidden, name
    assert all(more.locator("li.act-due-item").nth(i).is_visible() for i in range(len(shown)))
    assert more.locator("li.urgent").count() == 0, name
    return True


def test_details_open_without_javascript_and_stay_within_the_phone_width(
        bpage: BrowserPage, stored: dict[str, int]) -> None:
    page = bpage.page
    page.set_viewport_size(SIZES["phone"])
    bpage.sign_in(CLINICIAN)
    bpage.goto(f"/patients/{stored['severe-ild']}")
    for summary in page.locator("details.section > summary").all():
        summary.click()
    assert page.locator("details.section:not([open])").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"]["width"]
    bpage.shot("patient-all-details-open-phone")


def test_the_print_letter_is_at_most_two_a4_pages(bpage: BrowserPage, stored: dict[str, int]) -> None:
    page = bpage.page
    bpage.sign_in(CLINICIAN)
    for name, patient_id in stored.items():
        bpage.goto(f"/patients/{patient_id}/print")
        # the letter's inline CSS applies (the page's policy allows exactly it)
        assert page.evaluate("getComputedStyle(document.body).maxWidth") != "none", name
        pdf = page.pdf(format="A4", print_background=True)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        assert 1 <= pages <= 2, (name, pages)
        if name == "over-40-no-screening":
            bpage.shot_path("letter-over-40-no-screening.pdf").write_bytes(pdf)
            page.emulate_media(media="print")
            bpage.shot("letter-over-40-no-screening-print")
            page.emulate_media(media="screen")


@pytest.mark.parametrize("size", SIZES)
def test_the_patient_list_is_a_worklist(bpage: BrowserPage, stored: dict[str, int], size: str) -> None:
    from playwright.sync_api import expect  # noqa: PLC0415 - only when the browser is there

    page = bpage.page
    page.set_viewport_size(SIZES[size])
    bpage.sign_in(CLINICIAN)
    bpage.goto("/patients?q=screen-")
    rows = page.locator("table.worklist tbody tr")
    expect(rows).to_have_count(len(NAMES))
    # a critical alert comes first (three patients), then the most overdue items
    for index in range(3):
        expect(rows.nth(index).locator('[data-count="critical"]')).to_have_text("1 critical")
    expect(rows.first).to_contain_text("screen-methotrexate-daily")  # its overdue item is older
    refractory = page.locator("tr", has_text="screen-refractory-3-months")
    expect(rows.nth(3)).to_contain_text("screen-refractory-3-months")
    # the screen of 2026-07-10, Pneumocystis prophylaxis, the azathioprine bloods of 2026-10-19
    expect(refractory.locator('[data-count="overdue"]')).to_have_text("3 overdue")
    expect(refractory.locator('[data-count="inadequate"]')).to_be_visible()
    expect(refractory.locator("td.next-due")).to_contain_text("overdue cancer screen 2026-07-10")
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
    bpage.shot(f"patient-list-{size}")
    page.locator("#attention").select_option("overdue")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    expect(rows).to_have_count(10)  # ten examples have something overdue
    expect(rows.first).to_contain_text("screen-methotrexate-daily")
    page.locator("#attention").select_option("all")
    page.locator("#sort").select_option("next_due")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    expect(rows.first).to_contain_text("screen-juvenile")  # prophylaxis due 2026-03-10: the earliest
    expect(rows.first.locator("td.next-due")).to_contain_text(
        "overdue Pneumocystis prophylaxis 2026-03-10")
    expect(rows.nth(1)).to_contain_text("screen-mi2-negative-dm")  # 2026-05-12
    expect(rows.nth(2)).to_contain_text("screen-refractory-3-months")  # the screen, 2026-07-10
