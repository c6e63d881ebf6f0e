"""THERAPY-CURRENT: what the patient takes and where they are in the course (clinical-reference §13).

The phase is the first of: ``untreated`` (no course ever started); off therapy (a course started, no
immunosuppressive agent active): ``stopped_active`` (activity active), ``drug_free_remission``
(inactive, none active for ≥ ``remission_off_therapy_months``), ``off_treatment`` (inactive,
shorter), ``not_evaluable`` (activity unknown); on therapy: ``refractory`` (§6.4 inadequate
response, or extensive weakness or dysphagia recorded present ≥ 28 days after the course start),
``induction`` (course started < 3 months ago), ``maintenance`` (≥ 3 months and the latest TIS at
least minimal), ``not_evaluable`` (any other case).
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Literal

from myositis_cds.domain.dates import add_months
from myositis_cds.domain.record import Treatment
from myositis_cds.domain.vocabulary import (
    GLUCOCORTICOIDS,
    IMMUNOSUPPRESSIVE_AGENTS,
    SECOND_LINE_AGENTS,
    STEROID_SPARING_AGENTS,
    SUPPORTIVE_DRUGS,
)
from myositis_cds.engine.activity import disease_activity
from myositis_cds.engine.context import PatientContext, ref_finding, ref_treatment
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import (
    Activity,
    CurrentTherapy,
    GlucocorticoidExposure,
    InputRef,
    Phase,
    ResponseJudgement,
    TherapyAgent,
    TisOutcome,
)
from myositis_cds.engine.therapy import TherapyIndex, exact, inactive_for_months
from myositis_cds.knowledge.pack import RuleMeta
from myositis_cds.scores.bsa import mosteller_bsa

__all__ = ["SEVERE_FEATURES", "children_dosing", "high_dose", "severe_features",
           "tis_at_least_minimal"]

SEVERE_FEATURES = ("extensive_weakness", "dysphagia")
AgentRole = Literal["glucocorticoid", "glucocorticoid_pulse", "steroid_sparing", "second_line",
                    "antimalarial", "supportive", "other"]
_PER_KG = frozenset({"prednisone", "prednisolone", "azathioprine", "cyclosporine", "ivig"})
_PER_KG_CHILDREN = _PER_KG | {"methylprednisolone_iv"}
_PER_M2 = frozenset({"cyclophosphamide"})
_PER_M2_CHILDREN = _PER_M2 | {"methotrexate"}


def children_dosing(ctx: PatientContext, params: EngineParams) -> bool:
    """Age < 18 on the assessment date (§14); an unknown age is dosed as an adult (and says so)."""
    return ctx.age is not None and ctx.age < params.number("children_dosing_age")


def high_dose(run: RuleRun) -> tuple[Fraction, str]:
    """The high glucocorticoid dose for this patient (setting ``high_dose_gc_mg_per_kg``; 30 mg/day
    when weight is missing) and how it was derived (§12.5, §13)."""
    params, weight = run.params, run.ctx.weight
    per_kg = params.settings.number("high_dose_gc_mg_per_kg")
    if weight is not None and weight.weight_kg is not None:
        mg = exact(per_kg) * exact(weight.weight_kg)
        return mg, f"{per_kg:g} mg/kg/day × {weight.weight_kg:g} kg = {float(mg):g} mg/day"
    fallback = params.settings.number("high_dose_gc_without_weight_mg")
    return exact(fallback), f"{fallback:g} mg/day (weight missing)"


def severe_features(ctx: PatientContext) -> list[str]:
    """Extensive weakness or dysphagia whose latest record is present (§13 "severe feature")."""
    return [code for code in SEVERE_FEATURES
            if (finding := ctx.finding(code)) is not None and finding.present]


def tis_at_least_minimal(outcome: TisOutcome, params: EngineParams) -> bool:
    """The whole TIS range is at or above the minimal threshold (both thresholds if the population
    is unknown); an incomplete score straddling it, or no score, is not."""
    result = outcome.result
    if result.range is None:
        return False
    tables = params.tis_tables
    population = result.population
    minimal = ([tables.thresholds(population)[0]] if population else
               [tables.adult_thresholds[0], tables.juvenile_thresholds[0]])
    return all(result.range[0] >= t for t in minimal)


def _role(t: Treatment, therapy: TherapyIndex) -> AgentRole:
    if t.drug in GLUCOCORTICOIDS:
        entry = next(e for e in therapy.gc if e.treatment is t)
        return "glucocorticoid_pulse" if entry.pulse else "glucocorticoid"
    if t.drug in STEROID_SPARING_AGENTS:
        return "steroid_sparing"
    if t.drug in SECOND_LINE_AGENTS:
        return "second_line"
    if t.drug == "hydroxychloroquine":
        return "antimalarial"
    return "supportive" if t.drug in SUPPORTIVE_DRUGS else "other"


def _dose_began(t: Treatment, ctx: PatientContext) -> dt.date:
    """The day the current dose began: earlier contiguous entries of the same drug and dose count."""
    began = t.start
    same = [o for o in ctx.treatments if o.drug == t.drug and o is not t
            and (o.dose, o.unit, o.frequency) == (t.dose, t.unit, t.frequency)]
    extended = True
    while extended:
        extended = False
        for other in same:
            last = other.last_given
            if other.start < began and last is not None and last >= began - dt.timedelta(days=1):
                began, extended = other.start, True
    return began


def _agent(t: Treatment, run: RuleRun, children: bool) -> TherapyAgent:
    ctx, therapy = run.ctx, run.therapy
    weight = ctx.weight.weight_kg if ctx.weight is not None else None
    height = ctx.height.height_cm if ctx.height is not None else None
    per_kg = per_m2 = None
    if t.dose is not None and weight is not None and t.drug in (
            _PER_KG_CHILDREN if children else _PER_KG):
        per_kg = float(exact(t.dose) / exact(weight))
    if t.dose is not None and weight is not None and height is not None and t.drug in (
            _PER_M2_CHILDREN if children else _PER_M2):
        per_m2 = t.dose / mosteller_bsa(height_cm=height, weight_kg=weight)
    equivalent = next((e.per_day for e in therapy.gc if e.treatment is t), None)
    window_only = t.drug in IMMUNOSUPPRESSIVE_AGENTS and therapy.in_effect_window_only(t, ctx.as_of)
    return TherapyAgent(
        drug=t.drug, name=t.name, role=_role(t, therapy), dose=t.dose, unit=t.unit,
        frequency=t.frequency, route=t.route, start=t.start, stop=t.stop,
        days_on_dose=(ctx.as_of - _dose_began(t, ctx)).days, dose_per_kg=per_kg,
        dose_per_m2=per_m2,
        prednisone_equivalent_mg_per_day=None if equivalent is None else float(equivalent),
        effect_window_until=therapy.active_until(t) if window_only else None,
        source=f"$.treatments[{t.index}]")


def _exposure(therapy: TherapyIndex, threshold: Fraction) -> GlucocorticoidExposure:
    as_of = therapy.as_of
    today, unknown = therapy.gc_on(as_of, pulses=False)
    end = as_of if any(e.given_on(as_of) for e in therapy.gc) else therapy.last_gc_day
    run_start = None if end is None else therapy.run_start(lambda mg, _u, _e: mg >= threshold, end)
    course = therapy.course_start
    return GlucocorticoidExposure(
        current_mg_per_day=None if unknown else float(today),
        pulse_today=any(e.pulse and e.given_on(as_of) for e in therapy.gc),
        course_cumulative_mg=float(therapy.cumulative_mg(course)) if course else 0.0,
        record_cumulative_mg=float(therapy.cumulative_mg(None)),
        days_at_or_above_20mg=0 if run_start is None or end is None else (end - run_start).days + 1,
        pulse_days_in_course=therapy.pulse_days(course) if course else 0,
        not_counted=tuple(f"$.treatments[{e.treatment.index}]" for e in therapy.gc
                          if e.per_day is None))


def _phase(run: RuleRun, activity: Activity) -> tuple[Phase, list[str], list[InputRef]]:
    ctx, params, therapy = run.ctx, run.params, run.therapy
    start = therapy.course_start
    if start is None:
        return "untreated", ["no immunosuppressive course has started"], []
    if not therapy.active_agents:
        last = therapy.last_active_day
        off = f"course started {start}; no immunosuppressive agent active since {last}"
        if activity.status == "active":
            return "stopped_active", [off, "disease active: " + "; ".join(activity.reasons)], []
        if activity.status == "unknown":
            return "not_evaluable", [off, "disease activity unknown: " + "; ".join(
                activity.reasons)], []
        months = params.setting_int("remission_off_therapy_months")
        if last is not None and inactive_for_months(last, ctx.as_of, months):
            return "drug_free_remission", [off, f"inactive disease, off therapy ≥ {months} months"], []
        return "off_treatment", [off, f"inactive disease, off therapy < {months} months"], []
    judgement = run.result("RESPONSE-INADEQUATE", ResponseJudgement)
    days = params.setting_int("refractory_feature_days")
    late = [f for code in ("extensive_weakness", "dysphagia")
            if (f := ctx.finding(code)) is not None and f.present
            and f.date >= start + dt.timedelta(days=days)]
    if judgement.status == "inadequate" or late:
        reasons = [f"course started {start}"]
        if judgement.status == "inadequate":
            reasons.append(f"inadequate response: {judgement.reason}")
        reasons += [f"{f.code.replace('_', ' ')} present on {f.date}, ≥ {days} days after the "
                    "course start" for f in late]
        return "refractory", reasons, [ref_finding(f) for f in late]
    months = params.setting_int("inadequate_response_months")
    due = add_months(start, months)
    if ctx.as_of < due:
        return "induction", [f"course started {start} (less than {months} months ago)"], []
    outcome = run.result("RESPONSE-TIS", TisOutcome)
    tis = outcome.result
    shown = tis.category or tis.status.replace("_", " ")
    if tis_at_least_minimal(outcome, params):
        return "maintenance", [f"course started {start} (≥ {months} months ago), latest TIS "
                               f"at least minimal ({shown})"], []
    return "not_evaluable", [f"course started {start} (≥ {months} months ago); response not "
                             f"established: TIS {shown}"], []


@rule("THERAPY-CURRENT")
def current_therapy(run: RuleRun, meta: RuleMeta) -> CurrentTherapy:
    ctx, params, therapy = run.ctx, run.params, run.therapy
    activity = disease_activity(ctx, params)
    phase, reasons, phase_inputs = _phase(run, activity)
    children = children_dosing(ctx, params)
    active = [t for t in ctx.treatments
              if (therapy.active_on(t, ctx.as_of) if t.drug in IMMUNOSUPPRESSIVE_AGENTS
                  else t.active_on(ctx.as_of))]
    windows = ", ".join(f"{d} {therapy.effect_window(d)}" for d in ("rituximab", "cyclophosphamide",
                                                                    "ivig"))
    notes = [
        params.interp_note("pre_diagnosis_start_days", "a course may begin "
                           f"{params.setting_int('pre_diagnosis_start_days')} days before diagnosis"),
        params.interp_note("new_course_gap_months", "a new course begins after "
                           f"{params.setting_int('new_course_gap_months')} months with none active"),
        params.interp_note("effect_window_days", f"active after the last dose for: {windows} days"),
        params.interp_note("activity_window_days", "activity from the last "
                           f"{params.setting_int('activity_window_days')} days; physician global "
                           f"above {params.settings.number('activity_pga_cm'):g} cm is active"),
    ]
    if phase in ("drug_free_remission", "off_treatment"):
        notes.append(params.interp_note(
            "remission_off_therapy_months", "drug-free remission once off therapy for "
            f"{params.setting_int('remission_off_therapy_months')} months with inactive disease"))
    threshold = exact(params.number("pjp_prednisone_mg"))
    return CurrentTherapy(
        phase=phase, phase_reasons=tuple(reasons), activity=activity.status,
        activity_reasons=activity.reasons, activity_missing=activity.missing,
        course_start=therapy.course_start,
        courses=therapy.courses,
        off_therapy_since=(None if therapy.active_agents or therapy.last_active_day is None
                           else therapy.last_active_day + dt.timedelta(days=1)),
        agents=tuple(_agent(t, run, children) for t in active),
        glucocorticoid=_exposure(therapy, threshold), rule_id=meta.id,
        knowledge_version=params.version, citations=meta.citations,
        inputs=tuple([ref_treatment(t) for t in active] + phase_inputs + list(activity.inputs)),
        notes=tuple(notes))

