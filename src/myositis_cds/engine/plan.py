"""PLAN-* and SAFETY-*: the option tables with exact doses, [NOTE]s and safety considerations (§5, §14).

Doses are computed in :class:`decimal.Decimal` from the recorded weight (latest on or before the
assessment date) so that 3 mg/kg × 68.3 kg is exactly 204.9 mg; rounding is for display only.
Without a weight a weight-based dose is ``not_evaluable`` and shows its per-kg rule. The
non-severe tier offers prednisone plus one steroid-sparing agent; the severe/refractory tier the IV
pulse plus a second-line agent (cyclophosphamide only with ILD). A ``not_evaluable`` tier shows both.
Children (age < 18 on the assessment date) get the CARRA/SHARE doses, and no number where the pack
has none (§14). In drug-free remission there are no options (§13).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final, Literal

from myositis_cds.engine.context import ref_finding, ref_measurement
from myositis_cds.engine.current_therapy import children_dosing
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import (
    CurrentTherapy,
    InputRef,
    Note,
    Regimen,
    SafetyItem,
    Severity,
)
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
    """The options of ``tier``: for the patient's severity tier (both when it is not evaluable),
    none in drug-free remission, and the §5.2 dual therapy whenever a start is the plan (§13)."""
    severity = run.result("SEVERITY-TIER", Severity)
    phase = run.result("THERAPY-CURRENT", CurrentTherapy).phase
    if phase == "drug_free_remission":
        return False
    if tier == "non_severe" and phase in ("untreated", "stopped_active"):
        return True
    return severity.tier in (tier, "not_evaluable")


def _child(run: RuleRun) -> bool:
    return children_dosing(run.ctx, run.params)


def _no_child_dose(run: RuleRun, meta: RuleMeta, *, drug: str, role: Role, tier: Tier, unit: str,
                   schedule: str, safety: Sequence[str] = ()) -> Regimen:
    """§14: a drug without a children's dose in this pack is shown with no number."""
    text = run.params.pack.text("children.no_dose")
    return _regimen(run, meta, drug=drug, role=role, tier=tier, dose=None, unit=unit,
                    basis="no children's dose in this pack", schedule=schedule,
                    reason=text.format(drug=run.params.pack.drug_name(drug)), safety=safety,
                    citations=text.citations, dose_in_pack=False)


def _bsa(run: RuleRun) -> tuple[Decimal | None, list[InputRef], str]:
    """Body-surface area (Mosteller) from the latest weight and height, with what is missing."""
    weight, height = run.ctx.weight, run.ctx.height
    missing = [name for name, m in (("weight", weight), ("height", height)) if m is None]
    if weight is None or height is None or not weight.weight_kg or not height.height_cm:
        return None, [], "weight and height needed for body-surface area: " + ", ".join(missing)
    bsa = _dec(mosteller_bsa(height_cm=height.height_cm, weight_kg=weight.weight_kg))
    return bsa, [ref_measurement(weight, "weight_kg"), ref_measurement(height, "height_cm")], ""


def _regimen(run: RuleRun, meta: RuleMeta, *, drug: str, role: Role, tier: Tier,
             dose: tuple[float, float] | None, unit: str, basis: str, schedule: str,
             reason: str | None = None, inputs: Sequence[InputRef] = (),
             notes: Sequence[Note] = (), safety: Sequence[str] = (),
             citations: tuple[str, ...] | None = None, dose_in_pack: bool = True) -> Regimen:
    items = tuple(item for s in safety if isinstance(item := run.output(s), SafetyItem))
    return Regimen(
        drug=drug, role=role, tier=tier,
        dose_min=dose[0] if dose else None, dose_max=dose[1] if dose else None,
        unit=unit, basis=basis, schedule=schedule,
        status="ok" if dose else "not_evaluable", reason=None if dose else reason,
        notes=tuple(notes), safety=items, rule_id=meta.id, knowledge_version=run.params.version,
        citations=_adult_citations(meta) if citations is None else citations, inputs=tuple(inputs),
        dose_in_pack=dose_in_pack,
    )


