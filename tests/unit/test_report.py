"""Report renderers: plan first, alerts by severity, every note and citation shown, HTML escaped."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from functools import cache
from html.parser import HTMLParser
from typing import Any, Literal

import pytest
from markupsafe import escape

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import Assessment, assess, to_dict
from myositis_cds.engine.results import Note
from myositis_cds.presentation import (
    render_html,
    render_html_document,
    render_markdown,
    render_text,
)
from myositis_cds.presentation.labels import fmt_dose, fmt_number, plain
from myositis_cds.presentation.markdown import md_escape
from tests.conftest import EXAMPLES, TODAY, load_example

Renderer = Callable[[Assessment, Mapping[str, str]], str]
FORMATS: dict[str, Renderer] = {"text": render_text, "markdown": render_markdown, "html": render_html}


def _html_escape(text: str) -> str:
    return str(escape(text))


# How each format writes a value taken from the assessment.
ESCAPES: dict[str, Callable[[str], str]] = {"text": str, "markdown": md_escape, "html": _html_escape}
NAMES = [p.stem for p in EXAMPLES]
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
SEVERITY_ORDER: tuple[Literal["info", "warning", "critical"], ...] = (
    "info", "critical", "warning", "info", "critical", "warning")
# The section headings of each format, in the order they must appear.
SECTIONS = {
    "text": ["1. PLAN", "2. ALERTS", "3. DETAILS", "4. INTERPRETATIONS AND NOTES", "5. SETTINGS",
             "6. REFERENCES"],
    "markdown": ["## 1. Plan", "## 2. Alerts", "## 3. Details", "## 4. Interpretations and notes",
                 "## 5. Settings", "## 6. References"],
    "html": [">1. Plan</h3>", ">2. Alerts</h3>", ">3. Details</h3>",
             ">4. Interpretations and notes</h3>", ">5. Settings</h3>", ">6. References</h3>"],
}
MALICIOUS = "<script>alert(1)</script>"


@cache
def _citations() -> dict[str, str]:
    return dict(default_params().pack.citations)


@cache
def assessed(name: str) -> Assessment:
    """An example's typed assessment (immutable: tests change copies with ``replace``)."""
    record = parse_record(load_example(name), today=TODAY)
    return assess(record, TODAY, default_params())


def doc(assessment: Assessment) -> dict[str, Any]:
    """The JSON document of an assessment: what the tests look values up in."""
    return to_dict(assessment)


