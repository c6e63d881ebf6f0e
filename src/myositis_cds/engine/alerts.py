"""ALERT-*: the known pitfalls (clinical-reference §7).

Each rule returns an :class:`Alert` when it fires, ``None`` when the record shows it does not apply,
or a :class:`NotEvaluatedAlert` when the inputs needed to decide are missing (never "no alert").
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Literal

from myositis_cds.domain.dates import add_months
from myositis_cds.domain.vocabulary import (
    CUTANEOUS_FINDINGS,
    MSA_TARGETS,
    SECOND_LINE_AGENTS,
    STEROID_SPARING_AGENTS,
)
from myositis_cds.engine.context import (
    PatientContext,
    ref_antibody,
    ref_finding,
    ref_lab,
    ref_treatment,
    ref_visit,
)
from myositis_cds.engine.current_therapy import high_dose
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import Alert, CurrentTherapy, InputRef, Note, NotEvaluatedAlert
from myositis_cds.engine.screening import ENHANCED_INVESTIGATIONS, occasion_for
from myositis_cds.engine.therapy import exact
from myositis_cds.knowledge.pack import RuleMeta

__all__ = ["titer_normalised"]

Severity = Literal["info", "warning", "critical"]


def _alert(run: RuleRun, meta: RuleMeta, severity: Severity, message: str, *,
           inputs: list[InputRef], notes: tuple[Note, ...] = ()) -> Alert:
    return Alert(id=meta.id, severity=severity, title=meta.title, message=message,
                 rule_id=meta.id, knowledge_version=run.params.version, citations=meta.citations,
                 inputs=tuple(inputs), notes=notes)


@rule("ALERT-DELAYED-IMMUNOSUPPRESSION")
def delayed_immunosuppression(run: RuleRun, meta: RuleMeta) -> Alert | NotEvaluatedAlert | None:
    ctx, params, therapy = run.ctx, run.params, run.therapy
    limit = params.setting_int("delayed_immunosuppression_critical_days")
    notes = (params.interp_note(
        "delayed_immunosuppression_critical_days", f"critical after more than {limit} days"),)
    current = run.result("THERAPY-CURRENT", CurrentTherapy)
    if current.course_start is None:  # (a) no course has started
        if ctx.diagnosis_date is None:
            recorded = ctx.record.diagnosis.date if ctx.record.diagnosis else None
            if recorded is not None:  # diagnosed only after the assessment date: not yet due
                return None
            return NotEvaluatedAlert(id=meta.id, reason="no immunosuppression recorded and no "
                                     "diagnosis date")
        days = (ctx.as_of - ctx.diagnosis_date).days
        return _alert(
            run, meta, "critical" if days > limit else "warning",
            f"Diagnosed {days} days ago ({ctx.diagnosis_date}) and no glucocorticoid, "
            "steroid-sparing or second-line agent has been started.",
            inputs=[InputRef(source="$.diagnosis.date", name="diagnosis_date",
                             value=ctx.diagnosis_date.isoformat(), date=ctx.diagnosis_date)],
            notes=notes)
    if not therapy.active_agents:  # (c) treatment stopped, or relapse, while the disease is active
        if current.activity != "active":
            return None
        return _alert(
            run, meta, "critical",
            f"No treatment while the disease is active: no immunosuppressive agent since "
            f"{therapy.last_active_day}, and {'; '.join(current.activity_reasons)}.",
            inputs=[ref_treatment(t) for t in therapy.immunosuppressants[-3:]], notes=notes)
    return _glucocorticoid_alone(run, meta, notes)


def _glucocorticoid_alone(run: RuleRun, meta: RuleMeta,
                          notes: tuple[Note, ...]) -> Alert | None:
    """(b): a glucocorticoid > 7.5 mg/day prednisone-equivalent with no steroid-sparing or
    second-line agent active; critical when a high dose has run alone for more than 28 days."""
    ctx, params, therapy = run.ctx, run.params, run.therapy
    if therapy.active_of(STEROID_SPARING_AGENTS | SECOND_LINE_AGENTS):
        return None
    low = exact(params.number("gc_low_dose_mg"))
    total, unknown = therapy.gc_on(ctx.as_of)
    if not unknown and total <= low:
        return None
    given = [e.treatment for e in therapy.gc if e.given_on(ctx.as_of)]
    partners = STEROID_SPARING_AGENTS | SECOND_LINE_AGENTS
    others = [t for t in therapy.immunosuppressants if t.drug in partners]

    def alone(mg: Fraction, unknown_dose: bool, _entries: object) -> bool:
        return mg > low or unknown_dose

    start = therapy.run_start(alone) or ctx.as_of
    last_other = max((d for t in others if (d := therapy.active_until(t)) is not None
                      and t.start <= ctx.as_of), default=None)
    if last_other is not None and last_other >= start:
        start = last_other + dt.timedelta(days=1)
    days = (ctx.as_of - start).days
    limit = params.setting_int("delayed_immunosuppression_critical_days")
    high, basis = high_dose(run)
    high_now = unknown or total >= high
    severity: Severity = "critical" if high_now and days > limit else "warning"
    names = ", ".join(sorted({t.drug for t in given}))
    dose = "dose not recorded" if unknown else f"{float(total):g} mg/day prednisone-equivalent"
    notes += (params.interp_note("high_dose_gc_mg_per_kg", f"critical at a high dose: {basis}"),)
    return _alert(
        run, meta, severity,
        f"{names} ({dose}) has run without a steroid-sparing or second-line agent for {days} days "
        f"(since {start}): add a steroid-sparing agent.",
        inputs=[ref_treatment(t) for t in given] + [ref_treatment(t) for t in others], notes=notes)


@rule("ALERT-CK-NORMAL-ACTIVE-SKIN")
def ck_normal_active_skin(run: RuleRun, meta: RuleMeta) -> Alert | NotEvaluatedAlert | None:
    ctx = run.ctx
    skin = [f for code in CUTANEOUS_FINDINGS if (f := ctx.finding(code)) is not None]
    active_skin = [f for f in skin if f.present]
    cdasi_visit = next((v for v in reversed(ctx.visits) if v.cdasi_activity is not None), None)
    cdasi_active = cdasi_visit is not None and (cdasi_visit.cdasi_activity or 0) > 0
    ck = ctx.labs_of("CK")
    latest_ck = ck[-1] if ck else None
    if latest_ck is not None and latest_ck.uln is not None and latest_ck.value > latest_ck.uln:
        return None
    if not active_skin and not cdasi_active:
        if skin or cdasi_visit is not None:
            return None
        return NotEvaluatedAlert(id=meta.id, reason="skin disease activity not recorded "
                                 "(no cutaneous finding and no CDASI activity)")
    if latest_ck is None:
        return NotEvaluatedAlert(id=meta.id, reason="active skin disease but no CK result")
    if latest_ck.uln is None:
        return NotEvaluatedAlert(id=meta.id, reason=f"CK of {latest_ck.date} has no ULN")
    inputs = [ref_lab(latest_ck)] + [ref_finding(f) for f in active_skin]
    signs = [f.code.replace("_", " ") for f in active_skin]
    if cdasi_active and cdasi_visit is not None:
        inputs.append(ref_visit(cdasi_visit, "cdasi_activity"))
        signs.append(f"CDASI activity {cdasi_visit.cdasi_activity:g}")
    return _alert(
        run, meta, "warning",
        f"CK {latest_ck.value:g} {latest_ck.unit} on {latest_ck.date} is within normal limits "
        f"(ULN {latest_ck.uln:g}) while skin disease is active ({', '.join(signs)}): do not rely "
        "on muscle enzymes alone.", inputs=inputs)


@rule("ALERT-SCREEN-AGE40")
def screen_age40(run: RuleRun, meta: RuleMeta) -> Alert | NotEvaluatedAlert | None:
    """Age at symptom onset (at diagnosis if onset is unknown) ≥ 40 and the occasion at diagnosis
    has no enhanced screen; juvenile onset wins over age (§4 as corrected in §12.5)."""
    ctx = run.ctx
    threshold = run.params.number("screening_enhanced_age")
    if ctx.juvenile_onset(run.params.number("juvenile_onset_age")):
        return None
    age = ctx.onset_age
    if age is None:
        missing = "birth date missing" if ctx.record.birth_date is None else (
            "onset and diagnosis dates missing")
        return NotEvaluatedAlert(id=meta.id, reason=f"age at onset unknown: {missing}")
    if age < threshold:
        return None
    if ctx.diagnosis_date is None:
        return NotEvaluatedAlert(id=meta.id, reason="diagnosis date missing: the screening "
                                 "occasion at diagnosis is unknown")
    window = run.params.setting_int("screening_window_days")
    occasion = occasion_for(ctx, ctx.diagnosis_date, window, ENHANCED_INVESTIGATIONS)
    if occasion.status == "done":
        return None
    notes: tuple[Note, ...] = (run.params.interp_note(
        "screening_window_days", f"a CT within {window} days of diagnosis counts"),)
    reference = ctx.onset_reference_date
    return _alert(
        run, meta, "warning",
        f"Age {age} at onset ≥ {threshold:g} and no contrast-enhanced CT chest/abdomen/pelvis "
        f"within {window} days of diagnosis ({ctx.diagnosis_date}); the occasion is "
        f"{occasion.status}.",
        inputs=[InputRef(source="$.birth_date", name="birth_date",
                         value=ctx.record.birth_date.isoformat() if ctx.record.birth_date else None),
                InputRef(source=("$.diagnosis.symptom_onset_date" if ctx.onset_date else
                                 "$.diagnosis.date"), name="onset_reference_date",
                         value=reference.isoformat() if reference else None, date=reference),
                InputRef(source="$.diagnosis.date", name="diagnosis_date",
                         value=ctx.diagnosis_date.isoformat(), date=ctx.diagnosis_date)],
        notes=notes)


@rule("ALERT-COEXISTING-MSA")
def coexisting_msa(run: RuleRun, meta: RuleMeta) -> Alert | None:
    ctx = run.ctx
    if not ctx.mi2_ever_positive:
        return None
    others = []
    for target in MSA_TARGETS[1:]:
        positive = [a for a in ctx.antibody_results(target) if a.result == "positive"]
        if positive:
            others.append(positive[0])
    if not others:
        return None
    names = ", ".join(f"anti-{a.target}" for a in others)
    screening = [a.target for a in others if a.target in ("TIF1-gamma", "NXP2")]
    extra = (f" {', '.join(screening)} also raises the cancer-screening level to enhanced."
             if screening else "")
    mi2 = next(a for a in ctx.mi2_results if a.result == "positive")
    return _alert(run, meta, "warning",
                  f"Anti-Mi-2 with co-existing {names}: the prognosis and cancer risk of the other "
                  f"antibody apply too.{extra}",
                  inputs=[ref_antibody(mi2)] + [ref_antibody(a) for a in others])


@rule("ALERT-INCOMPLETE-MSA-PANEL")
def incomplete_msa_panel(run: RuleRun, meta: RuleMeta) -> Alert | None:
    ctx = run.ctx
    missing = [t for t in MSA_TARGETS if not ctx.antibody_results(t)]
    if not missing:
        return None
    return _alert(run, meta, "info",
                  f"Never tested: {', '.join(missing)}. Complete the myositis-specific antibody "
                  "panel to find co-existing antibodies.",
                  inputs=[InputRef(source="$.antibodies", name=t, value="not tested") for t in missing])


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def titer_normalised(ctx: PatientContext) -> bool:
    """The anti-Mi-2 titer is normalised (§6.3 as corrected in §12.5)."""
    return ctx.mi2_normalised_since is not None


@rule("ALERT-CONTINUE-MONITORING")
def continue_monitoring(run: RuleRun, meta: RuleMeta) -> Alert | None:
    """Off therapy without active disease, or on therapy with a normalised titer (§12.5); never in
    phase untreated or stopped_active."""
    ctx = run.ctx
    current = run.result("THERAPY-CURRENT", CurrentTherapy)
    if current.phase in ("untreated", "stopped_active") or (current.activity == "active" and (
            not run.therapy.active_agents)):
        return None
    months = run.params.setting_int("monitoring_stale_months")
    reasons: list[str] = []
    inputs: list[InputRef] = []
    if not run.therapy.active_agents:
        reasons.append(f"off immunosuppression since {run.therapy.last_active_day} (disease "
                       f"activity {current.activity})")
        inputs += [ref_treatment(t) for t in run.therapy.immunosuppressants]
    if titer_normalised(ctx):
        latest = ctx.mi2_results[-1]
        reasons.append(f"anti-Mi-2 normalised ({ctx.mi2_normalised_since})")
        inputs.append(ref_antibody(latest))
    if not reasons:
        return None
    last = ctx.visits[-1] if ctx.visits else None
    stale = last is None or ctx.as_of > add_months(last.date, months)
    when = "no assessment recorded" if last is None else f"last assessment {last.date}"
    if last is not None:
        inputs.append(InputRef(source=f"$.assessments[{last.index}]", name="assessment",
                               value=last.date.isoformat(), date=last.date))
    notes = (run.params.interp_note(
        "monitoring_stale_months", f"a warning when the last assessment is more than {months} "
        "months old"),)
    return _alert(
        run, meta, "warning" if stale else "info",
        f"{_first_upper('; '.join(reasons))}: anti-Mi-2 may persist in remission and about 15% "
        f"reach drug-free remission, so surveillance continues ({when}).", inputs=inputs, notes=notes)
