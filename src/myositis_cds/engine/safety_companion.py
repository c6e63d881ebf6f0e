"""SAFETY-*: the safety companion from the record (clinical-reference §15).

Each item is ``done``, ``missing``, ``due``, ``overdue``, ``not_applicable`` or ``advice``, with its
reason, due date, citations and inputs. Screening before immunosuppression (hepatitis B and C, HIV,
tuberculosis) is ``due`` before a planned start, ``missing`` on therapy without a result, and
``not_applicable`` off therapy; a positive or indeterminate result (``abnormal: true``) adds
"specialist advice before immunosuppression" as a warning. Pneumocystis and bone protection follow
the actual glucocorticoid exposure in every tier (§13), not the recommended line.
Drug-monitoring bloods are in :mod:`myositis_cds.engine.monitoring_bloods`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from myositis_cds.domain.vocabulary import (
    BONE_PROTECTION,
    PJP_PROPHYLAXIS,
    SECOND_LINE_AGENTS,
)
from myositis_cds.engine.context import ref_investigation, ref_treatment
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import Action, CurrentTherapy, InputRef, Note, SafetyCheck
from myositis_cds.engine.therapy import exact
from myositis_cds.knowledge.pack import RuleMeta

__all__ = ["OFF_THERAPY_PHASES", "check", "planned_actions", "starting"]

Status = Literal["done", "missing", "due", "overdue", "not_applicable", "advice"]
OFF_THERAPY_PHASES = ("drug_free_remission", "off_treatment")
_START_PHASES = ("untreated", "stopped_active")
_PREGNANCY_DRUGS = ("methotrexate", "mycophenolate_mofetil", "cyclophosphamide")


def check(run: RuleRun, meta: RuleMeta, status: Status, reason: str, *,
          severity: Literal["info", "warning"] = "info", due: dt.date | None = None,
          drug: str | None = None, inputs: Sequence[InputRef] = (),
          citations: Sequence[str] = (), notes: Sequence[Note] = ()) -> SafetyCheck:
    return SafetyCheck(id=meta.id, status=status, severity=severity, reason=reason, due=due,
                       drug=drug, rule_id=meta.id, knowledge_version=run.params.version,
                       citations=tuple(dict.fromkeys([*meta.citations, *citations])),
                       inputs=tuple(inputs), notes=tuple(notes))


def starting(run: RuleRun) -> bool:
    """A start of immunosuppression is the plan (phase untreated or stopped_active)."""
    return run.result("THERAPY-CURRENT", CurrentTherapy).phase in _START_PHASES


def planned_actions(run: RuleRun) -> list[Action]:
    planned: list[Action] = []
    for rule_id in ("ACTION-START", "ACTION-ADD", "ACTION-PULSE"):
        value = run.output(rule_id)
        if isinstance(value, tuple):
            planned += [a for a in value if isinstance(a, Action)]
    return planned


def _planned_drugs(run: RuleRun) -> set[str]:
    return {d for a in planned_actions(run) for d in ((a.drug,) if a.drug else a.options)}


def _off_therapy(run: RuleRun) -> bool:
    return not run.therapy.active_agents and not starting(run)


def _screen(run: RuleRun, meta: RuleMeta, kind: str, what: str, extra: str = "") -> SafetyCheck:
    """Screening before immunosuppression: due / missing / done (warning if abnormal)."""
    text = run.params.pack.text
    if _off_therapy(run):
        return check(run, meta, "not_applicable", text("safety.not_on_therapy").text)
    found = run.ctx.investigations_of(kind)
    if found:
        latest = found[-1]
        if latest.abnormal:
            return check(run, meta, "done", text("safety.screen_abnormal").format(
                what=_first_upper(what), date=latest.date), severity="warning",
                inputs=[ref_investigation(latest)])
        course = run.therapy.course_start
        late = f", after immunosuppression started on {course}" if (
            course is not None and latest.date > course) else ""
        return check(run, meta, "done", text("safety.screen_done").format(
            what=_first_upper(what), date=latest.date, late=late),
            inputs=[ref_investigation(latest)])
    if starting(run):
        return check(run, meta, "due", text("safety.screen_due").format(
            what=_first_upper(what), extra=extra))
    return check(run, meta, "missing", text("safety.screen_missing").format(what=what, extra=extra))


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _ivig_extra(run: RuleRun) -> str:
    ivig = run.therapy.active_of(("ivig",)) or "ivig" in _planned_drugs(run)
    return run.params.pack.text("safety.hbv_ivig").text if ivig else ""


@rule("SAFETY-HBV")
def hepatitis_b(run: RuleRun, meta: RuleMeta) -> SafetyCheck:
    return _screen(run, meta, "hbv_serology", run.params.pack.text("safety.hbv").text,
                   _ivig_extra(run))


@rule("SAFETY-HCV")
def hepatitis_c(run: RuleRun, meta: RuleMeta) -> SafetyCheck:
    return _screen(run, meta, "hcv_serology", run.params.pack.text("safety.hcv").text)


@rule("SAFETY-HIV")
def hiv(run: RuleRun, meta: RuleMeta) -> SafetyCheck:
    note = run.params.interp_note("hiv_screening", "HIV serology is part of the screening "
                                  f"({run.params.setting_text('hiv_screening')})")
    if run.params.setting_text("hiv_screening") == "off":
        return check(run, meta, "not_applicable", run.params.pack.text("safety.hiv_off").text,
                     notes=[note])
    item = _screen(run, meta, "hiv_serology", run.params.pack.text("safety.hiv").text)
    return check(run, meta, item.status, item.reason, severity=item.severity, due=item.due,
                 inputs=item.inputs, notes=[note])


@rule("SAFETY-TB")
def tuberculosis(run: RuleRun, meta: RuleMeta) -> SafetyCheck:
    params, therapy = run.params, run.therapy
    text = params.pack.text
    low = exact(params.number("gc_low_dose_mg"))
    in_course = therapy.entries_in_course() if therapy.active_agents else ()
    gc_high = any(e.treatment in in_course and (e.per_day is None or e.per_day > low)
                  for e in therapy.gc)
    second_line = any(t.drug in SECOND_LINE_AGENTS - {"ivig"} for t in in_course)
    planned = planned_actions(run)
    planned_need = any(a.action in ("start", "pulse") for a in planned) or any(
        d in SECOND_LINE_AGENTS - {"ivig"} for a in planned for d in ((a.drug,) if a.drug
                                                                       else a.options))
    if _off_therapy(run):
        return check(run, meta, "not_applicable", text("safety.not_on_therapy").text)
    if not (gc_high or second_line or planned_need):
        return check(run, meta, "not_applicable",
                     text("safety.tb_not_needed").format(low=f"{float(low):g}"))
    return _screen(run, meta, "tb_igra", text("safety.tb").text,
                   text("safety.tb_extra").format(low=f"{float(low):g}"))


@rule("SAFETY-PJP")
def pneumocystis(run: RuleRun, meta: RuleMeta) -> SafetyCheck:
    ctx, params, therapy = run.ctx, run.params, run.therapy
    text = params.pack.text
    mg = exact(params.number("pjp_prednisone_mg"))
    weeks = params.number("pjp_weeks")
    shown = {"mg": f"{float(mg):g}", "weeks": f"{weeks:g}"}
    if starting(run):
        return check(run, meta, "advice", text("safety.pjp_advice").format(**shown))
    since = therapy.run_start(lambda total, _u, _e: total >= mg)
    prophylaxis = [t for t in ctx.treatments if t.drug in PJP_PROPHYLAXIS and t.active_on(ctx.as_of)]
    notes = []
    if therapy.active_of(("methotrexate",)) and since is not None:
        notes.append(Note(kind="caveat", text=text("safety.pjp_methotrexate").text,
                          citations=text("safety.pjp_methotrexate").citations))
    given = [e for e in therapy.gc if e.given_on(ctx.as_of)]
    if since is None:
        if any(e.per_day is None for e in given):
            return check(run, meta, "missing", text("safety.pjp_unknown").format(**shown),
                         inputs=[ref_treatment(e.treatment) for e in given], notes=notes)
        return check(run, meta, "not_applicable", text("safety.pjp_not_needed").format(**shown))
    days = (ctx.as_of - since).days
    due = since + dt.timedelta(days=int(7 * weeks))
    inputs = [ref_treatment(e.treatment) for e in given] + [ref_treatment(t) for t in prophylaxis]
    if prophylaxis:
        return check(run, meta, "done", text("safety.pjp_done").format(
            drugs=", ".join(run.params.pack.drug_name(t.drug) for t in prophylaxis), since=since, **shown),
            inputs=inputs, notes=notes)
    if days >= 7 * weeks:
        return check(run, meta, "missing", text("safety.pjp_missing").format(
            since=since, days=days, **shown), due=due, inputs=inputs, notes=notes)
    return check(run, meta, "due", text("safety.pjp_upcoming").format(
        since=since, due=due, **shown), due=due, inputs=inputs, notes=notes)


@rule("SAFETY-BONE")
def bone(run: RuleRun, meta: RuleMeta) -> SafetyCheck:
    ctx, params, therapy = run.ctx, run.params, run.therapy
    text = params.pack.text
    mg = exact(params.number("giop_glucocorticoid_mg"))
    if starting(run):
        return check(run, meta, "advice", text("safety.bone_advice").text)
    total, unknown = therapy.gc_on(ctx.as_of)
    if not unknown and total < mg:
        return check(run, meta, "not_applicable",
                     text("safety.bone_not_needed").format(mg=f"{float(mg):g}"))
    given = [e.treatment for e in therapy.gc if e.given_on(ctx.as_of)]
    protection = [t for t in ctx.treatments if t.drug in BONE_PROTECTION and t.active_on(ctx.as_of)]
    inputs = [ref_treatment(t) for t in given + protection]
    if any(t.drug == "calcium_vitamin_d" for t in protection):
        agents = [t.drug for t in protection if t.drug != "calcium_vitamin_d"]
        return check(run, meta, "done", text("safety.bone_done").format(
            agents=f" with {', '.join(map(params.pack.drug_name, agents))}" if agents else ""),
            inputs=inputs)
    dose = "(dose not recorded)" if unknown else f"{float(total):g} mg/day prednisone-equivalent"
    return check(run, meta, "missing", text("safety.bone_missing").format(dose=dose),
                 inputs=inputs)


@rule("SAFETY-VACCINATION")
def vaccination(run: RuleRun, meta: RuleMeta) -> SafetyCheck:
    if _off_therapy(run):
        return check(run, meta, "not_applicable", run.params.pack.text("safety.not_on_therapy").text)
    return check(run, meta, "advice", run.params.pack.text("safety.vaccination").text)


@rule("SAFETY-PREGNANCY")
def pregnancy(run: RuleRun, meta: RuleMeta) -> SafetyCheck:
    ctx, params = run.ctx, run.params
    text = params.pack.text
    low, high = params.settings.range("childbearing_age")
    note = params.interp_note("childbearing_age", f"childbearing age {low:g}–{high:g} years")
    age = ctx.age
    drugs = [d for d in _PREGNANCY_DRUGS
             if run.therapy.active_of((d,)) or d in _planned_drugs(run)]
    why = []
    if ctx.record.sex == "male":
        why.append("male")
    if age is not None and not low <= age <= high:
        why.append(f"age {age}")
    if not drugs:
        why.append("none of these agents active or planned")
    if why:
        return check(run, meta, "not_applicable", text("safety.pregnancy_not_applicable").format(
            why=", ".join(why)), notes=[note])
    details = ""
    if "methotrexate" in drugs:
        details += text("safety.pregnancy_methotrexate").format(
            months=f"{params.number('methotrexate_stop_before_conception_months'):g}",
            bsr=f"{params.number('methotrexate_stop_before_conception_bsr_months'):g}")
    if "mycophenolate_mofetil" in drugs:
        details += text("safety.pregnancy_mycophenolate").format(
            weeks=f"{params.number('mycophenolate_stop_before_conception_weeks'):g}")
    if "cyclophosphamide" in drugs:
        details += text("safety.pregnancy_cyclophosphamide").text
    caveats = [note]
    if ctx.record.sex in (None, "unknown", "other") or age is None:
        caveats.append(Note(kind="caveat", text="sex or age not recorded as excluding pregnancy: "
                            "shown if of childbearing potential"))
    return check(run, meta, "advice", text("safety.pregnancy").format(
        drugs=", ".join(map(params.pack.drug_name, drugs)), details=details),
        inputs=[ref_treatment(t) for t in run.therapy.active_of(drugs)], notes=caveats)