def _mappings(value: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
        for child in value.values():
            yield from _mappings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _mappings(child)


def citation_keys(document: Mapping[str, Any]) -> set[str]:
    return {key for m in _mappings(document) for key in m.get("citations") or ()}


def note_texts(document: Mapping[str, Any]) -> set[str]:
    """The notes' texts as a clinician reads them (codes as words, sections left to provenance)."""
    return {plain(note["text"]) for m in _mappings(document) for note in m.get("notes") or ()}


def squash(text: str) -> str:
    return " ".join(text.split())


def section(output: str, fmt: str, index: int) -> str:
    """The text of section ``index`` (0-based in SECTIONS) up to the next one."""
    heads = SECTIONS[fmt]
    start = output.index(heads[index])
    end = output.index(heads[index + 1]) if index + 1 < len(heads) else len(output)
    return output[start:end]


def reference_numbers(html: str) -> dict[str, int]:
    """Citation key → number, read from the HTML reference list."""
    found = re.findall(r'-ref-(\d+)" value="\d+"><span class="ref-number">\[\d+\]</span> .*? '
                       r'<span class="muted">\(([^)]+)\)</span></li>', html)
    return {key: int(number) for number, key in found}


def _record(patient_id: str) -> dict[str, Any]:
    return {
        "format": "myositis-cds/patient-record@1",
        "id": patient_id,
        "sex": "female",
        "birth_date": "1970-01-01",
        "diagnosis": {"name": "dermatomyositis", "date": "2026-09-01"},
        "antibodies": [{"target": "Mi-2", "result": "positive", "date": "2026-08-20"}],
        "findings": [{"code": "gottron_papules", "present": True, "date": "2026-09-01"}],
    }


def malicious_assessment() -> Assessment:
    record = parse_record(_record(MALICIOUS), today=dt.date(2026, 11, 21))
    return assess(record, dt.date(2026, 11, 21), default_params())


class _HtmlChecker(HTMLParser):
    """Collects what an accessibility and well-formedness check needs."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.headings: list[int] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()


def check_html(html: str) -> _HtmlChecker:
    checker = _HtmlChecker()
    checker.feed(html)
    checker.close()
    assert checker.errors == []
    assert checker.stack in ([], ["html"]), checker.stack
    assert len(checker.ids) == len(set(checker.ids)), "duplicate ids"
    return checker


# -- every example, every format ------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_every_example_renders_with_all_its_content(name: str, fmt: str) -> None:
    assessment = assessed(name)
    document = doc(assessment)
    output = FORMATS[fmt](assessment, _citations())
    assert isinstance(output, str)
    esc = ESCAPES[fmt]
    assert esc(document["patient_id"]) in output
    assert document["as_of"] in output
    assert "anti-mi2-dm" in output
    assert esc(document["knowledge"]["version"]) in output
    for action in document["treatment_plan"]["actions"]:
        assert squash(esc(plain(action["reason"]))) in squash(output)
    for reason in document["current_therapy"]["phase_reasons"]:
        assert squash(esc(plain(reason))) in squash(output)
    for item in document["safety"]:
        assert squash(esc(plain(item["reason"]))) in squash(output)
    for alert in document["alerts"]:
        assert esc(alert["id"]) in output
        assert squash(esc(plain(alert["message"]))) in squash(output)
    for missing in document["alerts_not_evaluable"]:
        assert squash(esc(plain(missing["reason"]))) in squash(output)
    for item in document["workup"]:
        assert esc(item["id"]) in output
    for reason in document["severity"]["reasons"] + document["cancer_screening"]["reasons"]:
        assert squash(esc(plain(reason))) in squash(output)
    for feature in document["phenotype"]["features"]:
        assert squash(esc(plain(feature["statement"]))) in squash(output)
    for message in document["phenotype"]["messages"]:
        assert squash(esc(plain(message))) in squash(output)
    for name_ in document["settings"]["values"]:
        assert esc(name_) in output


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_plan_comes_before_alerts_which_come_before_details(name: str, fmt: str) -> None:
    document = doc(assessed(name))
    output = FORMATS[fmt](assessed(name), _citations())
    positions = [output.index(head) for head in SECTIONS[fmt]]
    assert positions == sorted(positions)
    plan, alerts, details = (section(output, fmt, i) for i in range(3))
    for heading in ("Severity tier", "Treatment plan", "Cancer screening"):
        assert heading in plan
    for regimen in document["treatment_plan"]["regimens"]:
        assert regimen["basis"].split()[0] in plan
    for alert in document["alerts"]:
        assert alert["id"] in alerts
    for heading in ("Total Improvement Score", "Work-up checklist", "Phenotype profile"):
        assert heading in details


ACT_NOW_HEADINGS = {"text": "WHAT TO DO NOW", "markdown": "## What to do now", "html": ">What to do now<"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_the_actions_lead_the_report_in_the_order_to_act(name: str, fmt: str) -> None:
    """The answer first: what to do now comes before the plan's options, action by action."""
    document = doc(assessed(name))
    output = squash(FORMATS[fmt](assessed(name), _citations()))
    start = output.index(squash(ACT_NOW_HEADINGS[fmt]))
    plan = output.index(squash(SECTIONS[fmt][0]))
    assert start < plan
    esc = ESCAPES[fmt]
    positions = [output.index(squash(esc(plain(a["reason"]))), start)
                 for a in document["treatment_plan"]["actions"]]
    assert positions == sorted(positions)
    assert all(p < plan for p in positions)
    if not document["treatment_plan"]["actions"]:
        assert "No action." in output[start:plan]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_alerts_are_grouped_critical_then_warning_then_info(name: str, fmt: str) -> None:
    document = doc(assessed(name))
    alerts = section(FORMATS[fmt](assessed(name), _citations()), fmt, 1)
    shown = sorted(document["alerts"], key=lambda a: alerts.index(a["id"]))
    ranks = [SEVERITY_RANK[a["severity"]] for a in shown]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize("fmt", FORMATS)
def test_alerts_are_sorted_by_the_renderer_whatever_their_order(fmt: str) -> None:
    assessment = assessed("incomplete-data")
    base = assessment.alerts[0]
    assessment = replace(assessment, alerts=tuple(
        replace(base, id=f"ALERT-TEST-{severity.upper()}-{n}", severity=severity)
        for n, severity in enumerate(SEVERITY_ORDER)))
    alerts = section(FORMATS[fmt](assessment, _citations()), fmt, 1)
    order = sorted(assessment.alerts, key=lambda a: alerts.index(a.id))
    assert [a.severity for a in order] == ["critical", "critical", "warning", "warning", "info",
                                           "info"]
    assert [a.id for a in order][:2] == ["ALERT-TEST-CRITICAL-1", "ALERT-TEST-CRITICAL-4"]
    for label in ("Critical (2)", "Warning (2)", "Info (2)"):
        assert (label.upper() if fmt == "text" else label) in alerts


# -- citations ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_each_citation_is_listed_once_with_its_number_and_full_text(name: str, fmt: str) -> None:
    assessment = assessed(name)
    citations = _citations()
    numbers = reference_numbers(render_html(assessment, citations))
    keys = citation_keys(doc(assessment))
    assert set(numbers) == keys
    assert sorted(numbers.values()) == list(range(1, len(keys) + 1))
    references = section(FORMATS[fmt](assessment, citations), fmt, 5)
    esc = ESCAPES[fmt]
    for key in keys:
        assert references.count(f"({esc(key)})") == 1, key
        assert squash(references).count(squash(esc(citations[key]))) == 1, key
        entry = f"[{numbers[key]}] {esc(citations[key])}"
        if fmt == "html":
            entry = f'[{numbers[key]}]</span> {esc(citations[key])}'
        assert squash(entry) in squash(references), key


@pytest.mark.parametrize("name", NAMES)
def test_citations_are_numbered_in_reading_order(name: str) -> None:
    html = render_html(assessed(name), _citations())
    body = html[:html.index(">4. Interpretations and notes</h3>")]
    anchor = re.search(r'<article [^>]*id="([^"]+)"', html)
    assert anchor is not None
    first = [body.find(f'href="#{anchor[1]}-ref-{n}"') for n in range(1, 100)]
    shown = [position for position in first if position >= 0]
    assert shown == sorted(shown)


def test_in_text_markers_point_to_the_right_reference() -> None:
    document = assessed("over-40-no-screening")
    text = render_text(document, _citations())
    numbers = reference_numbers(render_html(document, _citations()))
    severity_line = next(line for line in text.splitlines() if line.startswith("Severity tier:"))
    assert severity_line.endswith(f"[{numbers['MI2-SUMMARY']}]")
    prednisone = next(line for line in text.splitlines() if "Prednisone (glucocorticoid)" in line)
    wanted = "".join(f"[{n}]" for n in sorted((numbers["MI2-SUMMARY"], numbers["JTA-2019"])))
    assert wanted in prednisone


def test_unknown_citation_key_is_still_listed() -> None:
    assessment = assessed("non-severe")
    assessment = replace(assessment, severity=replace(assessment.severity, citations=("NOT-IN-PACK",)))
    text = render_text(assessment, _citations())
    references = section(text, "text", 5)
    assert "(NOT-IN-PACK)" in references
    assert "not found in the knowledge pack" in references


# -- notes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_every_note_is_listed_and_marked_where_it_applies(name: str, fmt: str) -> None:
    assessment = assessed(name)
    output = FORMATS[fmt](assessment, _citations())
    notes = section(output, fmt, 3)
    esc = ESCAPES[fmt]
    texts = note_texts(doc(assessment))
    for text in texts:
        assert squash(notes).count(squash(esc(text))) == 1, text
    body = output[:output.index(SECTIONS[fmt][3])]
    for number in range(1, len(texts) + 1):
        assert f"[N{number}]" in body
    assert f"[N{len(texts) + 1}]" not in output


def test_a_note_added_to_any_result_is_listed_with_its_citation_and_marked() -> None:
    assessment = assessed("incomplete-data")
    added = Note(kind="caveat", text="a caveat on the alert", citations=("HAQ-DI",))
    alert = replace(assessment.alerts[0], notes=(*assessment.alerts[0].notes, added))
    assessment = replace(assessment, alerts=(alert, *assessment.alerts[1:]))
    for fmt, render in FORMATS.items():
        output = render(assessment, _citations())
        notes = section(output, fmt, 3)
        assert "a caveat on the alert" in notes
        assert "$." not in notes, "no JSON path faces the clinician"
        assert "HAQ-DI" in section(output, fmt, 5)
    text = render_text(assessment, _citations())
    number = re.search(r"N(\d+)  caveat: a caveat on the alert", text)
    assert number is not None
    assert re.search(rf"{re.escape(alert.title)}.*\[N{number[1]}\]", squash(text))


def test_notes_are_deduplicated_by_text() -> None:
    assessment = assessed("over-40-no-screening")
    note = assessment.cancer_screening.notes[0]
    assessment = replace(assessment, severity=replace(assessment.severity, notes=(note,)))
    text = render_text(assessment, _citations())
    assert squash(text).count(squash(plain(note.text))) == 1
    notes = section(text, "text", 3)
    # in reading order: the act-now block lists the screening occasion due before the plan
    assert "applies to: Cancer screening; Severity;" in squash(notes)


# -- plan values ----------------------------------------------------------------------------------

def test_numbers_are_rounded_for_display_only() -> None:
    assert fmt_dose(68.25) == "68.3"
    assert fmt_dose(1006.7825540359303) == "1006.8"
    assert fmt_dose(60.0) == "60"
    assert fmt_dose(0.75) == "0.75"
    assert fmt_number(97.56849315068493) == "97.6"
    assert fmt_number(None) == "—"
    assessment = assessed("non-severe")
    plan = assessment.treatment_plan
    prednisone = replace(plan.regimens[0], dose_max=68.25)
    assessment = replace(assessment, treatment_plan=replace(
        plan, regimens=(prednisone, *plan.regimens[1:])))
    for render in FORMATS.values():
        assert "60–68.3 mg/day" in render(assessment, _citations())
    assert prednisone.dose_max == 68.25


def test_cyclophosphamide_dose_is_shown_rounded() -> None:
    text = render_text(assessed("severe-ild"), _citations())
    assert "1006.8–1510.2 mg/month" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_dose_not_evaluable_shows_reason_and_per_kg_basis(fmt: str) -> None:
    output = squash(FORMATS[fmt](assessed("incomplete-data"), _citations()))
    assert "not evaluable: weight missing (basis 1 mg/kg/day, max 60-80 mg/day)" in output
    assert "not evaluable: weight missing (basis 2–3 mg/kg/day)" in output
    assert "None" not in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_out_of_scope_is_prominent(fmt: str) -> None:
    output = FORMATS[fmt](assessed("mi2-negative-dm"), _citations())
    plan = output.index(SECTIONS[fmt][0])
    assert 0 <= output.upper().index("OUT OF SCOPE:") < plan
    in_scope = FORMATS[fmt](assessed("non-severe"), _citations())
    assert "OUT OF SCOPE" not in in_scope.upper()
    if fmt == "html":
        assert 'class="scope-banner"' in output


@pytest.mark.parametrize("fmt", FORMATS)
def test_overridden_settings_are_highlighted(fmt: str) -> None:
    assessment = replace(assessed("non-severe"), settings_overridden=("tis_percent_change",))
    settings = section(FORMATS[fmt](assessment, _citations()), fmt, 4)
    if fmt == "text":
        line = next(line for line in settings.splitlines() if line.startswith("  * "))
        assert "tis_percent_change" in line
        assert "OVERRIDDEN" in line
        assert "Overridden from the pack defaults: tis_percent_change" in settings
    elif fmt == "markdown":
        assert "| **tis\\_percent\\_change** | absolute | **yes** |" in settings
    else:
        assert re.search(r'<tr class="overridden"><th scope="row"><code>tis_percent_change</code>',
                         settings)
    unchanged = section(FORMATS[fmt](assessed("non-severe"), _citations()), fmt, 4)
    assert "All settings are the knowledge pack defaults." in unchanged


def test_tis_measure_table() -> None:
    text = render_text(assessed("over-40-no-screening"), _citations())
    details = section(text, "text", 2)
    assert re.search(r"Muscle enzyme \(CK\)\s+2400\s+150\s+93\.8\s+7\.5\s+no", details)
    assert re.search(r"HAQ\s+1\.125\s+0\.75\s+12\.5\s+5\s+no", details)
    assert "IMPROVED" in details
    assert "NOT YET DUE" in details


# -- format validity ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_text_fits_in_100_columns(name: str) -> None:
    text = render_text(assessed(name), _citations())
    assert max(len(line) for line in text.splitlines()) <= 100


def _markdown_tables(markdown: str) -> list[list[str]]:
    tables: list[list[str]] = []
    current: list[str] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


@pytest.mark.parametrize("name", NAMES)
def test_markdown_tables_are_valid_gfm(name: str) -> None:
    assessment = assessed(name)
    first = replace(assessment.workup[0], title="a | pipe and a \\ backslash")
    assessment = replace(assessment, workup=(first, *assessment.workup[1:]))
    markdown = render_markdown(assessment, _citations())
    tables = _markdown_tables(markdown)
    assert len(tables) >= 3
    for table in tables:
        assert re.fullmatch(r"\|(---\|)+", table[1]), table[1]
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table
        before = markdown.splitlines()[markdown.splitlines().index(table[0]) - 1]
        assert before == "", "a table must follow a blank line"


@pytest.mark.parametrize("name", NAMES)
def test_html_fragment_is_well_formed_and_accessible(name: str) -> None:
    checker = check_html(render_html(assessed(name), _citations()))
    assert checker.headings[0] == 2
    assert all(b - a <= 1 for a, b in zip(checker.headings, checker.headings[1:], strict=False))
    tables = [attrs for tag, attrs in checker.tags if tag == "table"]
    column_heads = [attrs for tag, attrs in checker.tags if tag == "th" and attrs.get("scope") == "col"]
    assert tables
    assert len(column_heads) >= len(tables)


def test_html_document_is_standalone_and_print_friendly() -> None:
    assessments = [assessed(name) for name in NAMES]
    html = render_html_document(assessments, _citations(), title="Clinic <list> & more")
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    assert '<meta charset="utf-8">' in html
    assert "<title>Clinic &lt;list&gt; &amp; more</title>" in html
    assert "<style>" in html
    assert "@media print" in html
    assert "<script" not in html.lower()
    assert not re.search(r"\son[a-z]+=", html), "no event handler attributes"
    assert not re.search(r'(?:src|href)="(?!#)', html), "no external resource or link"
    assert "url(" not in html
    assert "@import" not in html
    checker = check_html(html)
    assert checker.headings[0] == 1
    for name in NAMES:
        assert f"ex-{name}" in html
    for severity in ("critical", "warning", "info"):
        assert f".sev-{severity}" in html
    assert 'class="alert sev-critical"' in html


def test_html_document_accepts_prerendered_fragments() -> None:
    fragments = [render_html(assessed(name), _citations()) for name in ("juvenile", "non-severe")]
    html = render_html_document([], _citations(), title="batch", extra_sections=fragments)
    for fragment in fragments:
        assert fragment in html
    check_html(html)
    empty = render_html_document([], _citations(), title="empty")
    assert "No assessment to show." in empty


# -- escaping -------------------------------------------------------------------------------------

def test_html_escapes_a_malicious_patient_id() -> None:
    document = malicious_assessment()
    assert document.patient_id == MALICIOUS
    fragment = render_html(document, _citations())
    page = render_html_document([document], _citations(), title=f"myositis-cds — {MALICIOUS}")
    for html in (fragment, page):
        assert "<script" not in html.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        check_html(html)
    markdown = render_markdown(document, _citations())
    assert "<script>" not in markdown
    assert "\\<script\\>alert(1)\\</script\\>" in markdown
    assert MALICIOUS in render_text(document, _citations())


def test_every_value_is_escaped_in_html() -> None:
    a = assessed("incomplete-data")
    a = replace(a, alerts=(replace(a.alerts[0], message='<img src=x onerror="alert(1)">'), *a.alerts[1:]),
                severity=replace(a.severity, notes=(Note(kind="caveat", text="<b>bold</b>",
                                                         citations=("<i>KEY</i>",)),)),
                settings={**a.settings, "<u>x</u>": "<svg onload=alert(1)>"},
                treatment_plan=replace(a.treatment_plan, regimens=(
                    replace(a.treatment_plan.regimens[0], drug='"><script>alert(2)</script>'),
                    *a.treatment_plan.regimens[1:])))
    html = render_html_document([a], _citations(), title="t")
    for raw in ("<img", "<b>", "<i>", "<u>", "<svg", "<script"):
        assert raw not in html
    check_html(html)


def test_control_characters_cannot_forge_lines() -> None:
    assessment = replace(assessed("non-severe"), patient_id="x\n1. PLAN\n| a | b |")
    text = render_text(assessment, _citations())
    assert text.count("1. PLAN\n") == 1
    markdown = render_markdown(assessment, _citations())
    assert "\n| a | b |" not in markdown
    assert "\\| a \\| b \\|" in markdown
