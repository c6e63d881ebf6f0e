"""The act-now patient page, its print letter and the letter's PDF, for every example patient.

The page leads with who the patient is, the alerts, what is due or overdue with its date, the
plan, the current therapy with doses and duration and the latest TIS; everything else is in
native ``<details>``; rule IDs, JSON paths and codes appear only in the provenance view; one
numbered reference list. The letter prints on at most two A4 pages, and its PDF (WeasyPrint) says
the same in its text.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.domain.vocabulary import ALL_FINDINGS, INVESTIGATION_KINDS
from myositis_cds.engine import Assessment, assess
from myositis_cds.presentation.labels import label, plain
from tests.conftest import EXAMPLES, TODAY, load_example
from tests.e2e.web_support import Web, make_web, page_sign_in

NAMES = [p.stem for p in EXAMPLES]
CODE_PATTERN = re.compile(r"\b(?:ALERT|WORKUP|PLAN|SAFETY|RESPONSE|SEVERITY|SCREEN|PHENOTYPE)-[A-Z0-9-]+\b"
                          r"|\$\.|§|>=|<=")
SNAKE_CODES = tuple(code for code in (*ALL_FINDINGS, *INVESTIGATION_KINDS) if "_" in code)


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    web = make_web(tmp_path_factory.mktemp("page"))
    web.add_user("clara")
    yield web
    web.close()


@pytest.fixture(scope="module")
def ids(web: Web) -> dict[str, int]:
    return {name: web.store(name).id for name in NAMES}


@pytest.fixture(scope="module")
def client(web: Web) -> Iterator[TestClient]:
    with web.client() as client:
        page_sign_in(client, "clara")
        yield client


@cache
def assessed(name: str) -> Assessment:
    return assess(parse_record(load_example(name), today=TODAY), TODAY, default_params())


class _Outside(HTMLParser):
    """The text of a page outside its provenance view, and the act-now block's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.provenance_at: int | None = None
        self.act_at: int | None = None
        self.outside: list[str] = []
        self.act: list[str] = []
        self.reference_lists = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag in ("br", "img", "input", "meta", "link", "wbr", "hr"):
            return
        self.depth += 1
        if "provenance" in classes and self.provenance_at is None:
            self.provenance_at = self.depth
        if "act-now" in classes and self.act_at is None:
            self.act_at = self.depth
        if tag == "ol" and "reference-list" in classes:
            self.reference_lists += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "img", "input", "meta", "link", "wbr", "hr"):
            return
        if self.provenance_at == self.depth:
            self.provenance_at = None
        if self.act_at == self.depth:
            self.act_at = None
        self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.provenance_at is None:
            self.outside.append(data)
        if self.act_at is not None:
            self.act.append(data)


def parsed(html: str) -> _Outside:
    parser = _Outside()
    parser.feed(html[html.index("<main>"):html.index("</main>")])
    return parser


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", NAMES)
def test_the_act_now_block_holds_what_to_do_first(client: TestClient, ids: dict[str, int],
                                                 name: str) -> None:
    html = client.get(f"/patients/{ids[name]}").text
    act = squash(" ".join(parsed(html).act))
    a = assessed(name)
    record = load_example(name)
    assert f"ex-{name}" in act
    assert label("sex", record.get("sex", "unknown")) in act
    for alert in a.alerts:
        if alert.severity in ("critical", "warning"):
            assert squash(plain(alert.title)) in act, alert.id
            assert squash(plain(alert.message)) in act, alert.id
    for occasion in a.cancer_screening.occasions:
        if occasion.status in ("due", "overdue"):
            assert f"due {occasion.due.isoformat()}" in act
            assert label("status", occasion.status) in act
    if a.response.inadequate_response.status == "inadequate":
        assert "inadequate response" in act
    if a.response.tis.result.score is not None:
        assert "TIS " in act
    for treatment in record.get("treatments", []):
        if treatment["start"] <= TODAY.isoformat() <= (treatment.get("stop") or "9999"):
            assert label("drug", treatment["drug"]) in act, treatment
    assert " days" in act or "No treatment active." in act


def test_refractory_shows_its_overdue_screen_and_inadequate_response(client: TestClient,
                                                                    ids: dict[str, int]) -> None:
    """The defect: '0 critical, 0 warning' for a patient whose screen is overdue and whose TIS is
    an inadequate response."""
    act = squash(" ".join(parsed(client.get(f"/patients/{ids['refractory-3-months']}").text).act))
    # (the date also stands first, for a phone, which shows one or the other)
    assert re.search(r"overdue (2026-07-10 )?Cancer screen due 2026-07-10", act)
    assert re.search(r"inadequate response (2026-11-09 )?Response to first-line treatment judged "
                     r"2026-11-09", act)
    assert "TIS 12.5 no improvement on 2026-11-09" in act
    assert "Azathioprine 150 mg daily (2.31 mg/kg) since 2026-07-13, 131 days on this dose" in act
    assert "Refractory — course started 2026-07-13" in act
    assert "Pulse Methylprednisolone IV 1 g/day" in act


