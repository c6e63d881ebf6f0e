"""SCREEN-CANCER: cancer-screening level and schedule (clinical-reference §4).

Level ``enhanced`` (contrast CT chest/abdomen/pelvis plus age-appropriate screening) if the age at
symptom onset (at diagnosis if onset is unknown) is ≥ 40 or a high-risk factor is present
(TIF1-gamma or NXP2 positive, treatment-refractory disease = phase ``refractory``, cutaneous
necrosis); ``not_routinely_required`` for juvenile onset, which wins over age (§12.5); otherwise
``standard``. Occasions are due at diagnosis and yearly for 3 years; each is satisfied by a
qualifying investigation within ``screening_window_days`` of its due date.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from myositis_cds.domain.dates import add_years
from myositis_cds.engine.context import PatientContext, ref_antibody, ref_finding
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import (
    CancerScreening,
    CurrentTherapy,
    InputRef,
    Note,
    ScreeningOccasion,
)
from myositis_cds.knowledge.pack import RuleMeta

__all__ = ["ENHANCED_INVESTIGATIONS", "STANDARD_INVESTIGATIONS", "occasion_for"]

ENHANCED_INVESTIGATIONS = ("ct_chest_abdomen_pelvis",)
STANDARD_INVESTIGATIONS = ("age_appropriate_cancer_screening", "ct_chest_abdomen_pelvis")


def occasion_for(ctx: PatientContext, due: dt.date, window: int,
                 kinds: tuple[str, ...]) -> ScreeningOccasion:
    """The status of one screening occasion on the assessment date."""
    start, end = due - dt.timedelta(days=window), due + dt.timedelta(days=window)
    qualifying = [i for i in ctx.investigations_of(*kinds) if start <= i.date <= end]
    if qualifying:
        best = min(qualifying, key=lambda i: (abs((i.date - due).days), i.date))
        status: Literal["done", "due", "overdue", "upcoming"] = "done"
        satisfied = best.date
    else:
        satisfied = None
        if ctx.as_of > end:
            status = "overdue"
        elif ctx.as_of >= start:
            status = "due"
        else:
            status = "upcoming"
    return ScreeningOccasion(due=due, status=status, satisfied_by=satisfied, window_start=start,
                             window_end=end)


def _risk_factors(run: RuleRun) -> tuple[list[str], list[str], list[InputRef]]:
    """(present high-risk factors, factors that could not be excluded, inputs)."""
    ctx = run.ctx
    present: list[str] = []
    unknown: list[str] = []
    inputs: list[InputRef] = []
    for target in ("TIF1-gamma", "NXP2"):
        results = ctx.antibody_results(target)
        positive = [a for a in results if a.result == "positive"]
        if positive:
            present.append(f"{target} positive")
            inputs.append(ref_antibody(positive[0]))
        elif not results:
            unknown.append(f"{target} not tested")
        else:
            inputs.append(ref_antibody(results[-1]))
    current = run.result("THERAPY-CURRENT", CurrentTherapy)
    if current.phase == "refractory":
        present.append("treatment-refractory disease (" + "; ".join(current.phase_reasons[1:]) + ")")
        inputs.extend(current.inputs)
    elif current.phase == "not_evaluable" and run.therapy.active_agents:
        unknown.append("response to treatment not established")
    necrosis = ctx.finding("cutaneous_necrosis")
    if necrosis is None:
        unknown.append("cutaneous_necrosis not recorded")
    else:
        inputs.append(ref_finding(necrosis))
        if necrosis.present:
            present.append("cutaneous necrosis present")
    return present, unknown, inputs


@rule("SCREEN-CANCER")
def cancer_screening(run: RuleRun, meta: RuleMeta) -> CancerScreening:
    ctx, params = run.ctx, run.params
    age_threshold = params.number("screening_enhanced_age")
    juvenile_age = params.number("juvenile_onset_age")
    window = params.setting_int("screening_window_days")
    notes: list[Note] = [params.interp_note(
        "screening_window_days",
        f"an occasion is satisfied by a qualifying investigation within {window} days of its due "
        f"date and is overdue more than {window} days after it")]
    inputs: list[InputRef] = []
    if ctx.record.birth_date is not None:
        inputs.append(InputRef(source="$.birth_date", name="birth_date",
                               value=ctx.record.birth_date.isoformat()))
    reasons: list[str] = []
    level: Literal["standard", "enhanced", "not_routinely_required", "not_evaluable"]
    juvenile = ctx.juvenile_onset(juvenile_age)
    present, unknown, risk_inputs = _risk_factors(run)
    inputs += risk_inputs
    age = ctx.onset_age
    if juvenile:
        onset_age = ctx.age_on(ctx.onset_reference_date) if ctx.onset_reference_date else None
        level = "not_routinely_required"
        reasons.append(f"juvenile onset (age {onset_age} < {juvenile_age:g} at onset)")
        if present:
            notes.append(Note(kind="caveat", text="juvenile onset takes precedence (§4); high-risk "
                              "factor(s) present: " + "; ".join(present), citations=meta.citations))
    else:
        if age is not None and age >= age_threshold:
            reasons.append(f"age {age} at onset ≥ {age_threshold:g}")
        reasons += present
        if reasons:
            level = "enhanced"
        elif age is None:
            level = "not_evaluable"
            reasons.append("age at onset unknown (birth date, or onset and diagnosis dates, "
                           "missing) and no high-risk factor present")
        else:
            level = "standard"
            reasons.append(f"age {age} at onset < {age_threshold:g} and no high-risk factor "
                           "present")
            if unknown:
                notes.append(Note(kind="caveat", text="high-risk factors not excluded: "
                                  + "; ".join(unknown)))
        if juvenile is None and age is not None:
            notes.append(Note(kind="caveat", text="juvenile onset could not be assessed "
                              "(onset and diagnosis dates missing); adult screening is shown"))
        if ctx.onset_date is None and age is not None:
            notes.append(Note(kind="caveat", text="symptom onset not recorded: the age at "
                              "diagnosis is used"))
    kinds = ENHANCED_INVESTIGATIONS if level == "enhanced" else STANDARD_INVESTIGATIONS
    required = () if level == "not_routinely_required" else (
        ("ct_chest_abdomen_pelvis", "age_appropriate_cancer_screening") if level == "enhanced"
        else ("age_appropriate_cancer_screening",))
    occasions: tuple[ScreeningOccasion, ...] = ()
    diagnosed = ctx.diagnosis_date
    if level != "not_routinely_required":
        if diagnosed is None:
            notes.append(Note(kind="caveat", text="diagnosis date missing or after the assessment "
                              "date: the screening schedule cannot be computed"))
        else:
            inputs.append(InputRef(source="$.diagnosis.date", name="diagnosis_date",
                                   value=diagnosed.isoformat(), date=diagnosed))
            occasions = tuple(
                occasion_for(ctx, add_years(diagnosed, int(years)), window, kinds)
                for years in params.numbers("screening_occasion_years")
            )
    return CancerScreening(
        level=level, reasons=tuple(reasons), required_investigations=required,
        occasions=occasions, rule_id=meta.id, knowledge_version=params.version,
        citations=meta.citations, inputs=tuple(inputs), notes=tuple(notes),
    )
