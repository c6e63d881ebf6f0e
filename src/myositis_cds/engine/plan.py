"""PLAN-* and SAFETY-*: regimens with exact doses, [NOTE]s and safety considerations (§5).

Doses are computed in :class:`decimal.Decimal` from the recorded weight (latest on or before the
assessment date) so that 3 mg/kg × 68.3 kg is exactly 204.9 mg; rounding is for display only.
Without a weight a weight-based dose is ``not_evaluable`` and shows its per-kg rule. The
non-severe tier offers prednisone plus one steroid-sparing agent; the severe/refractory tier the IV
pulse plus a second-line agent (cyclophosphamide only with ILD). A ``not_evaluable`` tier shows both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Final, Literal

from myositis_cds.domain.vocabulary import GLUCOCORTICOIDS
from myositis_cds.engine.context import ref_finding, ref_measurement, ref_treatment
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import InputRef, Note, Regimen, SafetyItem, Severity
from myositis_cds.knowledge.pack import RuleMeta
from myositis_cds.scores.bsa import mosteller_bsa

__all__ = ["PLAN_RULES"]

Tier = Literal["non_severe", "severe_refractory"]
Role = Literal["glucocorticoid", "steroid_sparing", "glucocorticoid_pulse", "second_line"]

PLAN_RULES: Final = (
    "PLAN-PREDNISONE", "PLAN-METHOTREXATE", "PLAN-AZATHIOPRINE", "PLAN-MYCOPHENOLATE",
    "PLAN-METHYLPREDNISOLONE-IV", "PLAN-IVIG", "PLAN-RITUXIMAB", "PLAN-CYCLOPHOSPHAMIDE",
    "PLAN-CYCLOSPORINE",
)


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def _fmt(values: Sequence[float]) -> str:
    return "–".join(f"{v:g}" for v in values)


def _offered(run: RuleRun, tier: Tier) -> bool:
    severity = run.results["SEVERITY-TIER"]
    assert isinstance(severity, Severity)
    return severity.tier in (tier, "not_evaluable")


def _regimen(run: RuleRun, meta: RuleMeta, *, drug: str, role: Role, tier: Tier,
             dose: tuple[float, float] | None, unit: str, basis: str, schedule: str,
             reason: str | None = None, inputs: Sequence[InputRef] = (),
             notes: Sequence[Note] = (), safety: Sequence[str] = ()) -> Regimen:
    items = tuple(item for s in safety if isinstance(item := run.results.get(s), SafetyItem))
    return Regimen(
        drug=drug, role=role, tier=tier,
        dose_min=dose[0] if dose else None, dose_max=dose[1] if dose else None,
        unit=unit, basis=basis, schedule=schedule,
        status="ok" if dose else "not_evaluable", reason=None if dose else reason,
        notes=tuple(notes), safety=items, rule_id=meta.id, knowledge_version=run.params.version,
        citations=meta.citations, inputs=tuple(inputs),
    )


def _per_kg(run: RuleRun, per_kg: Sequence[float]) -> tuple[tuple[float, float] | None,
                                                             list[InputRef]]:
    weight = run.ctx.weight
    if weight is None or weight.weight_kg is None:
        return None, []
    kg = _dec(weight.weight_kg)
    low, high = (_dec(v) * kg for v in (per_kg[0], per_kg[-1]))
    return (float(low), float(high)), [ref_measurement(weight, "weight_kg")]


def _note(text: str, citations: tuple[str, ...]) -> Note:
    return Note(kind="note", text=text, citations=citations)


@rule("PLAN-PREDNISONE")
def prednisone(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "non_severe"):
        return None
    p = run.params
    per_kg = p.number("prednisone_mg_per_kg")
    low_cap, high_cap = p.number("prednisone_cap_low"), p.number("prednisone_cap_high")
    dose, inputs = _per_kg(run, (per_kg,))
    if dose is not None:
        dose = (min(dose[0], low_cap), min(dose[1], high_cap))
    taper = _fmt(p.numbers("glucocorticoid_taper_weeks"))
    return _regimen(
        run, meta, drug="prednisone", role="glucocorticoid", tier="non_severe", dose=dose,
        unit="mg/day", basis=f"{per_kg:g} mg/kg/day, max {low_cap:g}-{high_cap:g} mg/day",
        schedule=f"daily, with a steroid-sparing agent from the start; taper after {taper} weeks "
                 "according to clinical response and CK normalisation",
        reason="weight missing", inputs=inputs,
        notes=[_note(f"[NOTE] a 2019 review allows up to {p.number('prednisone_cap_review'):g} "
                     "mg/day; the seed protocol's maximum is used", ("JTA-2019",))],
        safety=("SAFETY-PJP-PROPHYLAXIS", "SAFETY-GIOP"),
    )


@rule("PLAN-METHOTREXATE")
def methotrexate(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "non_severe"):
        return None
    low, high = run.params.numbers("methotrexate_dose")
    return _regimen(run, meta, drug="methotrexate", role="steroid_sparing", tier="non_severe",
                    dose=(low, high), unit="mg/week", basis=f"{low:g}-{high:g} mg once weekly",
                    schedule="once weekly, oral or subcutaneous",
                    safety=("SAFETY-METHOTREXATE-FOLATE",))


@rule("PLAN-AZATHIOPRINE")
def azathioprine(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "non_severe"):
        return None
    per_kg = run.params.numbers("azathioprine_mg_per_kg")
    dose, inputs = _per_kg(run, per_kg)
    return _regimen(run, meta, drug="azathioprine", role="steroid_sparing", tier="non_severe",
                    dose=dose, unit="mg/day", basis=f"{_fmt(per_kg)} mg/kg/day",
                    schedule="daily", reason="weight missing", inputs=inputs,
                    safety=("SAFETY-AZATHIOPRINE-TPMT",))


@rule("PLAN-MYCOPHENOLATE")
def mycophenolate(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "non_severe"):
        return None
    low, high = run.params.numbers("mycophenolate_dose")
    return _regimen(run, meta, drug="mycophenolate_mofetil", role="steroid_sparing",
                    tier="non_severe", dose=(low, high), unit="g/day",
                    basis=f"{low:g}-{high:g} g/day", schedule="daily, in divided doses")


@rule("PLAN-METHYLPREDNISOLONE-IV")
def methylprednisolone_iv(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "severe_refractory"):
        return None
    dose = run.params.number("methylprednisolone_iv_dose")
    days = _fmt(run.params.numbers("methylprednisolone_iv_days"))
    return _regimen(run, meta, drug="methylprednisolone_iv", role="glucocorticoid_pulse",
                    tier="severe_refractory", dose=(dose, dose), unit="g/day",
                    basis=f"{dose:g} g IV daily for {days} days",
                    schedule=f"IV daily for {days} days, then add a second-line agent")


@rule("PLAN-IVIG")
def ivig(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "severe_refractory"):
        return None
    per_kg = run.params.number("ivig_g_per_kg")
    dose, inputs = _per_kg(run, (per_kg,))
    days = _fmt(run.params.numbers("ivig_course_days"))
    return _regimen(run, meta, drug="ivig", role="second_line", tier="severe_refractory",
                    dose=dose, unit="g/course", basis=f"{per_kg:g} g/kg per course",
                    schedule=f"divided over {days} days, monthly", reason="weight missing",
                    inputs=inputs, safety=("SAFETY-IVIG-IGA",))


@rule("PLAN-RITUXIMAB")
def rituximab(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "severe_refractory"):
        return None
    dose = run.params.number("rituximab_dose")
    first, second = run.params.numbers("rituximab_days")
    return _regimen(run, meta, drug="rituximab", role="second_line", tier="severe_refractory",
                    dose=(dose, dose), unit="g/dose", basis=f"{dose:g} g IV per dose",
                    schedule=f"IV on days {first:g} and {second:g}",
                    safety=("SAFETY-RITUXIMAB-HBV",))


@rule("PLAN-CYCLOPHOSPHAMIDE")
def cyclophosphamide(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    ctx = run.ctx
    ild = ctx.finding("ild")
    if not _offered(run, "severe_refractory") or ild is None or not ild.present:
        return None
    low, high = run.params.numbers("cyclophosphamide_mg_per_m2")
    inputs = [ref_finding(ild)]
    weight, height = ctx.weight, ctx.height
    dose: tuple[float, float] | None = None
    reason = "weight and height needed for body-surface area: " + ", ".join(
        name for name, m in (("weight", weight), ("height", height)) if m is None)
    if weight is not None and height is not None and weight.weight_kg and height.height_cm:
        bsa = _dec(mosteller_bsa(height_cm=height.height_cm, weight_kg=weight.weight_kg))
        dose = (float(_dec(low) * bsa), float(_dec(high) * bsa))
        inputs += [ref_measurement(weight, "weight_kg"), ref_measurement(height, "height_cm")]
        reason = ""
    review = _fmt(run.params.numbers("cyclophosphamide_review_g_per_m2"))
    return _regimen(run, meta, drug="cyclophosphamide", role="second_line",
                    tier="severe_refractory", dose=dose, unit="mg/month",
                    basis=f"{low:g}-{high:g} mg/m² monthly × BSA (Mosteller), with ILD",
                    schedule="IV monthly", reason=reason, inputs=inputs,
                    notes=[_note(f"[NOTE] reviews give {review} g/m² monthly; the seed protocol's "
                                 "range is used", ("MYOSITIS-CDS-REF",))])


@rule("PLAN-CYCLOSPORINE")
def cyclosporine(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "severe_refractory"):
        return None
    per_kg = run.params.numbers("cyclosporine_mg_per_kg")
    dose, inputs = _per_kg(run, per_kg)
    review = run.params.number("cyclosporine_review_max_mg_per_kg")
    return _regimen(run, meta, drug="cyclosporine", role="second_line", tier="severe_refractory",
                    dose=dose, unit="mg/day", basis=f"{_fmt(per_kg)} mg/kg/day", schedule="daily",
                    reason="weight missing", inputs=inputs,
                    notes=[_note(f"[NOTE] reviews give up to {review:g} mg/kg/day",
                                 ("MYOSITIS-CDS-REF",))])


# -- safety considerations (§5.5): information shown with the drug -------------------------------

def _safety(meta: RuleMeta, message: str) -> SafetyItem:
    return SafetyItem(rule_id=meta.id, severity="info", message=message, citations=meta.citations)


def _glucocorticoid_exposure(run: RuleRun, min_mg: float, since: dt.date,
                             drugs: frozenset[str]) -> str | None:
    """A current daily oral glucocorticoid of at least ``min_mg`` started on or before ``since``."""
    for t in run.ctx.treatments_of(drugs):
        if (t.active_on(run.ctx.as_of) and t.start <= since and t.dose is not None
                and t.unit == "mg" and t.frequency == "daily" and t.dose >= min_mg):
            ref = ref_treatment(t)
            return f"met now: {t.drug} {t.dose:g} mg daily since {t.start} ({ref.source})"
    return None


@rule("SAFETY-PJP-PROPHYLAXIS")
def pjp(run: RuleRun, meta: RuleMeta) -> SafetyItem:
    mg, weeks = run.params.number("pjp_prednisone_mg"), run.params.number("pjp_weeks")
    since = run.ctx.as_of - dt.timedelta(weeks=weeks)
    met = _glucocorticoid_exposure(run, mg, since, frozenset({"prednisone", "prednisolone"}))
    text = f"Prednisone ≥ {mg:g} mg/day for ≥ {weeks:g} weeks: consider Pneumocystis prophylaxis."
    return _safety(meta, f"{text} ({met})" if met else text)


@rule("SAFETY-GIOP")
def giop(run: RuleRun, meta: RuleMeta) -> SafetyItem:
    from myositis_cds.domain.dates import add_months  # noqa: PLC0415 - local helper import

    mg, months = run.params.number("giop_glucocorticoid_mg"), run.params.number("giop_months")
    since = add_months(run.ctx.as_of, -int(months)) - dt.timedelta(days=1)
    met = _glucocorticoid_exposure(run, mg, since, GLUCOCORTICOIDS - {"methylprednisolone_iv"})
    text = (f"Glucocorticoids ≥ {mg:g} mg/day for > {months:g} months: calcium, vitamin D and "
            "fracture-risk assessment.")
    return _safety(meta, f"{text} ({met})" if met else text)


@rule("SAFETY-RITUXIMAB-HBV")
def rituximab_hbv(run: RuleRun, meta: RuleMeta) -> SafetyItem:
    return _safety(meta, "Hepatitis B screening (HBsAg, anti-HBc) before the first dose.")


@rule("SAFETY-AZATHIOPRINE-TPMT")
def azathioprine_tpmt(run: RuleRun, meta: RuleMeta) -> SafetyItem:
    return _safety(meta, "TPMT (and NUDT15 where available) testing recommended before starting.")


@rule("SAFETY-METHOTREXATE-FOLATE")
def methotrexate_folate(run: RuleRun, meta: RuleMeta) -> SafetyItem:
    return _safety(meta, "Give folic acid with methotrexate.")


@rule("SAFETY-IVIG-IGA")
def ivig_iga(run: RuleRun, meta: RuleMeta) -> SafetyItem:
    return _safety(meta, "An IgA level may be considered before IVIG.")
