"""SAFETY-MONITORING-BLOODS and ALERT-MONITORING-BLOODS-OVERDUE (clinical-reference §15, BSR-DMARD-2017).

For methotrexate, azathioprine and mycophenolate mofetil: an occasion every 14 days from the start
(or the last dose increase) until 42 days on a stable dose, then every 28 days three times, then
every 84 days; cyclosporine every 14 days until 3 months on a stable dose, then every 28 days (with
blood pressure and glucose). An occasion is met by a full blood count (wbc, neutrophils, platelets,
haemoglobin), creatinine, ALT or AST, and albumin, each dated within ``bloods_window_days`` of it;
one result set meets one occasion. More than that window after an unmet occasion the item is
``overdue``. Patients under 16 follow a paediatric protocol (no schedule here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from myositis_cds.domain.dates import add_months
from myositis_cds.domain.record import LabResult, Treatment
from myositis_cds.domain.vocabulary import LIVER_ENZYMES, MONITORING_BLOOD_TESTS
from myositis_cds.engine.context import PatientContext, ref_lab, ref_treatment
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import Alert, Note, SafetyCheck
from myositis_cds.engine.safety_companion import check, planned_actions, starting
from myositis_cds.engine.therapy import dose_mg
from myositis_cds.knowledge.pack import RuleMeta

__all__ = ["MONITORED_DRUGS", "Occasion", "monitoring_anchor", "occasions"]

MONITORED_DRUGS = ("methotrexate", "azathioprine", "mycophenolate_mofetil", "cyclosporine")
DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Occasion:
    due: dt.date
    met_by: tuple[LabResult, ...]
    """The results that met it (empty: unmet)."""


def monitoring_anchor(entries: Sequence[Treatment], drug: str, as_of: dt.date) -> dt.date | None:
    """The start of the current uninterrupted run of ``drug``, or its last dose increase in that
    run (a dose that cannot be compared with the previous one counts as a change)."""
    anchor: dt.date | None = None
    previous: Treatment | None = None
    run_end: dt.date | None = None  # last day given in the current run; None: ongoing
    for t in sorted((t for t in entries if t.drug == drug and t.start <= as_of),
                    key=lambda t: (t.start, t.index)):
        if previous is None or (run_end is not None and run_end < t.start - DAY):
            anchor, run_end = t.start, t.last_given
        else:
            before, now = dose_mg(previous), dose_mg(t)
            if before is None or now is None or previous.frequency != t.frequency or now > before:
                anchor = t.start
            last = t.last_given
            run_end = None if run_end is None or last is None else max(run_end, last)
        previous = t
    return anchor


def _schedule(drug: str, anchor: dt.date, until: dt.date, params: EngineParams) -> Iterator[dt.date]:
    """Occasion due dates from ``anchor`` up to the first one whose window opens after ``until``."""
    window = params.setting_int("bloods_window_days")
    initial = int(params.number("bloods_initial_interval_days"))
    monthly = int(params.number("bloods_monthly_interval_days"))
    if drug == "cyclosporine":
        initial_end = add_months(anchor, int(params.number("cyclosporine_bloods_initial_months")))
        steps: Iterator[int] = _cyclosporine_steps(anchor, initial_end, initial, monthly)
    else:
        steps = _dmard_steps(initial, int(params.number("bloods_initial_stable_days")), monthly,
                             int(params.number("bloods_monthly_count")),
                             int(params.number("bloods_maintenance_interval_days")))
    for offset in steps:
        day = anchor + dt.timedelta(days=offset)
        yield day
        if day - dt.timedelta(days=window) > until:
            return


def _dmard_steps(initial: int, stable: int, monthly: int, count: int,
                 maintenance: int) -> Iterator[int]:
    offset = 0
    while offset + initial <= stable:
        offset += initial
        yield offset
    for _ in range(count):
        offset += monthly
        yield offset
    while True:
        offset += maintenance
        yield offset


def _cyclosporine_steps(anchor: dt.date, initial_end: dt.date, initial: int,
                        monthly: int) -> Iterator[int]:
    offset = 0
    while anchor + dt.timedelta(days=offset + initial) <= initial_end:
        offset += initial
        yield offset
    while True:
        offset += monthly
        yield offset


_BLOODS = (*((test,) for test in MONITORING_BLOOD_TESTS), LIVER_ENZYMES)
"""What an occasion needs: each monitoring blood, and one of the liver enzymes."""


def occasions(ctx: PatientContext, params: EngineParams, drug: str,
              anchor: dt.date) -> list[Occasion]:
    """Every occasion up to the first after the assessment date, each met or not (§15)."""
    window = params.setting_int("bloods_window_days")
    schedule = _schedule(drug, anchor, ctx.as_of, params)
    if not all(any(ctx.labs_of(test) for test in tests) for tests in _BLOODS):
        return [Occasion(due=due, met_by=()) for due in schedule]  # a test never done: none met
    used: set[int] = set()
    found = []
    for due in schedule:
        chosen: list[LabResult] = []
        for tests in _BLOODS:
            best = _closest(ctx, tests, due, window, used)
            if best is None:
                chosen = []
                break
            chosen.append(best)
        if chosen:
            used.update(lab.index for lab in chosen)
        found.append(Occasion(due=due, met_by=tuple(chosen)))
    return found


def _closest(ctx: PatientContext, tests: tuple[str, ...], due: dt.date, window: int,
             used: set[int]) -> LabResult | None:
    candidates = [lab for test in tests for lab in ctx.labs_of(test)
                  if lab.index not in used and abs((lab.date - due).days) <= window]
    return min(candidates, key=lambda lab: (abs((lab.date - due).days), lab.date, lab.index),
               default=None)


def _label(run: RuleRun, drug: str) -> str:
    name = run.params.pack.drug_name(drug)
    return name[:1].upper() + name[1:]


def _item(run: RuleRun, meta: RuleMeta, drug: str) -> SafetyCheck:
    ctx, params = run.ctx, run.params
    text = params.pack.text
    caveat = Note(kind="caveat", text=text("safety.bloods_muscle_caveat").text,
                  citations=text("safety.bloods_muscle_caveat").citations)
    window = params.setting_int("bloods_window_days")
    note = params.interp_note("bloods_window_days", f"each blood test within {window} days of "
                              "an occasion")
    entries = [t for t in ctx.treatments if t.drug == drug]
    inputs = [ref_treatment(t) for t in run.therapy.active_of((drug,))]
    min_age = params.number("bloods_min_age")
    if ctx.age is not None and ctx.age < min_age:
        return check(run, meta, "advice", text("safety.bloods_paediatric").format(
            age=ctx.age, min_age=f"{min_age:g}", drug=params.pack.drug_name(drug)), drug=drug,
            inputs=inputs)
    anchor = monitoring_anchor(entries, drug, ctx.as_of)
    assert anchor is not None  # the drug is active
    found = occasions(ctx, params, drug, anchor)
    closed = [o for o in found if o.due + dt.timedelta(days=window) < ctx.as_of]
    open_now = [o for o in found if abs((o.due - ctx.as_of).days) <= window]
    upcoming = [o for o in found if o.due - dt.timedelta(days=window) > ctx.as_of]
    met = sum(1 for o in closed + open_now if o.met_by)
    total = len(closed) + len(open_now)
    extra = text("safety.bloods_cyclosporine").text if drug == "cyclosporine" else ""
    inputs += [ref_lab(lab) for o in closed[-1:] + open_now for lab in o.met_by]
    notes = [note, caveat]
    if ctx.age is None:
        notes.append(Note(kind="caveat", text="age unknown: the adult schedule is shown"))
    values = {"drug": _label(run, drug), "window": window, "met": met, "total": total, "extra": extra}
    if closed and not closed[-1].met_by:
        return check(run, meta, "overdue", text("safety.bloods_overdue").format(
            due=closed[-1].due, **values), severity="warning", due=closed[-1].due, drug=drug,
            inputs=inputs, notes=notes)
    pending = next((o for o in open_now if not o.met_by), None)
    if pending is not None:
        return check(run, meta, "due", text("safety.bloods_due").format(due=pending.due, **values),
                     due=pending.due, drug=drug, inputs=inputs, notes=notes)
    if not (closed or open_now):
        first = upcoming[0].due
        return check(run, meta, "due", text("safety.bloods_first_due").format(due=first, **values),
                     due=first, drug=drug, inputs=inputs, notes=notes)
    next_due = upcoming[0].due if upcoming else None
    return check(run, meta, "done", text("safety.bloods_done").format(due=next_due, **values),
                 due=next_due, drug=drug, inputs=inputs, notes=notes)


@rule("SAFETY-MONITORING-BLOODS")
def monitoring_bloods(run: RuleRun, meta: RuleMeta) -> tuple[SafetyCheck, ...]:
    params = run.params
    text = params.pack.text
    active = [d for d in MONITORED_DRUGS if run.therapy.active_of((d,))]
    if active:
        return tuple(_item(run, meta, drug) for drug in active)
    planned = sorted({d for a in planned_actions(run) for d in ((a.drug,) if a.drug else a.options)
                      if d in MONITORED_DRUGS})
    min_age = params.number("bloods_min_age")
    if starting(run) and planned and run.ctx.age is not None and run.ctx.age < min_age:
        return (check(run, meta, "advice", text("safety.bloods_paediatric").format(
            age=run.ctx.age, min_age=f"{min_age:g}",
            drug=", ".join(map(params.pack.drug_name, planned)))),)
    if starting(run) and planned:
        return (check(run, meta, "advice", text("safety.bloods_advice").format(
            drugs=", ".join(map(params.pack.drug_name, planned)),
            initial=f"{params.number('bloods_initial_interval_days'):g}",
            stable=f"{params.number('bloods_initial_stable_days'):g}",
            monthly=f"{params.number('bloods_monthly_interval_days'):g}",
            count=f"{params.number('bloods_monthly_count'):g}",
            maintenance=f"{params.number('bloods_maintenance_interval_days'):g}",
            csa_months=f"{params.number('cyclosporine_bloods_initial_months'):g}")),)
    return (check(run, meta, "not_applicable", text("safety.bloods_not_applicable").text),)


@rule("ALERT-MONITORING-BLOODS-OVERDUE")
def bloods_overdue(run: RuleRun, meta: RuleMeta) -> tuple[Alert, ...]:
    items = run.output("SAFETY-MONITORING-BLOODS")
    assert isinstance(items, tuple)
    text = run.params.pack.text("alert.bloods_overdue")
    return tuple(
        Alert(id=meta.id, severity="warning", title=meta.title,
              message=text.format(drug=_label(run, item.drug or ""), due=item.due),
              rule_id=meta.id, knowledge_version=run.params.version, citations=meta.citations,
              inputs=item.inputs, notes=item.notes, drug=item.drug)
        for item in items if isinstance(item, SafetyCheck) and item.status == "overdue")
