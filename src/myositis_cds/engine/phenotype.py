"""PHENOTYPE-ANTI-MI2: the anti-Mi-2 dermatomyositis profile (clinical-reference §2).

Applies to a dermatomyositis (adult, amyopathic or juvenile) with any positive Mi-2 result on or
before the assessment date; a later negative result means the titer normalised and the phenotype is
kept. The profile lists the patient's classic skin signs as present, absent or not recorded, the
cohort facts with their sources, and both messages: favourable skin and prognosis, more severe muscle
disease.
"""

from __future__ import annotations

from typing import Final, Literal

from myositis_cds.engine.context import PatientContext, ref_antibody, ref_finding
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import InputRef, Phenotype, PhenotypeFeature
from myositis_cds.knowledge.pack import RuleMeta

__all__ = ["evaluate_phenotype"]

_PATIENT_FEATURES: Final = (
    "gottron_papules", "heliotrope_rash", "v_sign", "shawl_sign", "periungual_changes",
    "proximal_weakness", "calcinosis", "ild", "fever",
)
"""Findings the profile reports as present, absent or not recorded (statements: pack texts)."""
_COHORT_FACTS: Final = ("uv_trigger", "muscle_severity", "malignancy", "course", "titers")
_SCREENING_ANTIBODIES: Final = ("TIF1-gamma", "NXP2")


def _status(ctx: PatientContext) -> tuple[Literal["applies", "not_applicable", "not_evaluable"],
                                          tuple[str, ...]]:
    results = ctx.mi2_results
    if ctx.diagnosis_name is None:
        return "not_evaluable", ("no diagnosis recorded",)
    if not ctx.is_dm:
        return "not_applicable", (f"diagnosis {ctx.diagnosis_name} is not a dermatomyositis",)
    if not results:
        return "not_evaluable", ("anti-Mi-2 never tested",)
    if ctx.mi2_ever_positive:
        first = next(a for a in results if a.result == "positive")
        reasons = [f"{ctx.diagnosis_name} with anti-{first.target} positive on {first.date}"]
        if ctx.mi2_normalised_since is not None:
            reasons.append(f"titer normalised on {ctx.mi2_normalised_since}; the phenotype is kept")
        return "applies", tuple(reasons)
    if all(a.result == "negative" for a in results):
        return "not_applicable", ("anti-Mi-2 negative: Mi-2-specific statements are not applied",)
    return "not_evaluable", ("anti-Mi-2 only borderline, never positive",)


@rule("PHENOTYPE-ANTI-MI2")
def evaluate_phenotype(run: RuleRun, meta: RuleMeta) -> Phenotype:
    ctx, pack = run.ctx, run.params.pack
    status, reasons = _status(ctx)
    inputs: list[InputRef] = [ref_antibody(a) for a in ctx.mi2_results]
    features: list[PhenotypeFeature] = []
    messages: tuple[str, ...] = ()
    if status == "applies":
        for code in _PATIENT_FEATURES:
            finding = ctx.finding(code)
            text = pack.text(f"phenotype.{code}")
            if finding is not None:
                inputs.append(ref_finding(finding))
            features.append(PhenotypeFeature(
                id=code, statement=text.text,
                status="not_recorded" if finding is None else (
                    "present" if finding.present else "absent"),
                citations=text.citations, date=finding.date if finding else None))
        copositive = [a for target in _SCREENING_ANTIBODIES for a in ctx.antibody_results(target)
                      if a.result == "positive"]
        targets = "/".join(dict.fromkeys(a.target for a in copositive))
        inputs += [ref_antibody(a) for a in copositive]
        for fact in _COHORT_FACTS:
            key = "malignancy_copositive" if fact == "malignancy" and copositive else fact
            text = pack.text(f"phenotype.{key}")
            features.append(PhenotypeFeature(id=fact, statement=text.format(targets=targets),
                                             status="expected", citations=text.citations))
        favourable = pack.text("phenotype.message_favourable_copositive" if copositive
                               else "phenotype.message_favourable")
        messages = (favourable.format(targets=targets), pack.text("phenotype.message_muscle").text)
    return Phenotype(
        status=status,
        reasons=reasons,
        features=tuple(features),
        messages=messages,
        rule_id=meta.id,
        knowledge_version=run.params.version,
        citations=meta.citations,
        inputs=tuple(inputs),
    )
