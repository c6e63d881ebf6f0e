"""ACTION-*: the plan as actions relative to the current regimen (clinical-reference §13).

- ``start`` (phase ``untreated`` or ``stopped_active``): the §5.2 dual therapy;
- ``pulse``: IV methylprednisolone when the tier is severe_refractory and the current course had no
  pulse — within ``start``, or on therapy in phase ``refractory`` or ``induction``;
- ``add``: a steroid-sparing agent exactly when ALERT-DELAYED-IMMUNOSUPPRESSION (b) fires; a
  second-line agent when the tier is severe_refractory and none is active (same phases as pulse);
  only agents not already active;
- every active immunosuppressive agent gets exactly one of ``review_dose`` (a §14 check fired),
  ``taper`` (due) or ``continue``;
- ``surveillance`` off therapy without active disease.
Each (action, drug) appears once. The doses shown are this patient's (the options' doses are in
``treatment_plan.regimens``; children's doses for a child).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from myositis_cds.domain.record import LabResult, Treatment
from myositis_cds.domain.vocabulary import (
    GLUCOCORTICOIDS,
    SECOND_LINE_AGENTS,
    STEROID_SPARING_AGENTS,
)
from myositis_cds.engine.context import ref_lab, ref_treatment
from myositis_cds.engine.current_therapy import high_dose, severe_features, tis_at_least_minimal
from myositis_cds.engine.dose_checks import dose_checks
from myositis_cds.engine.plan import PLAN_RULES
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import (
    Action,
    ActionKind,
    Alert,
    CurrentTherapy,
    InputRef,
    Regimen,
    Severity,
    TisOutcome,
)
from myositis_cds.engine.therapy import GcEntry, exact, inactive_for_months
from myositis_cds.knowledge.pack import RuleMeta
from myositis_cds.scores.tis import TisResult

__all__ = ["ACTION_RULES", "TaperDecision", "taper_decision"]

ACTION_RULES = ("ACTION-REVIEW-DOSE", "ACTION-START", "ACTION-PULSE", "ACTION-ADD", "ACTION-TAPER",
                "ACTION-CONTINUE", "ACTION-SURVEILLANCE")
"""The order actions are listed in: what needs a decision now first."""
_START_PHASES = ("untreated", "stopped_active")
_ESCALATION_PHASES = ("refractory", "induction")
_PERIOD = {"daily": "day", "weekly": "week", "monthly": "month", "once": "dose", "course": "course"}


def _label(run: RuleRun, drug: str) -> str:
    return run.params.pack.drug_name(drug)


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _action(run: RuleRun, meta: RuleMeta, kind: ActionKind, *, drug: str | None, reason: str,
            dose: tuple[float | None, float | None, str | None] = (None, None, None),
            options: Sequence[str] = (), inputs: Sequence[InputRef] = (),
            citations: Sequence[str] = (),
            agent_class: Literal["steroid_sparing", "second_line"] | None = None) -> Action:
    cited = tuple(dict.fromkeys([*meta.citations, *citations]))
    return Action(action=kind, drug=drug, reason=reason, dose_min=dose[0], dose_max=dose[1],
                  unit=dose[2], options=tuple(options), agent_class=agent_class, rule_id=meta.id,
                  knowledge_version=run.params.version, citations=cited, inputs=tuple(inputs))


def _recorded(t: Treatment) -> tuple[float | None, float | None, str | None]:
    if t.dose is None or t.unit is None:
        return (None, None, None)
    period = _PERIOD.get(t.frequency or "")
    return (t.dose, t.dose, f"{t.unit}/{period}" if period else t.unit)


def _recorded_total(group: Sequence[Treatment], day: dt.date) -> tuple[float | None, float | None,
                                                                       str | None]:
    """The dose of one drug on ``day``: its entries given that day summed when they share unit and
    frequency (a split dose, §12.1), the latest entry's otherwise (e.g. only in an effect window)."""
    given = [t for t in group if t.active_on(day)]
    if len(given) < 2:
        return _recorded(given[0] if given else max(group, key=lambda t: t.start))
    doses = [_recorded(t) for t in given]
    if any(d[0] is None for d in doses) or len({d[2] for d in doses}) != 1:
        return (None, None, None)
    total = float(sum(exact(d[0]) for d in doses if d[0] is not None))
    return (total, total, doses[0][2])


