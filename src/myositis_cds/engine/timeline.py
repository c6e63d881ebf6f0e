"""The longitudinal view of one patient (clinical-reference §6, §10): visits, TIS over time, trends.

:func:`build_timeline` scores every visit after the baseline against it (the same baseline, enzyme
and lab window as the assessment's TIS), adds the IMACS DOI, the treatments active at each visit,
and the series that the trend plots draw: CK as a multiple of its ULN, MMT-8, anti-Mi-2 titers with
their assay cut-off, treatment periods, the date the titer normalised and the start of drug-free
remission. Pure, like the rest of the engine: nothing dated after ``as_of`` is used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from myositis_cds.domain.record import PatientRecord, Visit
from myositis_cds.domain.values import value_object
from myositis_cds.domain.vocabulary import (
    GLUCOCORTICOIDS,
    SECOND_LINE_AGENTS,
    STEROID_SPARING_AGENTS,
)
from myositis_cds.engine.context import PatientContext
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.response import compare_visits, population_of, select_baseline
from myositis_cds.engine.results import Note, plain
from myositis_cds.engine.therapy import TherapyIndex
from myositis_cds.scores.imacs_doi import DoiResult, definition_of_improvement
from myositis_cds.scores.tis import Population, TisResult, total_improvement_score

__all__ = [
    "CkPoint",
    "Timeline",
    "TimelineVisit",
    "TiterPoint",
    "TreatmentPeriod",
    "build_timeline",
    "drug_role",
    "timeline_to_dict",
]

Role = Literal["glucocorticoid", "steroid_sparing", "second_line", "other"]
TIMELINE_FORMAT = "myositis-cds/timeline@1"


def drug_role(drug: str) -> Role:
    if drug in GLUCOCORTICOIDS:
        return "glucocorticoid"
    if drug in STEROID_SPARING_AGENTS:
        return "steroid_sparing"
    if drug in SECOND_LINE_AGENTS:
        return "second_line"
    return "other"


@value_object
class TreatmentPeriod:
    drug: str
    role: Role
    start: dt.date
    stop: dt.date | None
    """``None``: ongoing on the as-of date (a stop dated later was not known then)."""
    source: str


@value_object
class TimelineVisit:
    date: dt.date
    source: str
    is_baseline: bool
    physician_global: float | None
    patient_global: float | None
    extramuscular_global: float | None
    mmt8: float | None
    mmt8_max: float
    haq: float | None
    cdasi_activity: float | None
    enzyme: str | None
    """The enzyme the TIS follows (highest baseline multiple of ULN)."""
    enzyme_value: float | None
    tis: TisResult | None
    """``None`` for the baseline visit and visits before it."""
    imacs_doi: DoiResult | None
    active_treatments: tuple[str, ...]


@value_object
class CkPoint:
    date: dt.date
    value: float
    uln: float
    multiple_of_uln: float
    source: str


@value_object
class TiterPoint:
    date: dt.date
    target: str
    result: str
    titer: float | None
    unit: str | None
    cutoff: float | None
    below_cutoff: bool | None
    source: str


@value_object
class Timeline:
    patient_id: str
    as_of: dt.date
    knowledge_version: str
    population: Population | None
    baseline_date: dt.date | None
    first_line_start: dt.date | None
    """Start of the current course (§12.2), the anchor of the TIS baseline."""
    visits: tuple[TimelineVisit, ...]
    treatment_periods: tuple[TreatmentPeriod, ...]
    ck: tuple[CkPoint, ...]
    titers: tuple[TiterPoint, ...]
    titer_normalised_on: dt.date | None
    """Since when the anti-Mi-2 titer is normalised (§6.3 as corrected in §12.5)."""
    drug_free_since: dt.date | None
    """Day after the last immunosuppressant stopped, when treatments are recorded and none is active."""
    diagnosis_date: dt.date | None
    ck_without_uln: tuple[str, ...]
    """JSON paths of CK results left out of the ×ULN series because they have no ULN."""
    citations: tuple[str, ...]
    notes: tuple[Note, ...]
    """The [INTERP] settings every visit's TIS depends on."""
    settings: Mapping[str, object]


def _titer_points(ctx: PatientContext) -> tuple[TiterPoint, ...]:
    return tuple(
        TiterPoint(
            date=a.date, target=a.target, result=a.result, titer=a.titer, unit=a.unit,
            cutoff=a.cutoff,
            below_cutoff=None if a.titer is None or a.cutoff is None else a.titer < a.cutoff,
            source=f"$.antibodies[{a.index}]")
        for a in ctx.mi2_results
    )


