"""Timeline report: one patient's visits, the TIS of each against the baseline, and the treatments.

The renderers read the ``myositis-cds/timeline@1`` dict of :func:`myositis_cds.engine.timeline_to_dict`
(or the same JSON loaded back) and the pack's citations (key → reference), like the assessment
renderers, whose helpers they share: :class:`Numbering` numbers citations and notes in reading order,
:mod:`labels` formats numbers for reading, and each visit's TIS and IMACS DOI are laid out by the
assessment report's own builder, so both reports show a TIS the same way. The CSV keeps the exact
values of the JSON (no display rounding).

``notes`` are note objects (``kind``, ``text``, ``setting``) that affected the timeline, such as the
[INTERP] settings of the percent change and of the lab window; the timeline dict does not carry them,
so the caller passes them in (the CLI does). Notes found in the dict itself are listed too.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from myositis_cds.entrypoints.report.html import jinja_environment, render_html_document
from myositis_cds.entrypoints.report.labels import (
    EMPTY,
    clean,
    drug_label,
    fmt_recorded,
    humanise,
    role_label,
)
from myositis_cds.entrypoints.report.model import ReportBuilder, as_list, as_map
from myositis_cds.entrypoints.report.numbering import Marks, Numbering
from myositis_cds.entrypoints.report.text import TextWriter
from myositis_cds.entrypoints.report.views import DoiView, NoteView, ReferenceView, TisView
from myositis_cds.scores.tis import MEASURES

__all__ = [
    "CSV_COLUMNS",
    "TimelineReport",
    "TiterView",
    "TreatmentView",
    "VisitView",
    "build_timeline_report",
    "render_timeline_csv",
    "render_timeline_html_document",
    "render_timeline_html_fragment",
    "render_timeline_text",
]

Notes = Sequence[Mapping[str, Any]]
CSV_COLUMNS: Final = (
    "date", "baseline", "physician_global", "patient_global", "extramuscular_global", "mmt8",
    "mmt8_max", "haq", "cdasi_activity", "enzyme", "enzyme_value", "tis_status", "tis_score",
    "tis_range_low", "tis_range_high", "tis_category", "tis_population",
    *(f"{m}_{part}" for m in MEASURES for part in ("percent_change", "points", "worsened")),
    "imacs_doi_status", "active_treatments",
)
"""Header of the CSV (one row per visit); a batch puts ``patient_id`` first."""

# Which of the timeline's citations support which part (only keys the dict lists are shown).
_TIS_KEYS: Final[dict[object, tuple[str, ...]]] = {
    "adult": ("ACR-EULAR-2016",), "juvenile": ("ACR-EULAR-2016-JDM",),
    None: ("ACR-EULAR-2016", "ACR-EULAR-2016-JDM")}
_DOI_KEYS: Final = ("IMACS-DOI-2004",)
_TITER_KEYS: Final = ("PF2019",)
_POPULATION: Final[dict[object, str]] = {
    "adult": "adult onset: TIS categories use the adult thresholds",
    "juvenile": "juvenile onset: TIS categories use the juvenile DM thresholds",
    None: "unknown (birth date or onset/diagnosis date missing): a category is shown only where "
          "the adult and juvenile thresholds agree"}
_SPREADSHEET_FORMULA: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitView:
    date: str
    role: str
    """``baseline``, ``follow-up`` (scored against the baseline) or ``before baseline``."""
    physician_global: str
    patient_global: str
    extramuscular_global: str
    mmt8: str
    haq: str
    cdasi: str
    enzyme: str
    treatments: str
    tis: TisView | None
    doi: DoiView | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TreatmentView:
    drug: str
    role: str
    start: str
    stop: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TiterView:
    date: str
    target: str
    result: str
    titer: str
    cutoff: str
    below_cutoff: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineReport:
    anchor: str
    patient_id: str
    as_of: str
    population: str
    """``adult``, ``juvenile`` or ``adult and juvenile`` (whose thresholds the categories use)."""
    facts: tuple[tuple[str, str, Marks], ...]
    """Label, value and marks of each line of the header."""
    tis_marks: Marks
    doi_marks: Marks
    titer_marks: Marks
    visits: tuple[VisitView, ...]
    treatments: tuple[TreatmentView, ...]
    titers: tuple[TiterView, ...]
    notes: tuple[NoteView, ...]
    references: tuple[ReferenceView, ...]

    @property
    def scored(self) -> tuple[VisitView, ...]:
        """The visits with a TIS (those after the baseline)."""
        return tuple(v for v in self.visits if v.tis is not None)

    def range_of(self, visit: VisitView) -> str:
        return EMPTY if visit.tis is None else _range(visit.tis)


def _visit(v: Mapping[str, Any], baseline_date: object) -> VisitView:
    tis, doi = None, None
    if v.get("tis") is not None:
        # The assessment report's builder formats a TIS and a DOI; a visit's are the same records.
        response = {"tis": {**as_map(v.get("tis")), "enzyme": v.get("enzyme")},
                    "imacs_doi": as_map(v.get("imacs_doi"))}
        builder = ReportBuilder({"response": response}, {})
        tis, doi = builder.tis(), builder.doi()
    if v.get("is_baseline") is True:
        role = "baseline"
    elif tis is not None:
        role = "follow-up"
    else:
        before = isinstance(baseline_date, str) and clean(v.get("date")) < baseline_date
        role = "before baseline" if before else EMPTY
    enzyme = EMPTY if v.get("enzyme") is None else (
        f"{clean(v.get('enzyme'))} {fmt_recorded(v.get('enzyme_value'))}")
    mmt = EMPTY if v.get("mmt8") is None else (
        f"{fmt_recorded(v.get('mmt8'))}/{fmt_recorded(v.get('mmt8_max'))}")
    drugs = [drug_label(d) for d in as_list(v.get("active_treatments"))]
    return VisitView(
        date=clean(v.get("date")), role=role, physician_global=fmt_recorded(v.get("physician_global")),
        patient_global=fmt_recorded(v.get("patient_global")),
        extramuscular_global=fmt_recorded(v.get("extramuscular_global")), mmt8=mmt,
        haq=fmt_recorded(v.get("haq")), cdasi=fmt_recorded(v.get("cdasi_activity")), enzyme=enzyme,
        treatments="; ".join(drugs) or "none", tis=tis, doi=doi)


def _keys(doc: Mapping[str, Any], wanted: Sequence[str]) -> list[str]:
    listed = {clean(k) for k in as_list(doc.get("citations"))}
    return [k for k in wanted if k in listed]


def _facts(doc: Mapping[str, Any], visits: Sequence[VisitView], tis_marks: Marks,
           titer_marks: Marks) -> tuple[tuple[str, str, Marks], ...]:
    baseline, start = doc.get("baseline_date"), doc.get("first_line_start")
    if baseline is None:
        chosen = "none: no assessment recorded"
    elif start is None:
        chosen = f"{clean(baseline)} (first visit: no first-line treatment recorded)"
    elif clean(baseline) <= clean(start):
        chosen = (f"{clean(baseline)} (the visit on or closest before first-line treatment, started "
                  f"{clean(start)})")
    else:
        chosen = (f"{clean(baseline)} (first visit: none on or before first-line treatment, started "
                  f"{clean(start)})")
    roles = [v.role for v in visits]
    counts = ", ".join(f"{roles.count(r)} {r}" for r in ("baseline", "follow-up", "before baseline"))
    titers = as_list(doc.get("titers"))
    normalised = doc.get("titer_normalised_on")
    titer = (f"{clean(normalised)} (first result below the assay cut-off after a positive one)"
             if normalised is not None else
             "not normalised" if titers else "no anti-Mi-2 result recorded")
    drug_free = doc.get("drug_free_since")
    treated = any(as_map(t).get("role") != "other" for t in as_list(doc.get("treatment_periods")))
    free = (clean(drug_free) if drug_free is not None else
            "no: an immunosuppressant is active" if treated else "no immunosuppressant recorded")
    return (("Patient", clean(doc.get("patient_id")), Marks()),
            ("As of", clean(doc.get("as_of")), Marks()),
            ("Knowledge pack", f"version {clean(doc.get('knowledge_version'))} ({clean(doc.get('format'))})",
             Marks()),
            ("Population", _POPULATION.get(doc.get("population"), humanise(doc.get("population"))),
             tis_marks),
            ("Baseline visit", chosen, Marks()),
            ("Visits", f"{len(visits)} ({counts})", Marks()),
            ("Anti-Mi-2 normalised", titer, titer_marks),
            ("Drug-free since", free, Marks()))


def build_timeline_report(doc: Mapping[str, Any], citations: Mapping[str, str],
                          notes: Notes = ()) -> TimelineReport:
    """The display-ready report of one ``myositis-cds/timeline@1`` dict."""
    num = Numbering()
    notes = tuple(notes) or tuple(as_list(doc.get("notes")))
    population = doc.get("population")
    tis_marks = Marks(refs=num.cite(_keys(doc, _TIS_KEYS.get(population, _TIS_KEYS[None]))),
                      notes=num.note_numbers(list(notes), "TIS against baseline"))
    doi_marks = Marks(refs=num.cite(_keys(doc, _DOI_KEYS)))
    titer_marks = Marks(refs=num.cite(_keys(doc, _TITER_KEYS)))
    visits = tuple(_visit(as_map(v), doc.get("baseline_date")) for v in as_list(doc.get("visits")))
    facts = _facts(doc, visits, tis_marks, titer_marks)
    treatments = tuple(
        TreatmentView(drug=drug_label(t.get("drug")), role=role_label(t.get("role")),
                      start=clean(t.get("start")),
                      stop="ongoing" if t.get("stop") is None else clean(t.get("stop")))
        for t in map(as_map, as_list(doc.get("treatment_periods"))))
    titers = tuple(
        TiterView(date=clean(t.get("date")), target=clean(t.get("target")),
                  result=humanise(t.get("result")),
                  titer=EMPTY if t.get("titer") is None else " ".join(
                      [fmt_recorded(t.get("titer")), *([clean(t.get("unit"))] if t.get("unit") else [])]),
                  cutoff=fmt_recorded(t.get("cutoff")),
                  below_cutoff=fmt_recorded(t.get("below_cutoff")))
        for t in map(as_map, as_list(doc.get("titers"))))
    num.sweep_notes(doc)
    note_views = tuple(NoteView(number=e.number, kind=e.kind, text=e.text, setting=e.setting,
                                refs=num.cite(list(e.citation_keys)), places=tuple(e.places))
                       for e in num.notes)
    num.sweep_citations(doc)
    references = tuple(
        ReferenceView(number=n, key=key, known=key in citations,
                      text=clean(citations.get(key, "reference text not found in the knowledge pack")))
        for n, key in num.keys)
    digest = hashlib.sha256(f"timeline\x00{doc.get('patient_id')}\x00{doc.get('as_of')}".encode())
    return TimelineReport(
        anchor=f"t{digest.hexdigest()[:10]}", patient_id=clean(doc.get("patient_id")),
        as_of=clean(doc.get("as_of")),
        population={"adult": "adult", "juvenile": "juvenile"}.get(clean(population), "adult and juvenile"),
        facts=facts, tis_marks=tis_marks, doi_marks=doi_marks, titer_marks=titer_marks,
        visits=visits, treatments=treatments, titers=titers, notes=note_views,
        references=references)


# -- plain text -------------------------------------------------------------------------------------

def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _range(t: TisView) -> str:
    """The score range of an incomplete TIS (a complete one is its score)."""
    return t.range if t.item.status == "incomplete" else EMPTY


def _tis_summary(t: TisView) -> str:
    if t.item.status == "not_evaluable":
        return _join("NOT EVALUABLE", "— " + "; ".join(t.item.reasons) if t.item.reasons else "")
    category = t.category if t.category != EMPTY else "not determined (the range spans a threshold)"
    score = t.score if t.item.status == "complete" else f"{t.score} (range {t.range})"
    return f"{score}, {t.item.label.upper()}; category {category.upper()} ({t.population} thresholds)"


def _text_visits(w: TextWriter, r: TimelineReport) -> None:
    w.heading("1. CORE SET MEASURES AT EACH VISIT", "=")
    w.blank()
    if not r.visits:
        w.para("No assessment recorded on or before the as-of date.", "  ")
        return
    w.table(["Date", "Role", "PhGA", "PtGA", "EMA", "MMT-8", "HAQ", "CDASI", "Enzyme followed by TIS"],
            [[v.date, v.role, v.physician_global, v.patient_global, v.extramuscular_global, v.mmt8,
              v.haq, v.cdasi, v.enzyme] for v in r.visits])
    w.para("PhGA, PtGA: physician and patient global activity; EMA: extramuscular activity (VAS "
           "0–10 cm); MMT-8: total/maximum; HAQ: HAQ-DI (0–3); CDASI: CDASI activity; enzyme: the "
           "one with the highest baseline multiple of its ULN.", "  ", "")


def _text_response(w: TextWriter, r: TimelineReport) -> None:
    w.heading("2. RESPONSE AGAINST THE BASELINE", "=")
    w.para(_join(f"TIS: 2016 ACR/EULAR criteria, {r.population} thresholds", r.tis_marks.as_text())
           + "; " + _join("IMACS definition of improvement", r.doi_marks.as_text()))
    if r.visits:
        w.blank()
        w.table(["Date", "TIS", "Range", "Status", f"Category ({r.population})", "IMACS DOI",
                 "Active treatments"],
                [[v.date, v.tis.score, _range(v.tis), v.tis.item.label, v.tis.category,
                  v.doi.item.label if v.doi else EMPTY, v.treatments] if v.tis else
                 [v.date, EMPTY, EMPTY, f"({v.role})", EMPTY, EMPTY, v.treatments]
                 for v in r.visits])
    for v in r.scored:
        assert v.tis is not None
        w.heading(f"Follow-up {v.date}", "-")
        w.field("TIS", _tis_summary(v.tis))
        if v.doi is not None:
            w.field("IMACS DOI", _join(v.doi.item.label.upper(), f"— {v.doi.improved} improved, "
                                       f"{v.doi.worsened} worsened")
                    + (f"; missing: {', '.join(v.doi.missing)}" if v.doi.missing else "")
                    + "".join(f"; {reason}" for reason in v.doi.item.reasons))
        w.field("Active treatments", v.treatments)
        headers = ["Measure", "Baseline", "Follow-up", "% change", "Points", "Worsened"]
        rows = [[m.label, m.baseline, m.followup, m.change, m.points,
                 EMPTY if m.worsened is None else ("YES" if m.worsened else "no")] for m in v.tis.measures]
        if v.tis.has_remarks:
            headers.append("Remark")
            rows = [[*row, m.remark] for row, m in zip(rows, v.tis.measures, strict=True)]
        if rows:
            w.table(headers, rows, "    ")
    if not r.scored:
        w.para("No visit after the baseline: no TIS to show.", "  ")


def _text_tail(w: TextWriter, r: TimelineReport) -> None:
    w.heading("3. TREATMENT PERIODS", "=")
    if r.treatments:
        w.table(["Drug", "Role", "Start", "Stop"], [[t.drug, t.role, t.start, t.stop] for t in r.treatments])
    else:
        w.para("No treatment recorded on or before the as-of date.", "  ")
    w.heading(_join("4. ANTI-MI-2 TITERS", r.titer_marks.as_text()), "=")
    if r.titers:
        w.table(["Date", "Target", "Result", "Titer", "Cut-off", "Below cut-off"],
                [[t.date, t.target, t.result, t.titer, t.cutoff, t.below_cutoff] for t in r.titers])
    else:
        w.para("No anti-Mi-2 result recorded.", "  ")
    w.heading("5. INTERPRETATIONS AND NOTES", "=")
    for n in r.notes:
        w.para(_join(f"N{n.number}  {n.kind}: {n.text}", n.marks.as_text()), "", "    ")
    if not r.notes:
        w.para("No interpretation or note was passed with this timeline.")
    w.heading("6. REFERENCES", "=")
    for ref in r.references:
        w.para(f"[{ref.number}] {ref.text} ({ref.key})", "", "     ")
    w.blank()
    w.para("Decision support only: check every result against the patient and the cited sources.")


def render_timeline_text(doc: Mapping[str, Any], citations: Mapping[str, str],
                         notes: Notes = ()) -> str:
    """The plain-text timeline report of one ``myositis-cds/timeline@1`` dict."""
    r = build_timeline_report(doc, citations, notes)
    w = TextWriter()
    title = f"myositis-cds timeline — {r.patient_id}"
    w.lines += [title, "=" * len(title)]
    for label, value, marks in r.facts:
        w.field(label, _join(value, marks.as_text()), "", 21)
    _text_visits(w, r)
    _text_response(w, r)
    _text_tail(w, r)
    return "\n".join(w.lines) + "\n"


# -- CSV ---------------------------------------------------------------------------------------------

def _cell(value: object) -> str:
    """A JSON value as a CSV cell: exact numbers, ``true``/``false``, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = clean(value)
    # A text cell starting like a formula is quoted so that a spreadsheet does not run it.
    return f"'{text}" if text.startswith(_SPREADSHEET_FORMULA) else text