_CHILD_SOURCES = frozenset({"CARRA-JDM-2010", "SHARE-JDM-2017"})


def _adult_citations(meta: RuleMeta) -> tuple[str, ...]:
    """A rule's citations without the children's dosing sources (they cite only a child's dose)."""
    return tuple(c for c in meta.citations if c not in _CHILD_SOURCES)


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
    taper = _fmt(p.numbers("glucocorticoid_taper_weeks"))
    notes: list[Note] = []
    citations: tuple[str, ...] | None = None
    if _child(run):
        per_kg = p.number("child_prednisone_mg_per_kg")
        low_cap = high_cap = p.number("child_prednisone_max_mg")
        basis = f"{per_kg:g} mg/kg/day, max {high_cap:g} mg/day (children)"
        citations = ("CARRA-JDM-2010",)
    else:
        per_kg = p.number("prednisone_mg_per_kg")
        low_cap, high_cap = p.number("prednisone_cap_low"), p.number("prednisone_cap_high")
        basis = f"{per_kg:g} mg/kg/day, max {low_cap:g}-{high_cap:g} mg/day"
        notes.append(_note(f"[NOTE] a 2019 review allows up to "
                           f"{p.number('prednisone_cap_review'):g} mg/day; the seed protocol's "
                           "maximum is used", ("JTA-2019",)))
    dose, inputs = _per_kg(run, (per_kg,))
    if dose is not None:
        dose = (min(dose[0], low_cap), min(dose[1], high_cap))
    return _regimen(
        run, meta, drug="prednisone", role="glucocorticoid", tier="non_severe", dose=dose,
        unit="mg/day", basis=basis,
        schedule=f"daily, with a steroid-sparing agent from the start; taper after {taper} weeks "
                 "according to clinical response and CK normalisation",
        reason="weight missing", inputs=inputs, notes=notes, citations=citations,
        safety=("SAFETY-PJP-PROPHYLAXIS", "SAFETY-GIOP"),
    )


@rule("PLAN-METHOTREXATE")
def methotrexate(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "non_severe"):
        return None
    if _child(run):
        p = run.params
        per_m2, cap = p.numbers("child_methotrexate_mg_per_m2"), p.number("child_methotrexate_max_mg")
        bsa, inputs, reason = _bsa(run)
        dose = None if bsa is None else (min(float(_dec(per_m2[0]) * bsa), cap),
                                          min(float(_dec(per_m2[-1]) * bsa), cap))
        return _regimen(run, meta, drug="methotrexate", role="steroid_sparing", tier="non_severe",
                        dose=dose, unit="mg/week",
                        basis=f"{_fmt(per_m2)} mg/m²/week × BSA (Mosteller), max {cap:g} mg/week "
                              "(children)",
                        schedule="once weekly, preferably subcutaneous", reason=reason,
                        inputs=inputs, citations=("SHARE-JDM-2017", "MOSTELLER-1987"),
                        safety=("SAFETY-METHOTREXATE-FOLATE",))
    low, high = run.params.numbers("methotrexate_dose")
    return _regimen(run, meta, drug="methotrexate", role="steroid_sparing", tier="non_severe",
                    dose=(low, high), unit="mg/week", basis=f"{low:g}-{high:g} mg once weekly",
                    schedule="once weekly, oral or subcutaneous",
                    safety=("SAFETY-METHOTREXATE-FOLATE",), citations=("MI2-SUMMARY",))


@rule("PLAN-AZATHIOPRINE")
def azathioprine(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "non_severe"):
        return None
    if _child(run):
        return _no_child_dose(run, meta, drug="azathioprine", role="steroid_sparing",
                              tier="non_severe", unit="mg/day", schedule="daily",
                              safety=("SAFETY-AZATHIOPRINE-TPMT",))
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
    if _child(run):
        return _no_child_dose(run, meta, drug="mycophenolate_mofetil", role="steroid_sparing",
                              tier="non_severe", unit="g/day", schedule="daily, in divided doses")
    low, high = run.params.numbers("mycophenolate_dose")
    return _regimen(run, meta, drug="mycophenolate_mofetil", role="steroid_sparing",
                    tier="non_severe", dose=(low, high), unit="g/day",
                    basis=f"{low:g}-{high:g} g/day", schedule="daily, in divided doses")