def _drug_free_since(therapy: TherapyIndex) -> dt.date | None:
    """The day after the last immunosuppressive agent was active (effect windows included)."""
    if not therapy.immunosuppressants or therapy.active_agents or therapy.last_active_day is None:
        return None
    return therapy.last_active_day + dt.timedelta(days=1)


def _visit_row(ctx: PatientContext, params: EngineParams, visit: Visit, *, baseline: Visit | None,
               population: Population | None, method: str) -> TimelineVisit:
    tis: TisResult | None = None
    doi: DoiResult | None = None
    enzyme: str | None = None
    enzyme_value: float | None = None
    if baseline is not None and visit.date > baseline.date:
        compared = compare_visits(ctx, params, baseline, visit)
        tis = total_improvement_score(compared.measures, tables=params.tis_tables,
                                      population=population, method=method)
        doi = definition_of_improvement(compared.measures, thresholds=params.doi_thresholds)
        enzyme = compared.enzyme
        enzyme_value = next((m.followup for m in compared.measures if m.measure == "enzyme"), None)
    elif baseline is not None and visit is baseline:
        compared = compare_visits(ctx, params, baseline, baseline)
        enzyme = compared.enzyme
        enzyme_value = next((m.baseline for m in compared.measures if m.measure == "enzyme"), None)
    return TimelineVisit(
        date=visit.date, source=f"$.assessments[{visit.index}]", is_baseline=visit is baseline,
        physician_global=visit.physician_global, patient_global=visit.patient_global,
        extramuscular_global=visit.extramuscular_global, mmt8=visit.mmt8,
        mmt8_max=visit.mmt8_max, haq=visit.haq, cdasi_activity=visit.cdasi_activity,
        enzyme=enzyme, enzyme_value=enzyme_value, tis=tis, imacs_doi=doi,
        active_treatments=tuple(sorted({t.drug for t in ctx.treatments if t.active_on(visit.date)})),
    )


def build_timeline(record: PatientRecord, as_of: dt.date, params: EngineParams) -> Timeline:
    """Every visit on or before ``as_of`` with its TIS and DOI against the baseline, and the trends."""
    ctx = PatientContext(record, as_of)
    therapy = TherapyIndex(ctx, params)
    population = population_of(ctx, params)
    baseline = select_baseline(ctx, therapy.course_start)
    method = params.setting_text("tis_percent_change")
    window = params.setting_int("lab_visit_window_days")
    titers = _titer_points(ctx)
    return Timeline(
        patient_id=record.id,
        as_of=as_of,
        knowledge_version=params.version,
        population=population,
        baseline_date=baseline.date if baseline else None,
        first_line_start=therapy.course_start,
        visits=tuple(_visit_row(ctx, params, v, baseline=baseline, population=population, method=method)
                     for v in ctx.visits),
        treatment_periods=tuple(
            TreatmentPeriod(drug=t.drug, role=drug_role(t.drug), start=t.start, stop=t.stop,
                            source=f"$.treatments[{t.index}]")
            for t in ctx.treatments),
        ck=tuple(
            CkPoint(date=lab.date, value=lab.value, uln=lab.uln, multiple_of_uln=lab.value / lab.uln,
                    source=f"$.labs[{lab.index}]")
            for lab in ctx.labs_of("CK") if lab.uln is not None),
        titers=titers,
        titer_normalised_on=ctx.mi2_normalised_since,
        drug_free_since=_drug_free_since(therapy),
        diagnosis_date=ctx.diagnosis_date,
        ck_without_uln=tuple(f"$.labs[{lab.index}]" for lab in ctx.labs_of("CK") if lab.uln is None),
        citations=("ACR-EULAR-2016", "ACR-EULAR-2016-JDM", "IMACS-DOI-2004", "PF2019"),
        notes=(
            params.interp_note("tis_percent_change", f"percent change computed as '{method}' "
                               "(not yet verified against the official calculator)"),
            params.interp_note("lab_visit_window_days", "a lab counts for a visit if taken within "
                               f"{window} days of it (closest result)"),
        ),
        settings=dict(params.settings.values),
    )


def timeline_to_dict(timeline: Timeline) -> dict[str, Any]:
    """The ``myositis-cds/timeline@1`` JSON object of a timeline."""
    document: dict[str, Any] = {"format": TIMELINE_FORMAT, **plain(timeline)}
    return document
