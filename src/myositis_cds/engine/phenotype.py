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

# (feature id, finding code or None for a cohort fact, statement, citations)
_PATIENT_FEATURES: Final = (
    ("gottron_papules", "Gottron papules", ("MI2-SUMMARY",)),
    ("heliotrope_rash", "Heliotrope rash with periorbital oedema", ("MI2-SUMMARY",)),
    ("v_sign", "V-sign", ("MI2-SUMMARY",)),
    ("shawl_sign", "Shawl sign (60% in anti-Mi-2-positive vs 35.6% in Mi-2-negative DM)",
     ("EJD2020",)),
    ("periungual_changes", "Cuticle overgrowth and periungual telangiectasia", ("MI2-SUMMARY",)),
    ("proximal_weakness",
     "Muscle weakness: 60% at onset and 98% during follow-up vs 85% in Mi-2-negative DM "
     "(p=0.008); symmetric proximal weakness 77.5%", ("PF2019", "EJD2020")),
    ("calcinosis", "Calcinosis less common: 9% vs 28% in Mi-2-negative DM (p=0.003)", ("PF2019",)),
    ("ild", "Interstitial lung disease less common: 5% vs 16% (p=0.04) in PF2019; 37.5% vs 60.9% "
     "in EJD2020", ("PF2019", "EJD2020")),
    ("fever", "Fever less common: 7% vs 21% in Mi-2-negative DM (p=0.02)", ("PF2019",)),
)
_COHORT_FACTS: Final = (
    ("uv_trigger", "Ultraviolet exposure may trigger onset", ("MI2-SUMMARY",)),
    ("muscle_severity", "Weaker and higher CK than Mi-2-negative DM or antisynthetase syndrome; "
     "biopsies with prominent necrosis", ("PF2019",)),
    ("malignancy", "Malignancy 0% vs 12% in Mi-2-negative DM", ("EJD2020",)),
    ("course", "97% clinical remission, 61.5% monocyclic course, lower mortality", ("EJD2020",)),
    ("titers", "Titers fall with treatment and may normalise in remission; 2 of 3 who normalised "
     "stopped treatment without relapse", ("PF2019",)),
)
MESSAGES: Final = (
    "Favourable: classic skin disease, good treatment response and prognosis, low malignancy and "
    "ILD frequency (EJD2020, PF2019).",
    "More severe muscle disease: weaker and higher CK than Mi-2-negative DM or antisynthetase "
    "syndrome; weakness develops in 98% during follow-up (PF2019).",
)


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
        latest = results[-1]
        if latest.result == "negative" or (
            latest.titer is not None and latest.cutoff is not None and latest.titer < latest.cutoff
        ):
            reasons.append(f"titer normalised on {latest.date}; the phenotype is kept")
        return "applies", tuple(reasons)
    if all(a.result == "negative" for a in results):
        return "not_applicable", ("anti-Mi-2 negative: Mi-2-specific statements are not applied",)
    return "not_evaluable", ("anti-Mi-2 only borderline, never positive",)


@rule("PHENOTYPE-ANTI-MI2")
def evaluate_phenotype(run: RuleRun, meta: RuleMeta) -> Phenotype:
    ctx = run.ctx
    status, reasons = _status(ctx)
    inputs: list[InputRef] = [ref_antibody(a) for a in ctx.mi2_results]
    features: list[PhenotypeFeature] = []
    if status == "applies":
        for code, statement, citations in _PATIENT_FEATURES:
            finding = ctx.finding(code)
            if finding is not None:
                inputs.append(ref_finding(finding))
            features.append(PhenotypeFeature(
                id=code,
                statement=statement,
                status="not_recorded" if finding is None else (
                    "present" if finding.present else "absent"),
                citations=citations,
                date=finding.date if finding else None,
            ))
        features.extend(
            PhenotypeFeature(id=fid, statement=text, status="expected", citations=citations)
            for fid, text, citations in _COHORT_FACTS
        )
    return Phenotype(
        status=status,
        reasons=reasons,
        features=tuple(features),
        messages=MESSAGES if status == "applies" else (),
        rule_id=meta.id,
        knowledge_version=run.params.version,
        citations=meta.citations,
        inputs=tuple(inputs),
    )
