"""The fixed mappings of the assessment exporter: statuses, severities and dose units → FHIR.

Documented in docs/fhir-export.md; a status the table does not know is an error naming the field
(the assessment@1 contract is closed), never a silent default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from myositis_cds.adapters.fhir.exporting.common import EXTENSION_PREFIX

__all__ = [
    "ACTION_STATUS",
    "ACTION_SYSTEM",
    "CITATION_EXTENSION",
    "DOSE_RANGE_EXTENSION",
    "DOSE_UCUM",
    "EVALUATION_SYSTEM",
    "OCCASION_STATUS",
    "OPTION_EXTENSION",
    "PHASE_EXTENSION",
    "PHASE_SYSTEM",
    "RECORDED_DOSE_ACTIONS",
    "RECORDED_DOSE_EXTENSION",
    "SAFETY_KIND",
    "SAFETY_STATUS",
    "SAFETY_SYSTEM",
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
ACTION_STATUS: Final[Mapping[str, str]] = {
    "start": "not-started", "add": "not-started", "pulse": "not-started", "taper": "not-started",
    "review_dose": "not-started", "surveillance": "not-started", "continue": "in-progress"}
"""Plan action (pack 2026.2) → activity status: a change to make is ``not-started`` (the CarePlan is
a proposal); an agent to continue is being taken (``in-progress``). The action itself is coded in
``detail.code`` (system :data:`ACTION_SYSTEM`)."""
RECORDED_DOSE_ACTIONS: Final = frozenset({"continue", "taper", "review_dose"})
"""Actions whose dose is the one recorded now (extension :data:`RECORDED_DOSE_EXTENSION`); the
others' dose is the one to give (``dose-range``)."""
SAFETY_STATUS: Final[Mapping[str, str]] = {
    "done": "completed", "missing": "not-started", "due": "not-started", "overdue": "not-started",
    "not_applicable": "cancelled", "advice": "not-started"}
"""Safety companion item status → activity status (kept exactly in ``statusReason``, system
``urn:myositis-cds:assessment:safety-status``)."""
SAFETY_KIND: Final[Mapping[str, str]] = {
    "SAFETY-HBV": "ServiceRequest", "SAFETY-HCV": "ServiceRequest", "SAFETY-HIV": "ServiceRequest",
    "SAFETY-TB": "ServiceRequest", "SAFETY-MONITORING-BLOODS": "ServiceRequest",
    "SAFETY-PJP": "MedicationRequest", "SAFETY-BONE": "MedicationRequest"}
"""Safety item → ``detail.kind`` (tests are ServiceRequests, prophylaxis MedicationRequests); the
advice items (vaccination, pregnancy) have no kind."""
DOSE_UCUM: Final[Mapping[str, tuple[str, str]]] = {
    "mg/day": ("mg/d", "mg/day"), "g/day": ("g/d", "g/day"), "mg/week": ("mg/wk", "mg/week"),
    "mg/month": ("mg/mo", "mg/month"), "g/month": ("g/mo", "g/month"),
    "g/course": ("g", "g/course"), "g/dose": ("g", "g/dose")}
"""Regimen dose unit → (UCUM code, display unit). Per course and per dose have no UCUM time
denominator: the code is ``g`` and the display unit keeps the meaning."""
EVALUATION_SYSTEM: Final = "urn:myositis-cds:alert-evaluation"
"""``meta.tag`` of a DetectedIssue: ``fired`` or ``not_evaluable``."""
ACTION_SYSTEM: Final = "urn:myositis-cds:plan-action"
"""Coding of a plan action (``start``, ``add``, ``continue``, ``taper``, ``pulse``,
``review_dose``, ``surveillance``) in ``CarePlan.activity.detail.code``."""
SAFETY_SYSTEM: Final = "urn:myositis-cds:safety"
"""Coding of a safety companion item (``SAFETY-HBV`` …) in ``CarePlan.activity.detail.code``."""
PHASE_SYSTEM: Final = "urn:myositis-cds:therapy-phase"
CITATION_EXTENSION: Final = EXTENSION_PREFIX + "citation"
DOSE_RANGE_EXTENSION: Final = EXTENSION_PREFIX + "dose-range"
RECORDED_DOSE_EXTENSION: Final = EXTENSION_PREFIX + "recorded-dose"
OPTION_EXTENSION: Final = EXTENSION_PREFIX + "option"
"""One per agent to choose from, when an action names a class of agent rather than a drug."""
PHASE_EXTENSION: Final = EXTENSION_PREFIX + "therapy-phase"
"""``CarePlan.extension``: the therapy phase (``valueCoding``, system :data:`PHASE_SYSTEM`)."""


def mapped(table: Mapping[str, str], value: object, field: str) -> str:
    """``table[value]``, or a ValueError naming the field, the value and the expected values."""
    found = table.get(str(value))
    if found is None:
        msg = f"{field}: got {value!r}; expected one of {', '.join(table)} (assessment@1)"
        raise ValueError(msg)
    return found
