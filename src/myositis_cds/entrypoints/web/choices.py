"""The words a clinician reads for the codes of ``patient-record@1`` on the data-entry screens.

Forms store codes (``gottron_papules``, ``mycophenolate_mofetil``) and show the words of the labels
table next to the knowledge pack (:mod:`myositis_cds.presentation.labels`), capitalised to stand at
the start of a choice or a table cell; a code without a label is shown with its underscores as
spaces, never as a snake_case code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from myositis_cds.domain.vocabulary import (
    ALL_FINDINGS,
    GLUCOCORTICOIDS,
    SECOND_LINE_AGENTS,
    STEROID_SPARING_AGENTS,
)
from myositis_cds.presentation.labels import label

__all__ = ["DRUG_GROUPS", "FINDING_LABELS", "labels_for", "word"]

DRUG_GROUPS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("Glucocorticoids", tuple(sorted(GLUCOCORTICOIDS))),
    ("Steroid-sparing agents", tuple(sorted(STEROID_SPARING_AGENTS))),
    ("Second-line agents", tuple(sorted(SECOND_LINE_AGENTS))),
)
"""The treatment picklist, grouped as the clinical reference groups the agents (§10)."""


def word(kind: str, code: object) -> str:
    """The words for ``code`` of ``kind`` (``finding``, ``drug``, ``investigation`` …), with a
    capital first letter."""
    text = label(kind, code)
    return text[:1].upper() + text[1:]


def labels_for(kind: str, codes: Iterable[str]) -> dict[str, str]:
    return {code: word(kind, code) for code in codes}


FINDING_LABELS: Final[Mapping[str, str]] = labels_for("finding", ALL_FINDINGS)
