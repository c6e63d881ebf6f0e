"""ALERT-DOSE-CHECK: recorded doses against the pack's range for this patient (clinical-reference §14).

One alert per agent, at its highest severity: methotrexate recorded daily is critical
("methotrexate is weekly"); a dose above the range is a warning naming the dose, the weight or BSA
and the limit. Below-range doses are not flagged (a taper makes them normal). Children (age < 18
on the assessment date) are checked against the children's limits, and a drug without a children's
dose gets no numeric check. A dose that cannot be checked (no dose, a unit other than mg or g, an
unexpected frequency, weight or height missing) is listed as not evaluable, never passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Literal

from myositis_cds.domain.record import Treatment
from myositis_cds.engine.context import ref_measurement, ref_treatment
from myositis_cds.engine.current_therapy import children_dosing
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import Alert, InputRef, NotEvaluatedAlert
from myositis_cds.engine.therapy import dose_mg, exact
from myositis_cds.knowledge.pack import RuleMeta
from myositis_cds.scores.bsa import mosteller_bsa

__all__ = ["DoseCheck", "dose_checks"]

Severity = Literal["warning", "critical"]


@dataclass(frozen=True, slots=True)
class DoseCheck:
    drug: str
    severity: Severity
    message: str
    entries: tuple[Treatment, ...]
    measured: tuple[InputRef, ...] = ()


@dataclass(frozen=True, slots=True)
class _Unchecked:
    drug: str
    reason: str


def _fmt(value: Fraction | float) -> str:
    return f"{float(value):.4g}"


class _Checker:
    """The checks of one patient; ``found`` and ``unchecked`` collect the outcomes."""

    def __init__(self, run: RuleRun) -> None:
        self.run, self.ctx, self.params = run, run.ctx, run.params
        self.child = children_dosing(run.ctx, run.params)
        weight = run.ctx.weight
        height = run.ctx.height
        self.kg = exact(weight.weight_kg) if weight is not None and weight.weight_kg else None
        self.weight_ref = [ref_measurement(weight, "weight_kg")] if self.kg is not None and weight \
            else []
        self.bsa: Fraction | None = None
        if self.kg is not None and height is not None and height.height_cm and weight is not None:
            self.bsa = exact(mosteller_bsa(height_cm=height.height_cm, weight_kg=weight.weight_kg or 0))
            self.weight_ref.append(ref_measurement(height, "height_cm"))
        self.found: list[DoseCheck] = []
        self.unchecked: list[_Unchecked] = []
        self.groups: dict[str, tuple[Treatment, ...]] = {}
        """Drugs whose same-day entries were combined: the entries behind the total."""
        self.who = "children's" if self.child else "adult"

    def n(self, name: str) -> Fraction:
        return exact(self.params.number(name))

    def top(self, name: str) -> Fraction:
        return exact(self.params.numbers(name)[-1])

    def warn(self, drug: str, entries: tuple[Treatment, ...], text: str) -> None:
        entries = self.groups.get(drug, entries)
        self.found.append(DoseCheck(drug=drug, severity="warning", entries=entries,
                                    message=f"{text} ({self.who} range of this pack): review the dose.",
                                    measured=tuple(self.weight_ref)))

    def per_kg(self, drug: str, t: Treatment, mg: Fraction, limit: Fraction, unit: str) -> None:
        if self.kg is None:
            self.unchecked.append(_Unchecked(drug, f"{drug}: weight missing, {unit} not checked"))
        elif mg / self.kg > limit:
            self.warn(drug, (t,), f"{drug} {_fmt(mg)} mg = {_fmt(mg / self.kg)} {unit} for "
                                  f"{_fmt(self.kg)} kg, above {_fmt(limit)} {unit}")

    # -- the checks, one per drug ----------------------------------------------------------------
    def glucocorticoids(self) -> None:
        therapy, as_of = self.run.therapy, self.ctx.as_of
        given = [e for e in therapy.gc if e.given_on(as_of) and not e.pulse]
        if not given:
            return
        if any(e.per_day is None for e in given):
            self.unchecked.append(_Unchecked("glucocorticoid", "glucocorticoid dose not computable "
                                             "(dose, unit or frequency)"))
            return
        total = sum((e.per_day for e in given if e.per_day is not None), Fraction(0))
        per_kg = self.n("child_prednisone_mg_per_kg" if self.child else "prednisone_mg_per_kg")
        cap = self.n("child_prednisone_max_mg" if self.child else "prednisone_cap_high")
        over: list[str] = []
        if self.kg is not None and total / self.kg > per_kg:
            over.append(f"{_fmt(total / self.kg)} mg/kg/day for {_fmt(self.kg)} kg is above "
                        f"{_fmt(per_kg)} mg/kg/day")
        elif self.kg is None:
            self.unchecked.append(_Unchecked("glucocorticoid", "weight missing: glucocorticoid "
                                             "mg/kg/day not checked"))
        if total > cap:
            over.append(f"{_fmt(total)} mg/day is above {_fmt(cap)} mg/day")
        if over:
            entries = tuple(e.treatment for e in given)
            for drug in dict.fromkeys(t.drug for t in entries):
                self.warn(drug, entries, f"prednisone-equivalent {_fmt(total)} mg/day outside a "
                          f"pulse: {'; '.join(over)}")

    def methylprednisolone_iv(self, t: Treatment) -> None:
        entry = next(e for e in self.run.therapy.gc if e.treatment is t)
        if entry.per_day is None:
            self.unchecked.append(_Unchecked(t.drug, "methylprednisolone IV dose not computable"))
            return
        mg = entry.per_day / (exact(self.params.number("gc_equivalent_prednisone_mg"))
                              / exact(self.params.number("gc_equivalent_methylprednisolone_mg")))
        cap_g = self.n("child_methylprednisolone_iv_max_g" if self.child
                       else "methylprednisolone_iv_dose")
        if mg > cap_g * 1000:
            self.warn(t.drug, (t,), f"methylprednisolone IV {_fmt(mg)} mg/day is above "
                                    f"{_fmt(cap_g)} g/day")
        if self.child:
            self.per_kg(t.drug, t, mg, self.n("child_methylprednisolone_iv_mg_per_kg"), "mg/kg/day")

    def methotrexate(self, t: Treatment, mg: Fraction) -> None:
        if t.frequency == "daily":
            self.found.append(DoseCheck(drug=t.drug, severity="critical",
                                        entries=self.groups.get(t.drug, (t,)), message=(
                f"Methotrexate {_fmt(mg)} mg recorded daily: methotrexate is given once weekly — "
                "check the prescription now.")))
            return
        if t.frequency != "weekly":
            self.unchecked.append(_Unchecked(t.drug, f"methotrexate frequency {t.frequency} not "
                                             "checkable (expected weekly)"))
            return
        cap = self.n("child_methotrexate_max_mg") if self.child else self.top("methotrexate_dose")
        if mg > cap:
            self.warn(t.drug, (t,), f"methotrexate {_fmt(mg)} mg/week is above {_fmt(cap)} mg/week")
        if self.child:
            limit = self.top("child_methotrexate_mg_per_m2")
            if self.bsa is None:
                self.unchecked.append(_Unchecked(t.drug, "weight and height needed: methotrexate "
                                                 "mg/m² not checked"))
            elif mg / self.bsa > limit:
                self.warn(t.drug, (t,), f"methotrexate {_fmt(mg)} mg/week = {_fmt(mg / self.bsa)} "
                                        f"mg/m²/week for BSA {_fmt(self.bsa)} m², above "
                                        f"{_fmt(limit)} mg/m²/week")

    def adult_only(self, t: Treatment, mg: Fraction) -> None:
        """Drugs without a children's dose: adult ranges only (§14: no numeric check in a child)."""
        drug = t.drug
        if drug == "mycophenolate_mofetil":
            if self._frequency(t, ("daily",)) and mg / 1000 > self.top("mycophenolate_dose"):
                self.warn(drug, (t,), f"mycophenolate mofetil {_fmt(mg / 1000)} g/day is above "
                                      f"{_fmt(self.top('mycophenolate_dose'))} g/day")
        elif drug in ("azathioprine", "cyclosporine"):
            if self._frequency(t, ("daily",)):
                self.per_kg(drug, t, mg, self.top(f"{drug}_mg_per_kg"), "mg/kg/day")
        elif drug == "rituximab":
            if self._frequency(t, ("once", "daily", "weekly", "monthly")) and (
                    mg / 1000 > self.n("rituximab_dose")):
                self.warn(drug, (t,), f"rituximab {_fmt(mg / 1000)} g per dose is above "
                                      f"{_fmt(self.n('rituximab_dose'))} g per dose")
        elif drug == "cyclophosphamide" and self._frequency(t, ("once", "monthly")):
            limit = self.top("cyclophosphamide_mg_per_m2")
            if self.bsa is None:
                self.unchecked.append(_Unchecked(drug, "weight and height needed: "
                                                 "cyclophosphamide mg/m² not checked"))
            elif mg / self.bsa > limit:
                self.warn(drug, (t,), f"cyclophosphamide {_fmt(mg)} mg = {_fmt(mg / self.bsa)} "
                                      f"mg/m² for BSA {_fmt(self.bsa)} m², above {_fmt(limit)} mg/m²")

    def ivig(self, t: Treatment, mg: Fraction) -> None:
        if not self._frequency(t, ("once", "monthly", "course")):
            return
        limit = self.n("child_ivig_g_per_kg" if self.child else "ivig_g_per_kg")
        if self.kg is None:
            self.unchecked.append(_Unchecked(t.drug, "IVIG: weight missing, g/kg not checked"))
        elif mg / 1000 / self.kg > limit:
            self.warn(t.drug, (t,), f"IVIG {_fmt(mg / 1000)} g per course = "
                                    f"{_fmt(mg / 1000 / self.kg)} g/kg for {_fmt(self.kg)} kg, "
                                    f"above {_fmt(limit)} g/kg per course")

    def _frequency(self, t: Treatment, expected: tuple[str, ...]) -> bool:
        if t.frequency in expected:
            return True
        self.unchecked.append(_Unchecked(t.drug, f"{t.drug.replace('_', ' ')} frequency "
                                         f"{t.frequency or 'not recorded'} not checkable"))
        return False

    def _combined(self) -> list[Treatment]:
        """Active entries, with the entries of one drug given on the same day at the same
        frequency combined into one (a split dose is checked as its total)."""
        by_drug: dict[str, list[Treatment]] = {}
        for t in self.run.therapy.active_agents:
            by_drug.setdefault(t.drug, []).append(t)
        combined: list[Treatment] = []
        for drug, group in by_drug.items():
            given = [t for t in group if t.active_on(self.ctx.as_of)]
            doses = [dose_mg(t) for t in given]
            if (len(given) > 1 and drug != "methylprednisolone_iv" and None not in doses
                    and len({t.frequency for t in given}) == 1):
                total = sum((d for d in doses if d is not None), Fraction(0))
                combined.append(replace(given[0], dose=float(total), unit="mg"))
                self.groups[drug] = tuple(given)
            else:
                combined += group
        return combined

    def check(self) -> None:
        self.glucocorticoids()
        for t in self._combined():
            if t.drug == "methylprednisolone_iv":
                if t.active_on(self.ctx.as_of):
                    self.methylprednisolone_iv(t)
                continue
            if t.drug in ("prednisone", "prednisolone", "methylprednisolone", "tacrolimus"):
                continue  # glucocorticoids are checked together; tacrolimus has no range
            mg = dose_mg(t)
            if mg is None:
                self.unchecked.append(_Unchecked(t.drug, f"{t.drug.replace('_', ' ')}: dose in mg "
                                                 "or g not recorded"))
            elif t.drug == "methotrexate":
                self.methotrexate(t, mg)
            elif t.drug == "ivig":
                self.ivig(t, mg)
            elif not self.child:
                self.adult_only(t, mg)


