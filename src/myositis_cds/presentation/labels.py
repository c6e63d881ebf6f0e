"""Display text for assessment values: numbers rounded for reading, codes spelled as words.

Rounding here is for display only; the JSON output keeps the exact values. Rounding is half-up on
the decimal text of the number (so 68.25 shows as "68.3", not the binary-float "68.2").
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

__all__ = [
    "EMPTY",
    "clean",
    "drug_label",
    "fmt_date",
    "fmt_dose",
    "fmt_number",
    "fmt_recorded",
    "humanise",
    "investigation_label",
    "measure_label",
    "role_label",
]

EMPTY: Final = "—"
"""Shown where a value is absent (never a blank cell, which could be read as 'normal')."""

_CODES: Final[dict[str, str]] = {
    "non_severe": "non-severe",
    "severe_refractory": "severe / refractory",
}
_DRUGS: Final[dict[str, str]] = {
    "methylprednisolone_iv": "Methylprednisolone IV",
    "ivig": "IVIG",
    "mycophenolate_mofetil": "Mycophenolate mofetil",
}
_ROLES: Final[dict[str, str]] = {
    "steroid_sparing": "steroid-sparing",
    "glucocorticoid_pulse": "glucocorticoid pulse",
    "second_line": "second-line",
}
_MEASURES: Final[dict[str, str]] = {
    "physician_global": "Physician global activity",
    "patient_global": "Patient global activity",
    "mmt": "MMT-8",
    "haq": "HAQ",
    "enzyme": "Muscle enzyme",
    "extramuscular": "Extramuscular activity",
}
_INVESTIGATIONS: Final[dict[str, str]] = {
    "ct_chest_abdomen_pelvis": "CT chest, abdomen and pelvis",
    "age_appropriate_cancer_screening": "age-appropriate cancer screening",
    "hrct_chest": "HRCT chest",
    "emg": "EMG",
}


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
    text = clean(code)
    label = _DRUGS.get(text, text.replace("_", " "))
    return label[:1].upper() + label[1:]


def role_label(code: object) -> str:
    text = clean(code)
    return _ROLES.get(text, text.replace("_", " "))


def measure_label(code: object, enzyme: object = None) -> str:
    text = clean(code)
    label = _MEASURES.get(text, text.replace("_", " "))
    if text == "enzyme" and enzyme is not None:
        label = f"{label} ({clean(enzyme)})"
    return label


def investigation_label(code: object) -> str:
    text = clean(code)
    return _INVESTIGATIONS.get(text, text.replace("_", " "))
