"""The fixed mappings of the assessment exporter: statuses, severities and dose units → FHIR.

Documented in docs/fhir-export.md; a status the table does not know is an error naming the field
(the assessment@1 contract is closed), never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from myositis_cds.adapters.fhir.exporting.common import EXTENSION_PREFIX

__all__ = [
    "CITATION_EXTENSION",
    "DOSE_RANGE_EXTENSION",
    "DOSE_UCUM",
    "EVALUATION_SYSTEM",
    "OCCASION_STATUS",
    "SEVERITY",
    "WORKUP_STATUS",
    "mapped",
]

SEVERITY: Final[Mapping[str, str]] = {"critical": "high", "warning": "moderate", "info": "low"}
"""Alert severity → ``DetectedIssue.severity``."""
WORKUP_STATUS: Final[Mapping[str, str]] = {
    "done": "completed", "missing": "not-started", "not_required": "cancelled"}
"""Work-up item status → ``CarePlan.activity.detail.status`` (the item's own status is kept in
``statusReason``, system ``urn:myositis-cds:assessment:workup-status``)."""
OCCASION_STATUS: Final[Mapping[str, str]] = {
    "done": "completed", "due": "not-started", "overdue": "not-started", "upcoming": "scheduled"}
"""Screening occasion status → activity status (kept exactly in ``statusReason``)."""
DOSE_UCUM: Final[Mapping[str, tuple[str, str]]] = {
    "mg/day": ("mg/d", "mg/day"), "g/day": ("g/d", "g/day"), "mg/week": ("mg/wk", "mg/week"),
    "mg/month": ("mg/mo", "mg/month"), "g/course": ("g", "g/course"), "g/dose": ("g", "g/dose")}
"""Regimen dose unit → (UCUM code, display unit). Per course and per dose have no UCUM time
denominator: the code is ``g`` and the display unit keeps the meaning."""
EVALUATION_SYSTEM: Final = "urn:myositis-cds:alert-evaluation"
"""``meta.tag`` of a DetectedIssue: ``fired`` or ``not_evaluable``."""
CITATION_EXTENSION: Final = EXTENSION_PREFIX + "citation"
DOSE_RANGE_EXTENSION: Final = EXTENSION_PREFIX + "dose-range"


def mapped(table: Mapping[str, str], value: object, field: str) -> str:
    """``table[value]``, or a ValueError naming the field, the value and the expected values."""
    found = table.get(str(value))
    if found is None:
        msg = f"{field}: got {value!r}; expected one of {', '.join(table)} (assessment@1)"
        raise ValueError(msg)
    return found
