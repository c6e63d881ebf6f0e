"""Readers of FHIR R4 data types on plain decoded JSON (dicts and lists), tolerant of bad shapes.

Nested values are expected as the JSON decoder makes them (``dict``, ``list``): the checks are
``isinstance(value, dict)``, which is several times faster than an abstract ``Mapping`` check.

The hot path of the importer never builds models: these functions read what they need from the
decoded JSON and answer ``None`` for anything missing or of the wrong shape, so that the caller can
count it in the unmapped report instead of crashing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "DateText",
    "codings",
    "day_of",
    "first_mapping",
    "number",
    "period_bounds",
    "reference_id",
    "text_of",
]

_DAY: Final = re.compile(r"^(\d{4})(-(\d{2})(-(\d{2}))?)?")
_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_REFERENCE: Final = re.compile(r"(?:^|/)([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")

DateText = tuple[str | None, bool]
"""(``YYYY-MM-DD`` or None, whether a partial date — a year or a year and month — was found)."""


def day_of(value: object) -> DateText:
    """The calendar day of a FHIR date/dateTime/instant as written (no time-zone shift)."""
    if not isinstance(value, str):
        return None, False
    match = _DAY.match(value)
    if match is None:
        return None, False
    if match.group(5) is None:
        return None, True
    return match.group(0), False


def period_bounds(period: object) -> tuple[object, object]:
    """(start, end) of a FHIR Period (None where absent)."""
    if not isinstance(period, dict):
        return None, None
    return period.get("start"), period.get("end")


def codings(concept: object) -> list[tuple[str | None, str | None, str | None]]:
    """(system, code, display) of each Coding of a CodeableConcept (strings or None)."""
    if not isinstance(concept, dict):
        return []
    found = []
    raw = concept.get("coding")
    if isinstance(raw, list):
        for coding in raw:
            if isinstance(coding, dict):
                system, code, display = coding.get("system"), coding.get("code"), coding.get("display")
                found.append((system if isinstance(system, str) else None,
                              code if isinstance(code, str) else None,
                              display if isinstance(display, str) else None))
    return found


def text_of(concept: object) -> str | None:
    """A CodeableConcept's text, else its first coding's display."""
    if not isinstance(concept, dict):
        return None
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    for _, _, display in codings(concept):
        if display:
            return display
    return None


def number(value: object) -> float | int | None:
    """A JSON number (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def first_mapping(value: object) -> Mapping[str, Any] | None:
    """The first element of a list if it is an object (FHIR repeating elements), else None."""
    if isinstance(value, Sequence) and not isinstance(value, str) and value:
        head = value[0]
        if isinstance(head, dict):
            return head
    return None


def reference_id(reference: object, resource_type: str) -> str | None:
    """The id in a Reference to ``resource_type`` ("Patient/x", an absolute URL, or with _history).

    ``urn:uuid:`` references name no type: the caller resolves them against the Bundle's fullUrls.
    """
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference")
    if not isinstance(ref, str):
        return None
    prefix = resource_type + "/"
    if ref.startswith(prefix) and "/" not in ref[len(prefix):]:  # the common case, without a regex
        key = ref[len(prefix):]
        return key if _ID.fullmatch(key) else None
    match = _REFERENCE.search(ref)
    if match is None or match.group(1) != resource_type:
        return None
    return match.group(2)
