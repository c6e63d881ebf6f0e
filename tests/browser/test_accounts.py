"""Accounts in a real browser: a temporary password must be replaced at the first sign-in."""

from __future__ import annotations

import importlib.util
import re
from typing import TYPE_CHECKING

from tests.browser.conftest import NEWCOMER, PASSWORD, BrowserPage

if TYPE_CHECKING or importlib.util.find_spec("playwright") is not None:
    from playwright.sync_api import expect

NEW_PASSWORD = "my very own passphrase"


def test_first_sign_in_with_a_temporary_password_asks_for_a_new_one(bpage: BrowserPage) -> None:
    page = bpage.page
    bpage.sign_in(NEWCOMER)
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect(page.get_by_role("status")).to_contain_text("choose your own before you continue")
    expect(page.locator("header.site nav")).not_to_contain_text("Patients")
    bpage.shots("20-first-sign-in-password")
    bpage.goto("/patients")  # nothing else opens until the password is changed
    expect(page).to_have_url(re.compile(r"/account/password$"))
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label(re.compile(r"^New password \(")).fill("short")
    page.get_by_label("New password again").fill("different")
    page.get_by_role("button", name="Change password").click()
    errors = page.locator(".field-error")
    expect(errors).to_have_count(2)  # both problems at once, next to their fields
    expect(page.locator("#e-new_password")).to_contain_text("expected at least 12")
    bpage.shots("21-password-errors")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label(re.compile(r"^New password \(")).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page).to_have_url(re.compile(r"/patients$"))
    expect(page.locator("header.site nav")).to_contain_text("Patients")
    page.locator("header.site").get_by_role("button", name="Sign out").click()
    bpage.sign_in(NEWCOMER, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/patients$"))
    assert bpage.log.blocked() == []
