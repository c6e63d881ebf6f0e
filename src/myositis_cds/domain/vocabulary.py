"""Controlled vocabularies of ``patient-record@1`` (clinical-reference §1 and §10).

These are codes, not clinical numbers; they are the closed sets a record is validated against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

__all__ = [
    "ALL_FINDINGS",
    "ANTIBODY_ALIASES",
    "ANTIBODY_RESULTS",
    "ANTIBODY_TARGETS",
    "BLOOD_COUNT_TESTS",
    "BONE_PROTECTION",
    "CUTANEOUS_FINDINGS",
    "DIAGNOSES",
    "DM_DIAGNOSES",
    "DRUGS",
    "DRUG_SYNONYMS",
    "EFFECT_WINDOW_DRUGS",
    "ENZYMES",
    "ENZYME_LIKE_TESTS",
    "FREQUENCIES",
    "GLUCOCORTICOIDS",
    "IMMUNOSUPPRESSIVE_AGENTS",
    "INVESTIGATION_KINDS",
    "LIVER_ENZYMES",
    "MAA_TARGETS",
    "MI2_TARGETS",
    "MONITORING_BLOOD_TESTS",
    "MSA_TARGETS",
    "OTHER_FINDINGS",
    "PJP_PROPHYLAXIS",
    "SAFETY_TESTS",
    "SECOND_LINE_AGENTS",
    "SEXES",
    "STEROID_SPARING_AGENTS",
    "SUPPORTIVE_DRUGS",
    "canonical_antibody",
    "canonical_drug",
]

SEXES: Final = ("female", "male", "other", "unknown")

DIAGNOSES: Final = (
    "dermatomyositis",
    "amyopathic_dermatomyositis",
    "juvenile_dermatomyositis",
    "antisynthetase_syndrome",
    "imnm",
    "polymyositis",
    "inclusion_body_myositis",
    "overlap_myositis",
    "undetermined",
)
DM_DIAGNOSES: Final = frozenset(
    {"dermatomyositis", "amyopathic_dermatomyositis", "juvenile_dermatomyositis"}
)

MI2_TARGETS: Final = frozenset({"Mi-2", "Mi-2α", "Mi-2β"})
# Myositis-specific antibodies (the panel of WORKUP-MSA-PANEL). "Mi-2" stands for any of its forms.
MSA_TARGETS: Final = (
    "Mi-2", "TIF1-gamma", "NXP2", "MDA5", "SAE1", "Jo-1", "PL-7", "PL-12", "EJ", "OJ", "SRP", "HMGCR",
)
MAA_TARGETS: Final = ("Ro52", "PM-Scl", "Ku", "U1-RNP")
ANTIBODY_TARGETS: Final = (*sorted(MI2_TARGETS - {"Mi-2"}), *MSA_TARGETS, *MAA_TARGETS)
# ASCII spellings accepted on input and stored under the canonical target.
ANTIBODY_ALIASES: Final = {"Mi-2alpha": "Mi-2α", "Mi-2beta": "Mi-2β", "TIF1γ": "TIF1-gamma"}
ANTIBODY_RESULTS: Final = ("positive", "negative", "borderline")

ENZYMES: Final = ("CK", "aldolase", "AST", "ALT", "LDH")
ENZYME_LIKE_TESTS: Final = (*ENZYMES, "GGT")
"""Tests reported in U/L (or µkat/L, converted to U/L)."""

CUTANEOUS_FINDINGS: Final = (
    "heliotrope_rash",
    "gottron_papules",
    "gottron_sign",
    "v_sign",
    "shawl_sign",
    "periungual_changes",
    "cutaneous_necrosis",
)
OTHER_FINDINGS: Final = (
    "proximal_weakness",
    "extensive_weakness",
    "dysphagia",
    "ild",
    "calcinosis",
    "fever",
    "respiratory_symptoms",
    "arthritis",
    "raynaud",
    "photosensitivity",
)
ALL_FINDINGS: Final = (*CUTANEOUS_FINDINGS, *OTHER_FINDINGS)

INVESTIGATION_KINDS: Final = (
    "skin_exam",
    "pulmonary_function_tests",
    "chest_radiograph",
    "hrct_chest",
    "emg",
    "muscle_biopsy",
    "age_appropriate_cancer_screening",
    "ct_chest_abdomen_pelvis",
    # Screening before immunosuppression (§15, pack 2026.2)
    "hbv_serology",
    "hcv_serology",
    "hiv_serology",
    "tb_igra",
)

FREQUENCIES: Final = ("daily", "weekly", "once", "monthly", "course")

GLUCOCORTICOIDS: Final = frozenset(
    {"prednisone", "prednisolone", "methylprednisolone", "methylprednisolone_iv"}
)
STEROID_SPARING_AGENTS: Final = frozenset({"methotrexate", "azathioprine", "mycophenolate_mofetil"})
SECOND_LINE_AGENTS: Final = frozenset(
    {"ivig", "rituximab", "cyclophosphamide", "cyclosporine", "tacrolimus"}
)
IMMUNOSUPPRESSIVE_AGENTS: Final = GLUCOCORTICOIDS | STEROID_SPARING_AGENTS | SECOND_LINE_AGENTS
"""The agents that start, continue and end a course (§12.2)."""

PJP_PROPHYLAXIS: Final = frozenset(
    {"trimethoprim_sulfamethoxazole", "atovaquone", "dapsone", "pentamidine"}
)
BONE_PROTECTION: Final = frozenset({"calcium_vitamin_d", "bisphosphonate", "denosumab", "teriparatide"})
SUPPORTIVE_DRUGS: Final = PJP_PROPHYLAXIS | BONE_PROTECTION | {"folic_acid"}
"""Read only by the safety companion (§15); never part of a course."""

DRUGS: Final = (
    *sorted(GLUCOCORTICOIDS), *sorted(STEROID_SPARING_AGENTS), *sorted(SECOND_LINE_AGENTS),
    "hydroxychloroquine", *sorted(SUPPORTIVE_DRUGS), "other",
)
"""``treatments[].drug``: a closed vocabulary (§12.4). ``other`` needs a ``name`` and plays no role."""

DRUG_SYNONYMS: Final = {
    "mmf": "mycophenolate_mofetil",
    "mycophenolate": "mycophenolate_mofetil",
    "cellcept": "mycophenolate_mofetil",
    "mtx": "methotrexate",
    "aza": "azathioprine",
    "ivmp": "methylprednisolone_iv",
    "methylprednisolone iv": "methylprednisolone_iv",
    "solu-medrol": "methylprednisolone_iv",
    "intravenous immunoglobulin": "ivig",
    "ciclosporin": "cyclosporine",
    "cyc": "cyclophosphamide",
    "co-trimoxazole": "trimethoprim_sulfamethoxazole",
    "tmp-smx": "trimethoprim_sulfamethoxazole",
}
"""Accepted spellings (compared case-insensitively) and the code they are stored under (§12.4)."""

EFFECT_WINDOW_DRUGS: Final = ("rituximab", "cyclophosphamide", "ivig")
"""Agents that stay active for an effect window after the last day given (§12.1)."""

BLOOD_COUNT_TESTS: Final = ("wbc", "neutrophils", "platelets", "haemoglobin")
MONITORING_BLOOD_TESTS: Final = (*BLOOD_COUNT_TESTS, "creatinine", "albumin")
"""With ALT or AST: the result set that meets a drug-monitoring occasion (§15)."""
LIVER_ENZYMES: Final = ("ALT", "AST")
SAFETY_TESTS: Final[Mapping[str, tuple[tuple[Literal["investigation", "lab"], str], ...]]] = {
    "SAFETY-HBV": (("investigation", "hbv_serology"),),
    "SAFETY-HCV": (("investigation", "hcv_serology"),),
    "SAFETY-HIV": (("investigation", "hiv_serology"),),
    "SAFETY-TB": (("investigation", "tb_igra"),),
    "SAFETY-MONITORING-BLOODS": (*(("lab", t) for t in MONITORING_BLOOD_TESTS), ("lab", LIVER_ENZYMES[0])),
}
"""What a safety companion item (§15) tests, as (record category, name): the investigation kind, or
the labs that meet a drug-monitoring occasion (ALT stands for "ALT or AST"). The FHIR export codes
them and the CDS Hooks cards offer them as draft orders."""


def canonical_antibody(target: str) -> str:
    """The stored spelling of an antibody target (aliases resolved); the input if already canonical."""
    return ANTIBODY_ALIASES.get(target, target)


def canonical_drug(text: str) -> str | None:
    """The drug code for a spelling of ``treatments[].drug`` (case-insensitive, synonyms resolved);
    ``None`` if it is neither a code nor a synonym (§12.4: anything else is refused)."""
    key = text.strip().casefold()
    if key in _DRUG_CODES:
        return key
    return DRUG_SYNONYMS.get(key)


_DRUG_CODES: Final = frozenset(DRUGS)