def _dose_text(dose: tuple[float | None, float | None, str | None]) -> str:
    return "" if dose[0] is None else f" {dose[0]:g} {dose[2]}"


_SECOND_LINE_RULES = ("PLAN-IVIG", "PLAN-RITUXIMAB", "PLAN-CYCLOPHOSPHAMIDE", "PLAN-CYCLOSPORINE")


def _regimens(run: RuleRun, rule_ids: Sequence[str] = PLAN_RULES) -> dict[str, Regimen]:
    """The options offered by the PLAN-* rules ``rule_ids`` (rules the action requires)."""
    return {r.drug: r for rule_id in rule_ids if isinstance(r := run.output(rule_id), Regimen)}


def _regimen_dose(regimen: Regimen | None) -> tuple[float | None, float | None, str | None]:
    if regimen is None or regimen.status != "ok":
        return (None, None, None if regimen is None else regimen.unit)
    return (regimen.dose_min, regimen.dose_max, regimen.unit)


def _by_drug(entries: Sequence[Treatment]) -> dict[str, list[Treatment]]:
    grouped: dict[str, list[Treatment]] = {}
    for t in entries:
        grouped.setdefault(t.drug, []).append(t)
    return grouped


def _severe(run: RuleRun) -> Severity | None:
    severity = run.result("SEVERITY-TIER", Severity)
    return severity if severity.tier == "severe_refractory" else None


def _escalation_allowed(run: RuleRun) -> bool:
    phase = run.result("THERAPY-CURRENT", CurrentTherapy).phase
    return phase in _START_PHASES or phase in _ESCALATION_PHASES


# -- review_dose, taper, continue: one action per active agent ----------------------------------
@rule("ACTION-REVIEW-DOSE")
def review_dose(run: RuleRun, meta: RuleMeta) -> tuple[Action, ...]:
    found, _ = dose_checks(run)
    active = _by_drug(run.therapy.active_agents)
    actions: list[Action] = []
    for check in found:
        for drug in dict.fromkeys([check.drug, *(t.drug for t in check.entries)]):
            if drug in active and all(a.drug != drug for a in actions):
                actions.append(_action(run, meta, "review_dose", drug=drug,
                                       reason=run.params.pack.text("action.review_dose").format(
                                           drug=_label(run, drug), message=check.message),
                                       dose=_recorded_total(active[drug], run.ctx.as_of),
                                       inputs=[ref_treatment(t) for t in check.entries]))
    return tuple(actions)


@dataclass(frozen=True, slots=True)
class TaperDecision:
    """Why a glucocorticoid taper is due (§13)."""

    entries: tuple[Treatment, ...]
    since: dt.date
    basis: str
    ck: LabResult
    tis: TisResult


def taper_decision(run: RuleRun) -> TaperDecision | None:
    """A taper is due when ≥ the high dose has been given every day since a date more than
    ``taper_due_weeks`` ago, the latest TIS is at least minimal, the latest CK is ≤ ULN, no severe
    feature is present and the phase is not refractory; ``None`` otherwise."""
    ctx, params, therapy = run.ctx, run.params, run.therapy
    current = run.result("THERAPY-CURRENT", CurrentTherapy)
    outcome = run.result("RESPONSE-TIS", TisOutcome)
    if current.phase == "refractory" or severe_features(ctx):
        return None
    high, basis = high_dose(run)

    def high_daily(_mg: Fraction, _unknown: bool, entries: tuple[GcEntry, ...]) -> bool:
        daily = [e.per_day for e in entries if not e.pulse]
        return bool(daily) and None not in daily and sum(
            (d for d in daily if d is not None), Fraction(0)) >= high

    since = therapy.run_start(high_daily)
    if since is None or (ctx.as_of - since).days <= 7 * params.setting_int("taper_due_weeks"):
        return None
    if not tis_at_least_minimal(outcome, params):
        return None
    labs = ctx.labs_of("CK")
    ck = labs[-1] if labs else None
    if ck is None or ck.uln is None or ck.value > ck.uln:
        return None
    entries = tuple(e.treatment for e in therapy.gc if e.given_on(ctx.as_of) and not e.pulse)
    return TaperDecision(entries=entries, since=since, basis=basis, ck=ck, tis=outcome.result)