@rule("PLAN-METHYLPREDNISOLONE-IV")
def methylprednisolone_iv(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "severe_refractory"):
        return None
    if _child(run):
        p = run.params
        per_kg = p.number("child_methylprednisolone_iv_mg_per_kg")
        cap, days_child = p.number("child_methylprednisolone_iv_max_g"), p.number(
            "child_methylprednisolone_iv_days")
        per_day, inputs = _per_kg(run, (per_kg,))
        dose_g = None if per_day is None else (
            min(float(_dec(per_day[0]) / 1000), cap), min(float(_dec(per_day[1]) / 1000), cap))
        return _regimen(run, meta, drug="methylprednisolone_iv", role="glucocorticoid_pulse",
                        tier="severe_refractory", dose=dose_g, unit="g/day",
                        basis=f"{per_kg:g} mg/kg/day, max {cap:g} g, for {days_child:g} days "
                              "(children)",
                        schedule=f"IV daily for {days_child:g} days, then add a second-line agent",
                        reason="weight missing", inputs=inputs, citations=("CARRA-JDM-2010",))
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
    child = _child(run)
    per_kg = run.params.number("child_ivig_g_per_kg" if child else "ivig_g_per_kg")
    dose, inputs = _per_kg(run, (per_kg,))
    days = _fmt(run.params.numbers("ivig_course_days"))
    return _regimen(run, meta, drug="ivig", role="second_line", tier="severe_refractory",
                    dose=dose, unit="g/course",
                    basis=f"{per_kg:g} g/kg per course" + (" (children)" if child else ""),
                    schedule=f"divided over {days} days, monthly", reason="weight missing",
                    inputs=inputs, safety=("SAFETY-IVIG-IGA",),
                    citations=("CARRA-JDM-2010",) if child else None)


@rule("PLAN-RITUXIMAB")
def rituximab(run: RuleRun, meta: RuleMeta) -> Regimen | None:
    if not _offered(run, "severe_refractory"):
        return None
    if _child(run):
        return _no_child_dose(run, meta, drug="rituximab", role="second_line",
                              tier="severe_refractory", unit="g/dose", schedule="IV",
                              safety=("SAFETY-RITUXIMAB-HBV",))
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
    if _child(run):
        return _no_child_dose(run, meta, drug="cyclophosphamide", role="second_line",
                              tier="severe_refractory", unit="mg/month", schedule="IV monthly")
    low, high = run.params.numbers("cyclophosphamide_mg_per_m2")
    bsa, measured, reason = _bsa(run)
    inputs = [ref_finding(ild), *measured]
    dose = None if bsa is None else (float(_dec(low) * bsa), float(_dec(high) * bsa))
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
    if _child(run):
        return _no_child_dose(run, meta, drug="cyclosporine", role="second_line",
                              tier="severe_refractory", unit="mg/day", schedule="daily")
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


@rule("SAFETY-PJP-PROPHYLAXIS")
def pjp(run: RuleRun, meta: RuleMeta) -> SafetyItem:
    mg, weeks = run.params.number("pjp_prednisone_mg"), run.params.number("pjp_weeks")
    return _safety(meta, f"Prednisone ≥ {mg:g} mg/day for ≥ {weeks:g} weeks: consider Pneumocystis "
                   "prophylaxis (this patient's exposure: see the safety items).")


@rule("SAFETY-GIOP")
def giop(run: RuleRun, meta: RuleMeta) -> SafetyItem:
    mg, months = run.params.number("giop_glucocorticoid_mg"), run.params.number("giop_months")
    return _safety(meta, f"Glucocorticoids ≥ {mg:g} mg/day for > {months:g} months: calcium, "
                   "vitamin D and fracture-risk assessment (this patient's exposure: see the safety "
                   "items).")


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