def _csv_row(v: Mapping[str, Any]) -> list[object]:
    tis, doi = as_map(v.get("tis")), as_map(v.get("imacs_doi"))
    low, high = [*as_list(tis.get("range")), None, None][:2]
    by_measure = {m.get("measure"): m for m in map(as_map, as_list(tis.get("measures")))}
    per_measure = [as_map(by_measure.get(name)).get(part) for name in MEASURES
                   for part in ("percent_change", "points", "worsened")]
    return [v.get("date"), v.get("is_baseline"), v.get("physician_global"), v.get("patient_global"),
            v.get("extramuscular_global"), v.get("mmt8"), v.get("mmt8_max"), v.get("haq"),
            v.get("cdasi_activity"), v.get("enzyme"), v.get("enzyme_value"), tis.get("status"),
            tis.get("score"), low, high, tis.get("category"), tis.get("population"), *per_measure,
            doi.get("status"), ";".join(clean(d) for d in as_list(v.get("active_treatments")))]


def render_timeline_csv(doc: Mapping[str, Any], *, patient_id_column: bool = False,
                        header: bool = True) -> str:
    """One CSV row per visit (columns :data:`CSV_COLUMNS`, ``patient_id`` first if asked)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    lead = ["patient_id"] if patient_id_column else []
    if header:
        writer.writerow([*lead, *CSV_COLUMNS])
    for visit in map(as_map, as_list(doc.get("visits"))):
        row = ([doc.get("patient_id")] if patient_id_column else []) + _csv_row(visit)
        writer.writerow([_cell(c) for c in row])
    return buffer.getvalue()


# -- HTML --------------------------------------------------------------------------------------------

def render_timeline_html_fragment(doc: Mapping[str, Any], citations: Mapping[str, str],
                                  notes: Notes = ()) -> str:
    """The HTML fragment (one ``<article>``, headings from ``<h2>``, autoescaped) of one timeline."""
    report = build_timeline_report(doc, citations, notes)
    return jinja_environment().get_template("timeline.html.j2").render(r=report)


def render_timeline_html_document(docs: Sequence[Mapping[str, Any]], citations: Mapping[str, str],
                                  *, title: str, notes: Notes = (),
                                  fragments: Sequence[str] = ()) -> str:
    """A complete HTML5 page (inline CSS of the assessment report) holding each timeline.

    ``fragments`` are already rendered timeline fragments appended after ``docs`` (a streamed batch).
    """
    sections = [render_timeline_html_fragment(d, citations, notes) for d in docs]
    return render_html_document([], citations, title=title, extra_sections=[*sections, *fragments])