def _actions(run: RuleRun, rule_id: str) -> tuple[Action, ...]:
    value = run.output(rule_id)
    assert isinstance(value, tuple)
    return tuple(a for a in value if isinstance(a, Action))


@rule("ACTION-TAPER")
def taper(run: RuleRun, meta: RuleMeta) -> tuple[Action, ...]:
    decision = taper_decision(run)
    if decision is None:
        return ()
    reviewed = {a.drug for a in _actions(run, "ACTION-REVIEW-DOSE")}
    params, tis, ck = run.params, decision.tis, decision.ck
    response = (f"TIS {tis.score:g} ({tis.category})" if tis.score is not None and tis.category
                else f"TIS at least minimal ({tis.status})")
    inputs = [ref_lab(ck), *(ref_treatment(t) for t in decision.entries)]
    actions = []
    for drug, group in _by_drug(decision.entries).items():
        if drug in reviewed:
            continue
        reason = params.pack.text("action.taper").format(
            drug=_label(run, drug), dose=f"≥ {decision.basis} since {decision.since}",
            weeks=params.setting_int("taper_due_weeks"), response=response,
            ck=f"CK {ck.value:g} within normal limits (ULN {ck.uln:g}, {ck.date})")
        actions.append(_action(run, meta, "taper", drug=drug, reason=reason,
                               dose=_recorded_total(group, run.ctx.as_of), inputs=inputs))
    return tuple(actions)


@rule("ACTION-CONTINUE")
def continue_agents(run: RuleRun, meta: RuleMeta) -> tuple[Action, ...]:
    decided = {a.drug for rule_id in ("ACTION-REVIEW-DOSE", "ACTION-TAPER")
               for a in _actions(run, rule_id)}
    therapy, text = run.therapy, run.params.pack.text
    actions = []
    for drug, group in _by_drug(therapy.active_agents).items():
        if drug in decided:
            continue
        latest = max(group, key=lambda t: t.start)
        dose = _recorded_total(group, run.ctx.as_of)
        if therapy.in_effect_window_only(latest, run.ctx.as_of):
            reason = text("action.continue_window").format(
                drug=_first_upper(_label(run, drug)), last=latest.last_given,
                until=therapy.active_until(latest))
        else:
            reason = text("action.continue").format(
                drug=_label(run, drug), dose=_dose_text(dose), since=f" (since {latest.start})")
        actions.append(_action(run, meta, "continue", drug=drug, reason=reason, dose=dose,
                               inputs=[ref_treatment(t) for t in group]))
    return tuple(actions)


# -- start, pulse, add ---------------------------------------------------------------------------
@rule("ACTION-START")
def start(run: RuleRun, meta: RuleMeta) -> tuple[Action, ...]:
    current = run.result("THERAPY-CURRENT", CurrentTherapy)
    if current.phase not in _START_PHASES:
        return ()
    params, regimens = run.params, _regimens(run)
    taper_weeks = "–".join(f"{w:g}" for w in params.numbers("glucocorticoid_taper_weeks"))
    prednisone = regimens.get("prednisone")
    actions = [_action(
        run, meta, "start", drug="prednisone",
        reason=params.pack.text("action.start_glucocorticoid").format(taper=taper_weeks),
        dose=_regimen_dose(prednisone), citations=prednisone.citations if prednisone else ())]
    options = [d for d in sorted(STEROID_SPARING_AGENTS) if d in regimens]
    actions.append(_action(
        run, meta, "start", drug=None, options=options, agent_class="steroid_sparing",
        reason=params.pack.text("action.start_steroid_sparing").format(
            options=", ".join(_label(run, d) for d in options))))
    severity = run.result("SEVERITY-TIER", Severity)
    if severity.tier == "not_evaluable":
        note = params.pack.text("action.start_tier_unknown").format(
            reasons="; ".join(severity.reasons))
        actions[0] = _action(run, meta, "start", drug="prednisone",
                             reason=f"{actions[0].reason} {note}", dose=_regimen_dose(prednisone),
                             citations=prednisone.citations if prednisone else ())
    return tuple(actions)


