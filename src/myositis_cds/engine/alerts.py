"""ALERT-*: the known pitfalls (clinical-reference §7).

Each rule returns an :class:`Alert` when it fires, ``None`` when the record shows it does not apply,
or a :class:`NotEvaluatedAlert` when the inputs needed to decide are missing (never "no alert").
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from myositis_cds.domain.dates import add_months
from myositis_cds.domain.record import Treatment
from myositis_cds.domain.vocabulary import (
    CUTANEOUS_FINDINGS,
    GLUCOCORTICOIDS,
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
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import Alert, InputRef, Note, NotEvaluatedAlert
from myositis_cds.engine.screening import ENHANCED_INVESTIGATIONS, occasion_for
from myositis_cds.knowledge.pack import RuleMeta

__all__ = ["alone_since", "titer_normalised"]

Severity = Literal["info", "warning", "critical"]


def _alert(run: RuleRun, meta: RuleMeta, severity: Severity, message: str, *,
           inputs: list[InputRef], notes: tuple[Note, ...] = ()) -> Alert:
    return Alert(id=meta.id, severity=severity, title=meta.title, message=message,
                 rule_id=meta.id, knowledge_version=run.params.version, citations=meta.citations,
                 inputs=tuple(inputs), notes=notes)


def alone_since(glucocorticoids: list[Treatment], others: list[Treatment],
                day: dt.date) -> dt.date | None:
    """Start of the glucocorticoid-only period that runs to ``day``, or ``None`` if there is none."""
    if not any(t.active_on(day) for t in glucocorticoids) or any(t.active_on(day) for t in others):
        return None
    start = day
    extended = True
    while extended:  # walk back over glucocorticoid periods that touch or overlap the current one
        extended = False
        for t in glucocorticoids:
            if t.start < start and (t.stop is None or t.stop >= start - dt.timedelta(days=1)):
                start, extended = t.start, True
    last_other = max((min(t.stop or day, day) for t in others if t.start <= day), default=None)
    if last_other is not None and last_other >= start:
        start = last_other + dt.timedelta(days=1)
    return start


@rule("ALERT-DELAYED-IMMUNOSUPPRESSION")
def delayed_immunosuppression(run: RuleRun, meta: RuleMeta) -> Alert | NotEvaluatedAlert | None:
    ctx = run.ctx
    limit = run.params.setting_int("delayed_immunosuppression_critical_days")
    notes = (run.params.interp_note(
        "delayed_immunosuppression_critical_days", f"critical after more than {limit} days"),)
    if not ctx.immunosuppressants:
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
    glucocorticoids = ctx.treatments_of(GLUCOCORTICOIDS)
    others = ctx.treatments_of(STEROID_SPARING_AGENTS | SECOND_LINE_AGENTS)
    start = alone_since(glucocorticoids, others, ctx.as_of)
    if start is None:
        return None
    days = (ctx.as_of - start).days
    active = [t for t in glucocorticoids if t.active_on(ctx.as_of)]
    names = ", ".join(sorted({t.drug for t in active}))
    return _alert(
        run, meta, "critical" if days > limit else "warning",
        f"{names} has run without a steroid-sparing or second-line agent for {days} days "
        f"(since {start}): add a steroid-sparing agent.",
        inputs=[ref_treatment(t) for t in active] + [ref_treatment(t) for t in others], notes=notes)


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
    signs = [f.code for f in active_skin]
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
    ctx = run.ctx
    threshold = run.params.number("screening_enhanced_age")
    if ctx.age is None:
        return NotEvaluatedAlert(id=meta.id, reason="birth date missing")
    if ctx.age < threshold:
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
    if ctx.juvenile_onset(run.params.number("juvenile_onset_age")):
        notes += (Note(kind="caveat", text="juvenile onset: routine cancer screening is not "
                       "required (IMACS-CANCER-2023); this alert follows §7 literally on age alone",
                       citations=("IMACS-CANCER-2023",)),)
    return _alert(
        run, meta, "warning",
        f"Age {ctx.age} >= {threshold:g} and no contrast-enhanced CT chest/abdomen/pelvis within "
        f"{window} days of diagnosis ({ctx.diagnosis_date}); the occasion is {occasion.status}.",
        inputs=[InputRef(source="$.birth_date", name="birth_date",
                         value=ctx.record.birth_date.isoformat() if ctx.record.birth_date else None),
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


def titer_normalised(ctx: PatientContext) -> bool:
    """The latest Mi-2 result is negative or below its assay cut-off after an earlier positive (§6.3)."""
    results = ctx.mi2_results
    if not ctx.mi2_ever_positive:
        return False
    latest = results[-1]
    below = latest.titer is not None and latest.cutoff is not None and latest.titer < latest.cutoff
    return latest.result == "negative" or below


@rule("ALERT-CONTINUE-MONITORING")
def continue_monitoring(run: RuleRun, meta: RuleMeta) -> Alert | None:
    ctx = run.ctx
    months = run.params.setting_int("monitoring_stale_months")
    reasons: list[str] = []
    inputs: list[InputRef] = []
    treated = ctx.immunosuppressants
    if treated and not any(t.active_on(ctx.as_of) for t in treated):
        last_stop = max(t.stop for t in treated if t.stop is not None)
        reasons.append(f"off immunosuppression since {last_stop}")
        inputs += [ref_treatment(t) for t in treated]
    if titer_normalised(ctx):
        latest = ctx.mi2_results[-1]
        reasons.append(f"anti-Mi-2 normalised ({latest.date})")
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
        f"{'; '.join(reasons).capitalize()}: anti-Mi-2 may persist in remission and about 15% "
        f"reach drug-free remission, so surveillance continues ({when}).", inputs=inputs, notes=notes)
