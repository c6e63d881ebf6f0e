"""Timeline report: one patient's visits, the TIS of each against the baseline, and the treatments.

The renderers read a typed :class:`~myositis_cds.engine.Timeline` (handed over by the use case that
built it) and the pack's citations (key → reference), like the assessment renderers, whose helpers
they share: :class:`Numbering` numbers citations and notes in reading order,
:mod:`labels` formats numbers for reading, and each visit's TIS and IMACS DOI are laid out by the
assessment report's own builder, so both reports show a TIS the same way. The CSV keeps the exact
values of the JSON (no display rounding).

The timeline's ``notes`` (the [INTERP] settings of the percent change and of the lab window) are
numbered and listed like the assessment's.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from myositis_cds.engine.timeline import TIMELINE_FORMAT, Timeline, TimelineVisit
from myositis_cds.presentation.assessment_builder import ResultViews
from myositis_cds.presentation.assessment_view import DoiView, NoteView, ReferenceView, TisView
from myositis_cds.presentation.html import jinja_environment, render_html_document
from myositis_cds.presentation.labels import (
    EMPTY,
    clean,
    drug_label,
    fmt_date,
    fmt_recorded,
    humanise,
    role_label,
)
from myositis_cds.presentation.numbering import Marks
from myositis_cds.presentation.text import TextWriter
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

CSV_COLUMNS: Final = (
    "date", "baseline", "physician_global", "patient_global", "extramuscular_global", "mmt8",
    "mmt8_max", "haq", "cdasi_activity", "enzyme", "enzyme_value", "tis_status", "tis_score",
    "tis_range_low", "tis_range_high", "tis_category", "tis_population",
    *(f"{m}_{part}" for m in MEASURES for part in ("percent_change", "points", "worsened")),
    "imacs_doi_status", "active_treatments",
)
"""Header of the CSV (one row per visit); a batch puts ``patient_id`` first."""

# Which of the timeline's citations support which part (only keys the dict lists are shown).
_TIS_KEYS: Final[dict[str | None, tuple[str, ...]]] = {
    "adult": ("ACR-EULAR-2016",), "juvenile": ("ACR-EULAR-2016-JDM",),
    None: ("ACR-EULAR-2016", "ACR-EULAR-2016-JDM")}
_DOI_KEYS: Final = ("IMACS-DOI-2004",)
_TITER_KEYS: Final = ("PF2019",)
_POPULATION: Final[dict[str | None, str]] = {
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


def _visit(v: TimelineVisit, baseline_date: dt.date | None, builder: ResultViews) -> VisitView:
    tis, doi = None, None
    if v.tis is not None:  # the assessment report's builder shows a visit's TIS and DOI the same way
        tis = builder.tis_view(v.tis, outcome=None, enzyme=v.enzyme, baseline=baseline_date,
                               followup=v.date, place="TIS against baseline")
        doi = None if v.imacs_doi is None else builder.doi_view(v.imacs_doi)
    if v.is_baseline:
        role = "baseline"
    elif tis is not None:
        role = "follow-up"
    else:
        role = "before baseline" if baseline_date is not None and v.date < baseline_date else EMPTY
    enzyme = EMPTY if v.enzyme is None else f"{clean(v.enzyme)} {fmt_recorded(v.enzyme_value)}"
    mmt = EMPTY if v.mmt8 is None else f"{fmt_recorded(v.mmt8)}/{fmt_recorded(v.mmt8_max)}"
    drugs = [drug_label(d) for d in v.active_treatments]
    return VisitView(
        date=fmt_date(v.date), role=role, physician_global=fmt_recorded(v.physician_global),
        patient_global=fmt_recorded(v.patient_global),
        extramuscular_global=fmt_recorded(v.extramuscular_global), mmt8=mmt,
        haq=fmt_recorded(v.haq), cdasi=fmt_recorded(v.cdasi_activity), enzyme=enzyme,
        treatments="; ".join(drugs) or "none", tis=tis, doi=doi)


def _keys(timeline: Timeline, wanted: Sequence[str]) -> list[str]:
    return [k for k in wanted if k in timeline.citations]


def _facts(tl: Timeline, visits: Sequence[VisitView], tis_marks: Marks,
           titer_marks: Marks) -> tuple[tuple[str, str, Marks], ...]:
    baseline, start = tl.baseline_date, tl.first_line_start
    if baseline is None:
        chosen = "none: no assessment recorded"
    elif start is None:
        chosen = f"{fmt_date(baseline)} (first visit: no first-line treatment recorded)"
    elif baseline <= start:
        chosen = (f"{fmt_date(baseline)} (the visit on or closest before first-line treatment, "
                  f"started {fmt_date(start)})")
    else:
        chosen = (f"{fmt_date(baseline)} (first visit: none on or before first-line treatment, "
                  f"started {fmt_date(start)})")
    roles = [v.role for v in visits]
    counts = ", ".join(f"{roles.count(r)} {r}" for r in ("baseline", "follow-up", "before baseline"))
    normalised = tl.titer_normalised_on
    titer = (f"{fmt_date(normalised)} (first result below the assay cut-off after a positive one)"
             if normalised is not None else
             "not normalised" if tl.titers else "no anti-Mi-2 result recorded")
    treated = any(t.role != "other" for t in tl.treatment_periods)
    free = (fmt_date(tl.drug_free_since) if tl.drug_free_since is not None else
            "no: an immunosuppressant is active" if treated else "no immunosuppressant recorded")
    return (("Patient", clean(tl.patient_id), Marks()),
            ("As of", fmt_date(tl.as_of), Marks()),
            ("Knowledge pack", f"version {clean(tl.knowledge_version)} ({TIMELINE_FORMAT})", Marks()),
            ("Population", _POPULATION.get(tl.population, humanise(tl.population)), tis_marks),
            ("Baseline visit", chosen, Marks()),
            ("Visits", f"{len(visits)} ({counts})", Marks()),
            ("Anti-Mi-2 normalised", titer, titer_marks),
            ("Drug-free since", free, Marks()))


def build_timeline_report(tl: Timeline, citations: Mapping[str, str], *,
                          views: ResultViews | None = None) -> TimelineReport:
    """The display-ready report of one typed timeline; with ``views`` (shared with the assessment
    on a patient page) its citations and notes join that page's one numbering."""
    builder = views if views is not None else ResultViews(citations)
    num = builder.num
    tis_marks = Marks(refs=num.cite(_keys(tl, _TIS_KEYS.get(tl.population, _TIS_KEYS[None]))),
                      notes=num.note_numbers(tl.notes, "TIS against baseline"))
    doi_marks = Marks(refs=num.cite(_keys(tl, _DOI_KEYS)))
    titer_marks = Marks(refs=num.cite(_keys(tl, _TITER_KEYS)))
    visits = tuple(_visit(v, tl.baseline_date, builder) for v in tl.visits)
    facts = _facts(tl, visits, tis_marks, titer_marks)
    treatments = tuple(
        TreatmentView(drug=drug_label(t.drug), role=role_label(t.role), start=fmt_date(t.start),
                      stop="ongoing" if t.stop is None else fmt_date(t.stop))
        for t in tl.treatment_periods)
    titers = tuple(
        TiterView(date=fmt_date(t.date), target=clean(t.target), result=humanise(t.result),
                  titer=EMPTY if t.titer is None else " ".join(
                      [fmt_recorded(t.titer), *([clean(t.unit)] if t.unit else [])]),
                  cutoff=fmt_recorded(t.cutoff), below_cutoff=fmt_recorded(t.below_cutoff))
        for t in tl.titers)
    num.sweep_notes(tl, "timeline")
    note_views = builder.note_views()
    num.sweep_citations(tl)
    digest = hashlib.sha256(f"timeline\x00{tl.patient_id}\x00{tl.as_of.isoformat()}".encode())
    return TimelineReport(
        anchor=f"t{digest.hexdigest()[:10]}", patient_id=clean(tl.patient_id),
        as_of=fmt_date(tl.as_of),
        population={"adult": "adult", "juvenile": "juvenile"}.get(str(tl.population),
                                                                  "adult and juvenile"),
        facts=facts, tis_marks=tis_marks, doi_marks=doi_marks, titer_marks=titer_marks,
        visits=visits, treatments=treatments, titers=titers, notes=note_views,
        references=builder.references())


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