def _pulse_given(run: RuleRun) -> bool:
    """A pulse in the current course (a restart after the course gap begins a new course)."""
    therapy = run.therapy
    current = run.result("THERAPY-CURRENT", CurrentTherapy)
    last = therapy.last_active_day
    if (current.phase == "stopped_active" and last is not None and inactive_for_months(
            last, run.ctx.as_of, run.params.setting_int("new_course_gap_months"))):
        return False
    return therapy.course_start is not None and therapy.pulse_days(therapy.course_start) > 0


@rule("ACTION-PULSE")
def pulse(run: RuleRun, meta: RuleMeta) -> tuple[Action, ...]:
    severe = _severe(run)
    if severe is None or not _escalation_allowed(run) or _pulse_given(run):
        return ()
    regimen = _regimens(run, ("PLAN-METHYLPREDNISOLONE-IV",)).get("methylprednisolone_iv")
    return (_action(run, meta, "pulse", drug="methylprednisolone_iv",
                    reason=run.params.pack.text("action.pulse").format(
                        reasons="; ".join(severe.reasons)),
                    dose=_regimen_dose(regimen), inputs=severe.inputs,
                    citations=regimen.citations if regimen else ()),)


@rule("ACTION-ADD")
def add(run: RuleRun, meta: RuleMeta) -> tuple[Action, ...]:
    therapy, text = run.therapy, run.params.pack.text
    active = {t.drug for t in therapy.active_agents}
    actions = []
    alert = run.output("ALERT-DELAYED-IMMUNOSUPPRESSION")
    if isinstance(alert, Alert) and therapy.active_agents:  # (b): a glucocorticoid alone
        options = [d for d in sorted(STEROID_SPARING_AGENTS) if d not in active]
        drugs = ", ".join(sorted({_label(run, t.drug) for t in therapy.active_of(GLUCOCORTICOIDS)}))
        names = ", ".join(_label(run, d) for d in options)
        actions.append(_action(run, meta, "add", drug=None, options=options,
                               agent_class="steroid_sparing",
                               reason=text("action.add_steroid_sparing").format(
                                   drugs=_first_upper(drugs), options=names),
                               inputs=alert.inputs))
    severe = _severe(run)
    if severe is not None and _escalation_allowed(run) and not (active & SECOND_LINE_AGENTS):
        options = [d for d in _regimens(run, _SECOND_LINE_RULES) if d not in active]
        if options:
            actions.append(_action(run, meta, "add", drug=None, options=options,
                                   agent_class="second_line",
                                   reason=text("action.add_second_line").format(
                                       reasons="; ".join(severe.reasons),
                                       options=", ".join(_label(run, d) for d in options)),
                                   inputs=severe.inputs))
    return tuple(actions)


# -- surveillance ------------------------------------------------------------------------------------
@rule("ACTION-SURVEILLANCE")
def surveillance(run: RuleRun, meta: RuleMeta) -> tuple[Action, ...]:
    current = run.result("THERAPY-CURRENT", CurrentTherapy)
    if current.course_start is None or run.therapy.active_agents or current.activity == "active":
        return ()
    text = run.params.pack.text
    reason = text("action.surveillance").format(phase=current.phase.replace("_", " "))
    if current.activity == "unknown":
        reason += " " + text("action.surveillance_unknown").format(
            missing=", ".join(current.activity_missing) or "a physician global, CK and skin "
            "examination")
    return (_action(run, meta, "surveillance", drug=None, reason=reason,
                    inputs=current.inputs),)



@rule("ALERT-TAPER-DUE")
def taper_due_alert(run: RuleRun, meta: RuleMeta) -> Alert | None:
    actions = _actions(run, "ACTION-TAPER")
    if not actions:
        return None
    text = run.params.pack.text("alert.taper_due")
    drugs = ", ".join(_label(run, a.drug or "") for a in actions)
    return Alert(id=meta.id, severity="info", title=meta.title,
                 message=text.format(drugs=drugs, weeks=run.params.setting_int("taper_due_weeks")),
                 rule_id=meta.id, knowledge_version=run.params.version, citations=meta.citations,
                 inputs=actions[0].inputs,
                 notes=(run.params.interp_note(
                     "taper_due_weeks", f"a taper is due after more than "
                     f"{run.params.setting_int('taper_due_weeks')} weeks at a high dose"),))
