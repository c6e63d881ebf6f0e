"""Browser tests: Playwright (sync API) drives Debian's headless Chromium against the real app.

The app runs with uvicorn on 127.0.0.1 and a free port in a background thread, over a migrated
temporary SQLite database with a clinician and a researcher created through the use cases. Nothing
is downloaded: the browser is ``/usr/bin/chromium`` (``.ci/run`` installs it with apt-get). When
Chromium or Playwright is missing the tests fail if ``CI`` is set and are skipped otherwise.
Screenshots of the key steps go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from fastapi import FastAPI

from myositis_cds import bootstrap
from myositis_cds.entrypoints.web import WebSettings, create_app
from myositis_cds.services import users
from myositis_cds.services.ports import SystemActor
from tests.conftest import ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PASSWORD = "correct horse battery staple"
CLINICIAN = "clara"
SECOND_CLINICIAN = "colin"
RESEARCHER = "rita"
NEWCOMER = "nina"
"""Added with a temporary password (as an administrator's reset or the demo account's)."""
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
_SETUP = SystemActor(username="test:browser-setup")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


def _require_browser() -> None:
    """Fail under CI, skip elsewhere, when the browser or its driver is not installed."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package playwright (pip install -e '.[dev]')")
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set: not skipping)")
        pytest.skip(reason)


@dataclass
class LiveApp:
    base_url: str
    paths: frozenset[str]
    """Route templates of the app's pages (to tell which forms exist yet)."""
    database_url: str = ""
    """The app's database (tests that need stored patients store them through the use cases)."""

    def url(self, path: str) -> str:
        return self.base_url + path


def _page_paths(app: FastAPI) -> frozenset[str]:
    """The route templates the app serves (routes of included routers too)."""
    paths: set[str] = set()
    pending: list[object] = list(app.routes)
    while pending:
        route = pending.pop()
        if isinstance(getattr(route, "path", None), str):
            paths.add(route.path)  # type: ignore[attr-defined]
        included = getattr(route, "original_router", None)
        if included is not None:
            pending.extend(included.routes)
    return frozenset(paths)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    _require_browser()
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.pdf")]:  # only this run's artifacts
        old.unlink()
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'web.sqlite3'}"
    bootstrap.upgrade(url)
    database = bootstrap.make_unit_of_work(url)
    hasher = bootstrap.password_hasher()
    try:
        users.add_user(database, hasher, _SETUP, username=CLINICIAN, password=PASSWORD,
                       role="clinician")
        users.add_user(database, hasher, _SETUP, username=SECOND_CLINICIAN, password=PASSWORD,
                       role="clinician")
        users.add_user(database, hasher, _SETUP, username=RESEARCHER, password=PASSWORD,
                       role="researcher")
        users.add_user(database, hasher, _SETUP, username=NEWCOMER, password=PASSWORD,
                       role="clinician", temporary=True)
    finally:
        database.dispose()
    app = create_app(WebSettings(database_url=url))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False,
                                           log_level="warning", lifespan="on",
                                           server_header=False))
    thread = threading.Thread(target=server.run, name="browser-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the web app did not start on 127.0.0.1:{port}")
        time.sleep(0.02)
    paths = _page_paths(app)
    try:
        yield LiveApp(base_url=f"http://127.0.0.1:{port}", paths=paths, database_url=url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser(live_app: LiveApp) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only when the browser is there

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    """What the page said on its console and which errors it raised."""

    console: list[ConsoleMessage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        self.console.append(message)

    def on_error(self, error: Exception) -> None:
        self.errors.append(str(error))

    def problems(self) -> list[str]:
        """Console errors and warnings (with the resource they are about) and uncaught errors."""
        return [f"console {m.type}: {m.text} ({m.location.get('url', '')})" for m in self.console
                if m.type in ("error", "warning")] + [f"page error: {e}" for e in self.errors]

    def blocked(self) -> list[str]:
        """What the Content Security Policy refused, and script errors."""
        return [p for p in self.problems()
                if re.search(r"Content.Security.Policy|Refused to", p, re.IGNORECASE)] \
            + [f"page error: {e}" for e in self.errors]


@dataclass
class BrowserPage:
    page: Page
    log: PageLog
    app: LiveApp

    def goto(self, path: str) -> None:
        self.page.goto(self.app.url(path))

    def shot_path(self, name: str) -> Path:
        """Where an artifact called ``name`` goes (``.png`` unless ``name`` has a suffix)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        return ARTIFACTS / (name if "." in name else f"{name}.png")

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        path = self.shot_path(name)
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def shots(self, name: str) -> None:
        """Screenshots of the current page at desktop (1366×768) and phone (390×844) width; the
        viewport is left at desktop size."""
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(size)
            self.shot(f"{name}-{label}")

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()


@contextlib.contextmanager
def _browser_page(browser: Browser, live_app: LiveApp) -> Iterator[BrowserPage]:
    """A page in a browser context of its own (own cookies), closed afterwards."""
    context = browser.new_context(base_url=live_app.base_url, viewport={"width": 1280, "height": 900},
                                  locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log = PageLog()
    page.on("console", log.on_console)
    page.on("pageerror", log.on_error)
    try:
        yield BrowserPage(page=page, log=log, app=live_app)
    finally:
        context.close()


@pytest.fixture
def bpage(browser: Browser, live_app: LiveApp) -> Iterator[BrowserPage]:
    with _browser_page(browser, live_app) as page:
        yield page


@pytest.fixture
def second_bpage(browser: Browser, live_app: LiveApp) -> Iterator[BrowserPage]:
    """Another browser (own cookies): a second clinician at another workstation."""
    with _browser_page(browser, live_app) as page:
        yield page
