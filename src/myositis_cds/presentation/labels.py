"""Display text for result values: numbers rounded for reading, codes spelled as words.

The words are data next to the knowledge pack (``knowledge/packs/anti-mi2-dm.labels.toml``, one
table per kind of code: drugs, findings, investigations, statuses, phases, actions …), read once;
:func:`label` looks a code up, and :func:`plain` rewrites the codes and comparison signs that the
engine's reasons and messages carry ("gottron_papules", "age 45 >= 40", "§6.4") into the words a
clinician reads. Codes, rule IDs and JSON paths are shown only in the provenance view.

Rounding here is for display only; the JSON output keeps the exact values. Rounding is half-up on
the decimal text of the number (so 68.25 shows as "68.3", not the binary-float "68.2").
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from typing import Final

from myositis_cds.knowledge.labels import LABELS_FILE, load_labels

__all__ = [
    "EMPTY",
    "LABELS_FILE",
    "clean",
    "drug_label",
    "fmt_date",
    "fmt_dose",
    "fmt_number",
    "fmt_recorded",
    "fmt_setting",
    "humanise",
    "investigation_label",
    "label",
    "labels",
    "measure_label",
    "plain",
    "role_label",
]

EMPTY: Final = "—"
"""Shown where a value is absent (never a blank cell, which could be read as 'normal')."""

_CODES: Final[dict[str, str]] = {
    "non_severe": "non-severe",
    "severe_refractory": "severe / refractory",
}
_SECTION_REFERENCES: Final = (  # "(§6.4)", ", §6.4)" and "(§5.1 (silent; …))" (clinical-reference sections)
    (re.compile(r"\(§\s?\d+(?:\.\d+)*\s+\(([^()]*)\)\)"), r"(\1)"),
    (re.compile(r"\s*\(§\s?\d+(?:\.\d+)*\)"), ""),
    (re.compile(r",\s*§\s?\d+(?:\.\d+)*(?=\))"), ""),
    (re.compile(r"\s*\(§[^()]*\)"), ""),  # "(§7 [INTERP])": a provenance label
    (re.compile(r"\s*\(\$(?:\.\w+|\[\d+\])+\)"), ""),  # "($.treatments[0])": a record path
)
_COMPARISON: Final = {">=": "≥", "<=": "≤"}
_CODE_WORD: Final = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def labels() -> Mapping[str, Mapping[str, str]]:
    """The labels table: kind (``drug``, ``finding``, ``status`` …) → code → words."""
    return load_labels()


def label(kind: str, code: object) -> str:
    """The words for ``code`` of ``kind``; an unknown code with its underscores as spaces."""
    if code is None:
        return EMPTY
    text = clean(code)
    return labels().get(kind, {}).get(text, text.replace("_", " "))


@cache
def _code_words() -> Mapping[str, str]:
    """Every snake_case code of the record's vocabularies (findings, investigations, drugs …)."""
    words: dict[str, str] = {}
    for kind in ("finding", "investigation", "drug", "diagnosis"):
        for code, words_ in labels().get(kind, {}).items():
            if "_" in code:
                words[code] = words_ if kind != "drug" else words_.lower()
    return words


def plain(text: object) -> str:
    """An engine reason or message in the clinician's words: vocabulary codes as words
    (``gottron_papules`` → "Gottron's papules"), ``>=``/``<=`` as ≥/≤, and references to sections
    of the clinical reference (``§6.4``) and record paths (``($.treatments[0])``) left to the
    provenance view."""
    value = clean(text)
    if value == EMPTY:
        return value
    for sign, word in _COMPARISON.items():
        value = value.replace(f" {sign} ", f" {word} ")
    for pattern, replacement in _SECTION_REFERENCES:
        value = pattern.sub(replacement, value)
    words = _code_words()
    return _CODE_WORD.sub(lambda m: words.get(m.group(0), m.group(0)), value).strip()


def clean(value: object) -> str:
    """``str(value)`` with control characters (newlines, tabs, escapes) replaced by spaces.

    Every value taken from the assessment passes through here, so a crafted identifier cannot
    break a Markdown table or forge extra lines in the plain-text report.
    """
    if value is None:
        return EMPTY
    text = str(value)
    if text.isprintable():
        return text
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def humanise(code: object) -> str:
    """A status or tier code as words: ``not_evaluable`` → ``not evaluable``."""
    if code is None:
        return EMPTY
    text = clean(code)
    return _CODES.get(text, text.replace("_", " "))


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = Decimal(repr(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def fmt_number(value: object, places: int = 1) -> str:
    """A number rounded half-up to ``places`` decimals, without trailing zeros (60.0 → "60")."""
    number = _decimal(value)
    if number is None:
        return EMPTY if value is None else clean(value)
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = format(rounded, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def fmt_dose(value: object) -> str:
    """A dose for reading: one decimal from 10 up (68.25 → "68.3"), two below (0.75 → "0.75")."""
    number = _decimal(value)
    places = 1 if number is None or abs(number) >= 10 else 2
    return fmt_number(value, places)


def fmt_recorded(value: object) -> str:
    """A value as it was recorded in the patient record (no rounding; 6.0 → "6", 1.125 stays)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return clean(value)


def fmt_date(value: dt.date | None) -> str:
    """An ISO date (``2026-04-20``), or :data:`EMPTY` when there is none."""
    return EMPTY if value is None else value.isoformat()


def drug_label(code: object) -> str:
    words = label("drug", code)
    return words[:1].upper() + words[1:]


def role_label(code: object) -> str:
    return label("role", code)


def measure_label(code: object, enzyme: object = None) -> str:
    words = label("measure", code)
    if clean(code) == "enzyme" and enzyme is not None:
        words = f"{words} ({clean(enzyme)})"
    return words


def investigation_label(code: object) -> str:
    return label("investigation", code)


def fmt_setting(value: object) -> str:
    """A setting value: a number, a range (12, 55) → "12–55", a table → "key 12–55; key 3"."""
    if isinstance(value, tuple) and len(value) == 2:
        return f"{fmt_number(value[0], 4)}–{fmt_number(value[1], 4)}"
    if isinstance(value, Mapping):
        return "; ".join(f"{clean(k)} {fmt_setting(v)}" for k, v in value.items())
    if isinstance(value, float | int) and not isinstance(value, bool):
        return fmt_number(value, 4)
    return fmt_recorded(value)
