"""Controlled vocabularies of ``patient-record@1`` (clinical-reference §1 and §10).

These are codes, not clinical numbers; they are the closed sets a record is validated against.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALL_FINDINGS",
    "ANTIBODY_ALIASES",
    "ANTIBODY_RESULTS",
    "ANTIBODY_TARGETS",
    "CUTANEOUS_FINDINGS",
    "DIAGNOSES",
    "DM_DIAGNOSES",
    "ENZYMES",
    "FREQUENCIES",
    "GLUCOCORTICOIDS",
    "INVESTIGATION_KINDS",
    "MAA_TARGETS",
    "MI2_TARGETS",
    "MSA_TARGETS",
    "OTHER_FINDINGS",
    "SECOND_LINE_AGENTS",
    "SEXES",
    "STEROID_SPARING_AGENTS",
    "canonical_antibody",
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
)

FREQUENCIES: Final = ("daily", "weekly", "once", "monthly", "course")

GLUCOCORTICOIDS: Final = frozenset(
    {"prednisone", "prednisolone", "methylprednisolone", "methylprednisolone_iv"}
)
STEROID_SPARING_AGENTS: Final = frozenset({"methotrexate", "azathioprine", "mycophenolate_mofetil"})
SECOND_LINE_AGENTS: Final = frozenset(
    {"ivig", "rituximab", "cyclophosphamide", "cyclosporine", "tacrolimus"}
)


def canonical_antibody(target: str) -> str:
    """The stored spelling of an antibody target (aliases resolved); the input if already canonical."""
    return ANTIBODY_ALIASES.get(target, target)
