"""The words a clinician reads for every code: the labels table next to the knowledge pack.

``knowledge/packs/anti-mi2-dm.labels.toml`` has one table per kind of code (drug, finding, phase,
action, …). The presentation layer shows them; the engine reads the drug names for the sentences it
writes (action reasons, safety advice), so that a drug is called the same everywhere.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Final

__all__ = ["LABELS_FILE", "drug_name", "load_labels"]

LABELS_FILE: Final = "anti-mi2-dm.labels.toml"
"""The labels table, in the knowledge pack's folder."""


@cache
def load_labels() -> Mapping[str, Mapping[str, str]]:
    """The labels table: kind (``drug``, ``finding``, ``status`` …) → code → words."""
    text = resources.files("myositis_cds.knowledge").joinpath("packs", LABELS_FILE).read_text("utf-8")
    table = tomllib.loads(text)
    return {kind: {str(k): str(v) for k, v in codes.items()} for kind, codes in table.items()}


def drug_name(code: str) -> str:
    """A drug's name inside a sentence: "methotrexate", "IVIG", "co-trimoxazole" (the table's
    word with a capital first letter lowered unless the word is an acronym)."""
    word = load_labels().get("drug", {}).get(code, code.replace("_", " "))
    if len(word) > 1 and word[0].isupper() and word[1].islower():
        return word[0].lower() + word[1:]
    return word
