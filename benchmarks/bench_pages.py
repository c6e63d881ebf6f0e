"""Measure the clinician's pages: weight, length, width and printed pages of every example patient.

Run with ``.venv/bin/python benchmarks/bench_pages.py [--out DIR] [--as-of DATE]`` (needs Playwright
and Debian's ``/usr/bin/chromium``; nothing is downloaded). Loopback only.

A temporary SQLite database is migrated, the example patients are stored through the use cases
and the application is started with uvicorn on 127.0.0.1 in a background thread. Headless
Chromium signs in as a clinician and, for each example patient, records:

- ``html``: bytes of the patient page's HTML; ``total``: HTML plus everything it loads (CSS,
  figures), as received;
- ``desk`` and ``phone``: the page's height in CSS pixels at 1366×768 and at 390×844;
  ``width``: its scroll width at 390 px (more than 390 means sideways scrolling);
- ``critical``: how far down (px, at 1366×768) the first critical alert starts (``—``: none);
- ``act``: where the act-now block ends (px from the top) at 1366×768 and at 390×844 (the first
  screen is 768 and 844 px high; the summary says for how many patients it fits at both sizes);
- ``print``: A4 pages of the print view as Chromium prints it; ``pdf``: pages of the PDF
  download, where the application offers one.

And the same weight and length for the patient list. Screenshots go to ``--out`` (default
``test-artifacts/pages``) so the numbers can be checked by eye.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import uvicorn
from pypdf import PdfReader

from myositis_cds import bootstrap
from myositis_cds.entrypoints.cli.common import example_names, examples_dir
from myositis_cds.entrypoints.web import WebSettings, create_app
from myositis_cds.services import patients, users
from myositis_cds.services.ports import SystemActor

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
USER = "measure"
PASSWORD = secrets.token_urlsafe(16)
SETUP = SystemActor(username="bench:pages")
CRITICAL = ".sev-critical.alert, [data-severity='critical']"
ACT_BOTTOM = ("(() => { const e = document.querySelector('.act-now'); "
              "return e ? Math.round(e.getBoundingClientRect().bottom + scrollY) : null })()")
if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve(url: str) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(create_app(WebSettings(database_url=url)), host="127.0.0.1",
                                           port=_free_port(), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the application did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _store_examples(url: str) -> dict[str, int]:
    bootstrap.upgrade(url)
    database = bootstrap.make_unit_of_work(url)
    try:
        users.add_user(database, bootstrap.password_hasher(), SETUP, username=USER,
                       password=PASSWORD, role="clinician")
        ids = {}
        for name in example_names():
            document = orjson.loads((examples_dir() / f"{name}.json").read_bytes())
            stored = patients.create_patient(database, SETUP, document,
                                             parse=bootstrap.make_live_parser())
            ids[name] = stored.id
        return ids
    finally:
        database.dispose()


def _pdf_pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


def _measure(page: Any, base: str, path: str, out: Path, name: str) -> dict[str, Any]:
    sizes: list[int] = []

    def on_response(response: Any) -> None:
        try:
            sizes.append(len(response.body()))
        except Exception:
            sizes.append(0)

    page.set_viewport_size(DESKTOP)
    page.on("response", on_response)
    response = page.goto(base + path, wait_until="networkidle")
    page.remove_listener("response", on_response)
    html = len(response.body())
    desk = page.evaluate("document.documentElement.scrollHeight")
    critical = page.evaluate(
        "s => { const e = document.querySelector(s); "
        "return e ? Math.round(e.getBoundingClientRect().top + scrollY) : null }", CRITICAL)
    act_desk = page.evaluate(ACT_BOTTOM)
    page.screenshot(path=str(out / f"{name}-desktop.png"))
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(100)
    phone = page.evaluate("document.documentElement.scrollHeight")
    width = page.evaluate("document.documentElement.scrollWidth")
    act_phone = page.evaluate(ACT_BOTTOM)
    page.screenshot(path=str(out / f"{name}-phone.png"))
    return {"html": html, "total": sum(sizes), "desk": desk, "phone": phone, "width": width,
            "critical": critical, "act_desk": act_desk, "act_phone": act_phone,
            "act": "—" if act_desk is None else f"{act_desk}/{act_phone}"}


def _span(values: list[int]) -> str:
    return f"{min(values):,}–{max(values):,}" if values else "—"


def _summary(rows: list[dict[str, Any]]) -> list[str]:
    """The ranges over all patients (the closing note's figures) and whether the act-now block
    ends within the first screen at both sizes."""
    desk = [r["act_desk"] for r in rows if r["act_desk"] is not None]
    phone = [r["act_phone"] for r in rows if r["act_phone"] is not None]
    fits = sum(1 for r in rows if r["act_desk"] is not None and r["act_desk"] <= DESKTOP["height"]
               and r["act_phone"] <= PHONE["height"])
    return [
        f"{len(rows)} patients: HTML {_span([r['html'] for r in rows])} B, with CSS "
        f"{_span([r['total'] for r in rows])} B; page {_span([r['desk'] for r in rows])} px "
        f"(1366×768), {_span([r['phone'] for r in rows])} px (390×844)",
        f"act-now block ends at {_span(desk)} px (1366×768, screen 768) and {_span(phone)} px "
        f"(390×844, screen 844): on the first screen at both sizes for {fits} of {len(rows)}",
        f"print letter {_span([r['print'] for r in rows])} A4 pages; PDF download "
        f"{_span([r['pdf'] for r in rows if isinstance(r['pdf'], int)])} pages"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", default="test-artifacts/pages")
    parser.add_argument("--as-of", help="the page's assessment date (default: today)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    query = f"?as_of={args.as_of}" if args.as_of else ""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'pages.sqlite3'}"
        ids = _store_examples(url)
        with _serve(url) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = browser.new_context(viewport=DESKTOP, locale="en-GB", timezone_id="UTC")
            page = context.new_page()
            page.goto(base + "/login")
            page.get_by_label("Username").fill(USER)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            print(f"Chromium {browser.version}, {platform.python_implementation()} "
                  f"{platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
            listed = _measure(page, base, "/patients", out, "patients")
            print(f"patient list: {listed['html']:,} B HTML, {listed['total']:,} B total, "
                  f"{listed['desk']:,} px (desktop), {listed['phone']:,} px × {listed['width']} px (phone)")
            header = (f"{'patient':24} {'html B':>9} {'total B':>9} {'desk px':>8} {'phone px':>8} "
                      f"{'width':>6} {'crit px':>8} {'act px':>10} {'print':>5} {'pdf':>4}")
            print(header)
            rows = []
            for name, patient_id in ids.items():
                m = _measure(page, base, f"/patients/{patient_id}{query}", out, name)
                page.goto(base + f"/patients/{patient_id}/print{query}", wait_until="networkidle")
                m["print"] = printed = _pdf_pages(page.pdf(format="A4", print_background=True))
                pdf: int | str = "—"
                download = context.request.get(base + f"/patients/{patient_id}/letter.pdf{query}")
                if download.ok and download.headers.get("content-type", "").startswith("application/pdf"):
                    pdf = _pdf_pages(download.body())
                m["pdf"] = pdf
                rows.append(m)
                crit = "—" if m["critical"] is None else f"{m['critical']:,}"
                print(f"{name:24} {m['html']:>9,} {m['total']:>9,} {m['desk']:>8,} {m['phone']:>8,} "
                      f"{m['width']:>6} {crit:>8} {m['act']:>10} {printed:>5} {pdf!s:>4}")
            browser.close()
    print("\n".join(_summary(rows)))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