def dose_checks(run: RuleRun) -> tuple[list[DoseCheck], list[str]]:
    """(one check per flagged agent at its highest severity, what could not be checked)."""
    checker = _Checker(run)
    checker.check()
    best: dict[str, DoseCheck] = {}
    for found in checker.found:
        kept = best.get(found.drug)
        if kept is None or (found.severity == "critical" and kept.severity != "critical"):
            best[found.drug] = found
    flagged = set(best)
    unchecked = list(dict.fromkeys(u.reason for u in checker.unchecked if u.drug not in flagged))
    return list(best.values()), unchecked


def _inputs(found: DoseCheck) -> Iterator[InputRef]:
    yield from (ref_treatment(t) for t in found.entries)
    yield from found.measured


@rule("ALERT-DOSE-CHECK")
def dose_check_alerts(run: RuleRun, meta: RuleMeta) -> tuple[Alert | NotEvaluatedAlert, ...]:
    found, unchecked = dose_checks(run)
    child = children_dosing(run.ctx, run.params)
    drop = ("MI2-SUMMARY",) if child else ("CARRA-JDM-2010", "SHARE-JDM-2017")
    citations = tuple(c for c in meta.citations if c not in drop)
    alerts: list[Alert | NotEvaluatedAlert] = [
        Alert(id=meta.id, severity=f.severity, title=meta.title, message=f.message,
              rule_id=meta.id, knowledge_version=run.params.version, citations=citations,
              inputs=tuple(_inputs(f)), drug=f.drug)
        for f in found]
    if unchecked:
        alerts.append(NotEvaluatedAlert(id=meta.id, reason="; ".join(unchecked)))
    return tuple(alerts)
