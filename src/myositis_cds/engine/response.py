"""RESPONSE-*: TIS against baseline, IMACS DOI and inadequate response (clinical-reference §6).

Baseline = the visit on or closest before the start of the current course (§12.2), or the first
visit if there is none; follow-up = the latest visit on or before the assessment date. The enzyme measure
follows the enzyme with the highest baseline multiple of its ULN, using the lab closest to each
visit within ``lab_visit_window_days`` (§10).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from myositis_cds.domain.dates import add_months
from myositis_cds.domain.record import Visit
from myositis_cds.domain.vocabulary import ENZYMES
from myositis_cds.engine.context import PatientContext, ref_lab, ref_visit
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import InputRef, Note, ResponseJudgement, TisOutcome
from myositis_cds.knowledge.pack import RuleMeta
from myositis_cds.scores.imacs_doi import DoiResult, definition_of_improvement
from myositis_cds.scores.tis import MeasureInput, Population, TisResult, total_improvement_score

__all__ = ["ComparedVisits", "compare_visits", "population_of", "select_baseline"]

JudgementStatus = Literal["inadequate", "adequate", "not_yet_due", "no_first_line_treatment",
                          "not_evaluable"]
_VAS_FIELDS = (
    ("physician_global", "physician_global"),
    ("patient_global", "patient_global"),
    ("haq", "haq"),
    ("extramuscular", "extramuscular_global"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparedVisits:
    measures: tuple[MeasureInput, ...]
    enzyme: str | None
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...]


def population_of(ctx: PatientContext, params: EngineParams) -> Population | None:
    juvenile = ctx.juvenile_onset(params.number("juvenile_onset_age"))
    if juvenile is None:
        return None
    return "juvenile" if juvenile else "adult"


def select_baseline(ctx: PatientContext, start: dt.date | None) -> Visit | None:
    """The visit on or closest before ``start`` (the current course's), else the first visit."""
    if not ctx.visits:
        return None
    if start is not None:
        before = [v for v in ctx.visits if v.date <= start]
        if before:
            return before[-1]
    return ctx.visits[0]


def _enzyme_measure(ctx: PatientContext, params: EngineParams, baseline: Visit,
                    followup: Visit) -> tuple[MeasureInput, str | None, list[InputRef], list[Note]]:
    window = params.setting_int("lab_visit_window_days")
    notes = [params.interp_note(
        "lab_visit_window_days",
        f"a lab counts for a visit if taken within {window} days of it (closest result)")]
    candidates = []
    no_uln = []
    for test in ENZYMES:
        lab = ctx.lab_near(test, baseline.date, window)
        if lab is None:
            continue
        multiple = lab.multiple_of_uln
        if multiple is None:
            no_uln.append(test)
        else:
            candidates.append((multiple, lab))
    if no_uln:
        notes.append(Note(kind="caveat", text="baseline enzyme(s) without ULN could not be ranked: "
                          + ", ".join(no_uln)))
    if not candidates:
        missing = f"no muscle enzyme with ULN within {window} days of the baseline visit"
        return (MeasureInput(measure="enzyme", baseline=None, followup=None, missing_reason=missing),
                None, [], notes)
    candidates.sort(key=lambda c: -c[0])  # stable: ties keep the §1 order CK, aldolase, AST...
    base_lab = candidates[0][1]
    follow_lab = ctx.lab_near(base_lab.test, followup.date, window)
    inputs = [ref_lab(base_lab)] + ([ref_lab(follow_lab)] if follow_lab else [])
    reason = None if follow_lab else (
        f"no {base_lab.test} within {window} days of the follow-up visit")
    return (
        MeasureInput(measure="enzyme", baseline=base_lab.value,
                     followup=follow_lab.value if follow_lab else None, scale=base_lab.uln,
                     missing_reason=reason),
        base_lab.test, inputs, notes,
    )


def compare_visits(ctx: PatientContext, params: EngineParams, baseline: Visit,
                   followup: Visit) -> ComparedVisits:
    measures: list[MeasureInput] = []
    inputs: list[InputRef] = []
    for measure, field in _VAS_FIELDS:
        b, f = getattr(baseline, field), getattr(followup, field)
        measures.append(MeasureInput(measure=measure, baseline=b, followup=f))
        inputs += [ref_visit(v, field) for v in (baseline, followup) if getattr(v, field) is not None]
    notes: list[Note] = []
    if baseline.mmt8_max != followup.mmt8_max and baseline.mmt8 is not None and followup.mmt8 is not None:
        measures.append(MeasureInput(
            measure="mmt", baseline=None, followup=None,
            missing_reason=f"MMT maxima differ ({baseline.mmt8_max:g} vs {followup.mmt8_max:g})"))
    else:
        measures.append(MeasureInput(measure="mmt", baseline=baseline.mmt8, followup=followup.mmt8,
                                     scale=baseline.mmt8_max))
    inputs += [ref_visit(v, "mmt8") for v in (baseline, followup) if v.mmt8 is not None]
    enzyme, enzyme_name, enzyme_inputs, enzyme_notes = _enzyme_measure(ctx, params, baseline,
                                                                       followup)
    measures.append(enzyme)
    inputs += enzyme_inputs
    notes += enzyme_notes
    return ComparedVisits(measures=tuple(measures), enzyme=enzyme_name, inputs=tuple(inputs),
                          notes=tuple(notes))


def _tis_citations(population: Population | None) -> tuple[str, ...]:
    if population == "adult":
        return ("ACR-EULAR-2016",)
    if population == "juvenile":
        return ("ACR-EULAR-2016-JDM",)
    return ("ACR-EULAR-2016", "ACR-EULAR-2016-JDM")


def _not_evaluable_tis(population: Population | None, reason: str) -> TisResult:
    return TisResult(status="not_evaluable", score=None, range=None, category=None,
                     population=population, measures=(), reason=reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Comparison:
    outcome: TisOutcome
    compared: ComparedVisits | None


def _tis(run: RuleRun, meta: RuleMeta, followup: Visit | None) -> _Comparison:
    ctx, params = run.ctx, run.params
    population = population_of(ctx, params)
    baseline = select_baseline(ctx, run.therapy.course_start)
    method = params.setting_text("tis_percent_change")
    method_note = params.interp_note(
        "tis_percent_change", f"percent change computed as '{method}' (not yet verified against "
        "the official calculator)")
    notes: list[Note] = [method_note]
    if population is None:
        notes.append(Note(kind="caveat", text="adult or juvenile onset unknown (birth date or "
                          "onset/diagnosis date missing): a category is given only if adult and "
                          "juvenile thresholds agree"))
    if baseline is None or followup is None or followup.date <= baseline.date:
        reason = ("no assessment recorded" if baseline is None
                  else "no follow-up assessment after the baseline visit")
        return _Comparison(outcome=TisOutcome(
            result=_not_evaluable_tis(population, reason),
            baseline_date=baseline.date if baseline else None, followup_date=None, enzyme=None,
            inputs=(), notes=tuple(notes), rule_id=meta.id, knowledge_version=params.version,
            citations=_tis_citations(population)), compared=None)
    compared = compare_visits(ctx, params, baseline, followup)
    result = total_improvement_score(compared.measures, tables=params.tis_tables,
                                     population=population, method=method)
    return _Comparison(outcome=TisOutcome(
        result=result, baseline_date=baseline.date, followup_date=followup.date,
        enzyme=compared.enzyme, inputs=compared.inputs, notes=tuple(notes) + compared.notes,
        rule_id=meta.id, knowledge_version=params.version, citations=_tis_citations(population)),
        compared=compared)


@rule("RESPONSE-TIS")
def response_tis(run: RuleRun, meta: RuleMeta) -> TisOutcome:
    comparison = _tis(run, meta, run.ctx.visits[-1] if run.ctx.visits else None)
    run.results["_compared"] = comparison.compared
    return comparison.outcome


@rule("RESPONSE-IMACS-DOI")
def response_doi(run: RuleRun, meta: RuleMeta) -> DoiResult:
    compared = run.results.get("_compared")
    if not isinstance(compared, ComparedVisits):
        return DoiResult(status="not_evaluable", improved_count=0, worsened_count=0,
                         missing=(), measures=(), reason="no baseline and follow-up assessment pair")
    return definition_of_improvement(compared.measures, thresholds=run.params.doi_thresholds)


def _judge(result: TisResult, thresholds: list[float]) -> JudgementStatus:
    """``inadequate``, ``adequate`` or ``not_evaluable`` for a TIS against minimal threshold(s)."""
    if result.range is None:
        return "not_evaluable"
    low, high = result.range
    if all(high < t for t in thresholds):
        return "inadequate"
    if all(low >= t for t in thresholds):
        return "adequate"
    return "not_evaluable"


@rule("RESPONSE-INADEQUATE")
def inadequate_response(run: RuleRun, meta: RuleMeta) -> ResponseJudgement:
    ctx, params = run.ctx, run.params
    months = params.setting_int("inadequate_response_months")
    note = params.interp_note(
        "inadequate_response_months",
        f"inadequate response = TIS below the minimal threshold on the latest assessment at least "
        f"{months} calendar months after the current course started")
    start = run.therapy.course_start

    def judgement(status: JudgementStatus, reason: str, *, inputs: tuple[InputRef, ...] = (),
                  judged_on: dt.date | None = None) -> ResponseJudgement:
        return ResponseJudgement(status=status, reason=reason, first_line_start=start,
                                 judged_on=judged_on, rule_id=meta.id,
                                 knowledge_version=params.version, citations=meta.citations,
                                 inputs=inputs, notes=(note,))

    if start is None:
        return judgement("no_first_line_treatment",
                         "no immunosuppressive course has started")
    treatment_inputs = tuple(
        InputRef(source=f"$.treatments[{t.index}]", name=t.drug, value=t.start.isoformat(),
                 date=t.start)
        for t in run.therapy.entries_in_course() if t.start <= start
    )
    due = add_months(start, months)
    if ctx.as_of < due:
        return judgement("not_yet_due",
                         f"current course started {start}; response is judged from {due}",
                         inputs=treatment_inputs)
    judged = [v for v in ctx.visits if v.date >= due]
    if not judged:
        return judgement("not_evaluable",
                         f"no assessment on or after {due} ({months} months after the course start)",
                         inputs=treatment_inputs)
    # The latest assessment dated on or after `due` is the latest assessment of all, which
    # RESPONSE-TIS has already scored against the same baseline.
    outcome = run.output("RESPONSE-TIS")
    assert isinstance(outcome, TisOutcome)
    result = outcome.result
    population = result.population
    minimal = ([params.tis_tables.thresholds(population)[0]] if population else
               [params.tis_tables.adult_thresholds[0], params.tis_tables.juvenile_thresholds[0]])
    verdict = _judge(result, minimal)
    shown = "/".join(f"{t:g}" for t in minimal)
    if result.range is None:
        reason = f"TIS on {judged[-1].date} not evaluable: {result.reason}"
    elif result.status == "complete":
        reason = f"TIS {result.score:g} on {judged[-1].date} vs minimal threshold {shown}"
    else:
        low, high = result.range
        reason = f"incomplete TIS range {low:g}–{high:g} on {judged[-1].date} vs minimal {shown}"
    return judgement(verdict, reason, inputs=treatment_inputs + outcome.inputs,
                     judged_on=judged[-1].date)
