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
    BONE_PROTECTION,
    DRUG_SYNONYMS,
    DRUGS,
    GLUCOCORTICOIDS,
    PJP_PROPHYLAXIS,
    SECOND_LINE_AGENTS,
    STEROID_SPARING_AGENTS,
)
from myositis_cds.presentation.labels import label

__all__ = ["DRUG_CHOICE_LABELS", "DRUG_GROUPS", "FINDING_LABELS", "labels_for", "word"]

_GROUPED: Final = (
    ("Glucocorticoids", GLUCOCORTICOIDS),
    ("Steroid-sparing agents", STEROID_SPARING_AGENTS),
    ("Second-line agents", SECOND_LINE_AGENTS),
    ("Pneumocystis prophylaxis", PJP_PROPHYLAXIS),
    ("Bone protection", BONE_PROTECTION),
)
DRUG_GROUPS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    *((heading, tuple(sorted(codes))) for heading, codes in _GROUPED),
    ("Other", tuple(code for code in DRUGS if not any(code in codes for _, codes in _GROUPED))),
)
"""The treatment picklist: every code of the closed drug vocabulary (clinical reference §12.4),
grouped as the reference groups the agents (§10, §15); hydroxychloroquine, folic acid and
``other`` (a drug named in the entry) last."""


def word(kind: str, code: object) -> str:
    """The words for ``code`` of ``kind`` (``finding``, ``drug``, ``investigation`` …), with a
    capital first letter."""
    text = label(kind, code)
    return text[:1].upper() + text[1:]


def labels_for(kind: str, codes: Iterable[str]) -> dict[str, str]:
    return {code: word(kind, code) for code in codes}


FINDING_LABELS: Final[Mapping[str, str]] = labels_for("finding", ALL_FINDINGS)


def _with_synonyms(code: str) -> str:
    """A drug's words and the synonyms the record accepts for it (§12.4), so that a clinician who
    knows it as "MMF" or "Solu-Medrol" finds it: "Mycophenolate mofetil (also: mmf, …)"."""
    words = word("drug", code)
    synonyms = [spelling for spelling, target in DRUG_SYNONYMS.items()
                if target == code and spelling.casefold() != words.casefold()]
    return f"{words} (also: {', '.join(synonyms)})" if synonyms else words


DRUG_CHOICE_LABELS: Final[Mapping[str, str]] = {code: _with_synonyms(code) for code in DRUGS}