@pytest.mark.parametrize("name", NAMES)
def test_codes_face_the_clinician_only_in_the_provenance_view(client: TestClient,
                                                             ids: dict[str, int], name: str) -> None:
    html = client.get(f"/patients/{ids[name]}").text
    page = parsed(html)
    outside = " ".join(page.outside)
    # The reference list is bibliographic: a reference may name sections of its source (§).
    before_references = outside[:outside.rindex("References")]
    assert CODE_PATTERN.findall(before_references) == []
    assert re.findall(r"\([A-Z][A-Z0-9]*-[A-Z0-9-]+\)", outside) == []  # no citation keys
    assert [code for code in SNAKE_CODES if code in outside] == []
    provenance = html[html.index('class="section provenance"'):]
    assert "$." in provenance or not assessed(name).alerts  # the record paths are there
    assert re.search(r"\b[A-Z]+-[A-Z0-9-]+\b", provenance)  # and the rule IDs
    assert page.reference_lists == 1


@pytest.mark.parametrize("name", NAMES)
def test_one_reference_list_numbered_in_reading_order(client: TestClient, ids: dict[str, int],
                                                     name: str) -> None:
    html = client.get(f"/patients/{ids[name]}").text
    listed = [int(n) for n in re.findall(r'<li id="p[0-9a-f]+-ref-(\d+)" value=', html)]
    assert listed == list(range(1, len(listed) + 1))
    cited = [int(n) for n in re.findall(r'href="#p[0-9a-f]+-ref-(\d+)"', html)]
    assert set(cited) == set(listed)
    first_seen = list(dict.fromkeys(cited))
    assert first_seen == sorted(first_seen)


def test_everything_but_act_now_is_in_native_details(client: TestClient, ids: dict[str, int]) -> None:
    html = client.get(f"/patients/{ids['severe-ild']}").text
    main = html[html.index("<main>"):html.index("</main>")]
    assert "<script" not in main.lower()
    sections = re.findall(r'<details class="section[^"]*" id="p[0-9a-f]+-([a-z]+)">', main)
    assert sections == ["options", "alerts", "screening", "therapy", "workup", "response", "visits",
                        "trends", "phenotype", "notes", "provenance"]
    assert "<details open" not in main
    assert main.index('class="act-now') < main.index('<details class="section')


@pytest.mark.parametrize("name", NAMES)
def test_the_print_letter_and_its_pdf(client: TestClient, ids: dict[str, int], name: str) -> None:
    letter = client.get(f"/patients/{ids[name]}/print")
    assert letter.status_code == 200
    html = letter.text
    assert "<script" not in html.lower()
    assert not re.search(r'(?:src|href)="(?!#)', html), "the letter fetches nothing"
    assert "printed 2026-11-21 by clara" in html
    # its inline CSS (and only that) is allowed by the page's policy, so that a browser prints it styled
    css = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert len(css) == 1
    digest = base64.b64encode(hashlib.sha256(css[0].encode()).digest()).decode()
    policy = letter.headers["content-security-policy"]
    assert policy.endswith(f"; style-src 'self' 'sha256-{digest}'")
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert html.count('class="reference-list"') == 1
    listed = [int(n) for n in re.findall(r'<li id="letter-ref-(\d+)"', html)]
    assert listed == list(range(1, len(listed) + 1))
    assert set(map(int, re.findall(r'href="#letter-ref-(\d+)"', html))) == set(listed)
    pdf = client.get(f"/patients/{ids[name]}/letter.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="ex-{name}-letter-2026-11-21.pdf"'
    reader = PdfReader(io.BytesIO(pdf.content))
    assert 1 <= len(reader.pages) <= 2
    text = squash(" ".join(page.extract_text() for page in reader.pages))
    assert f"ex-{name}" in text
    assert f"page 1 of {len(reader.pages)}" in text
    for alert in assessed(name).alerts:
        if alert.severity in ("critical", "warning"):
            assert squash(plain(alert.title)) in text, alert.id
    assert "REFERENCES" in text.upper()


def test_the_letter_escapes_what_the_record_says(web: Web, client: TestClient,
                                                 tmp_path: Path) -> None:
    record = load_example("non-severe")
    record["id"] = "<script>alert(1)</script>"
    from myositis_cds.bootstrap import make_live_parser  # noqa: PLC0415
    from myositis_cds.services import patients  # noqa: PLC0415
    from tests.e2e.web_support import ADMIN  # noqa: PLC0415

    stored = patients.create_patient(web.uow, ADMIN, record, parse=make_live_parser())
    for path in (f"/patients/{stored.id}", f"/patients/{stored.id}/print"):
        html = client.get(path).text
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(
        client.get(f"/patients/{stored.id}/letter.pdf").content)).pages)
    assert "<script>alert(1)</script>" in text  # shown as text, never run
    del tmp_path


def test_letter_and_pdf_need_a_clinician(web: Web) -> None:
    web.add_user("rita", role="researcher")
    with web.client() as anonymous:
        assert anonymous.get("/patients/1/letter.pdf", follow_redirects=False).status_code in (303, 401)
    with web.client() as researcher:
        page_sign_in(researcher, "rita")
        assert researcher.get("/patients/1/letter.pdf").status_code == 403
        assert researcher.get("/patients/1/print").status_code == 403