def render_timeline_text(timeline: Timeline, citations: Mapping[str, str]) -> str:
    """The plain-text timeline report of one typed timeline."""
    r = build_timeline_report(timeline, citations)
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


def _csv_row(v: TimelineVisit) -> list[object]:
    tis, doi = v.tis, v.imacs_doi
    low, high = tis.range if tis is not None and tis.range is not None else (None, None)
    by_measure = {m.measure: m for m in tis.measures} if tis is not None else {}
    per_measure = [getattr(by_measure.get(name), part, None) for name in MEASURES
                   for part in ("percent_change", "points", "worsened")]
    return [fmt_date(v.date), v.is_baseline, v.physician_global, v.patient_global,
            v.extramuscular_global, v.mmt8, v.mmt8_max, v.haq, v.cdasi_activity, v.enzyme,
            v.enzyme_value, None if tis is None else tis.status, None if tis is None else tis.score,
            low, high, None if tis is None else tis.category, None if tis is None else tis.population,
            *per_measure, None if doi is None else doi.status,
            ";".join(clean(d) for d in v.active_treatments)]


def render_timeline_csv(timeline: Timeline | None, *, patient_id_column: bool = False,
                        header: bool = True) -> str:
    """One CSV row per visit (columns :data:`CSV_COLUMNS`, ``patient_id`` first if asked);
    ``timeline`` None: the header alone."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    lead = ["patient_id"] if patient_id_column else []
    if header:
        writer.writerow([*lead, *CSV_COLUMNS])
    if timeline is not None:
        lead_cells: list[object] = [timeline.patient_id] if patient_id_column else []
        for visit in timeline.visits:
            writer.writerow([_cell(c) for c in [*lead_cells, *_csv_row(visit)]])
    return buffer.getvalue()


# -- HTML --------------------------------------------------------------------------------------------

def render_timeline_html_fragment(timeline: Timeline, citations: Mapping[str, str]) -> str:
    """The HTML fragment (one ``<article>``, headings from ``<h2>``, autoescaped) of one timeline."""
    report = build_timeline_report(timeline, citations)
    return jinja_environment().get_template("timeline.html.j2").render(r=report)


def render_timeline_html_document(timelines: Sequence[Timeline], citations: Mapping[str, str],
                                  *, title: str, fragments: Sequence[str] = ()) -> str:
    """A complete HTML5 page (inline CSS of the assessment report) holding each timeline.

    ``fragments`` are already rendered timeline fragments appended after ``timelines`` (a
    streamed batch).
    """
    sections = [render_timeline_html_fragment(t, citations) for t in timelines]
    return render_html_document([], citations, title=title, extra_sections=[*sections, *fragments])
