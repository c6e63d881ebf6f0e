"""Results of pack 2026.2 (clinical-reference §12–§15): current therapy, actions, safety items."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from myositis_cds.domain.values import value_object
from myositis_cds.engine.provenance import InputRef, Note

__all__ = [
    "Action",
    "ActionKind",
    "Activity",
    "CurrentTherapy",
    "GlucocorticoidExposure",
    "Phase",
    "SafetyCheck",
    "TherapyAgent",
]

ActionKind = Literal["start", "add", "continue", "taper", "pulse", "review_dose", "surveillance"]


@value_object
class Action:
    """One step of the plan relative to the current regimen (§13)."""

    action: ActionKind
    drug: str | None
    """The agent acted on; ``None`` when the clinician chooses among ``options``."""
    reason: str
    dose_min: float | None
    dose_max: float | None
    unit: str | None
    options: tuple[str, ...]
    """The agents to choose from (their doses are in ``treatment_plan.regimens``)."""
    agent_class: Literal["steroid_sparing", "second_line"] | None
    """Set when ``drug`` is ``None``: the class of agent to choose (start/add one of ``options``)."""
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()


Phase = Literal["untreated", "induction", "maintenance", "refractory", "stopped_active",
                "drug_free_remission", "off_treatment", "not_evaluable"]


@value_object
class Activity:
    """Disease activity from the last ``activity_window_days`` (§12.3); never inactive from gaps."""

    status: Literal["active", "inactive", "unknown"]
    reasons: tuple[str, ...]
    missing: tuple[str, ...]
    """What the window lacks to call the disease inactive (e.g. "physician global")."""
    inputs: tuple[InputRef, ...]


@value_object
class TherapyAgent:
    """An agent active on the assessment date (§13)."""

    drug: str
    name: str | None
    role: Literal["glucocorticoid", "glucocorticoid_pulse", "steroid_sparing", "second_line",
                  "antimalarial", "supportive", "other"]
    dose: float | None
    unit: str | None
    frequency: str | None
    route: str | None
    start: dt.date
    stop: dt.date | None
    days_on_dose: int
    """Assessment date − the day the current dose began (0 on that day)."""
    dose_per_kg: float | None
    dose_per_m2: float | None
    prednisone_equivalent_mg_per_day: float | None
    effect_window_until: dt.date | None
    """Set when the agent is active only through its effect window (§12.1): the last active day."""
    source: str


@value_object
class GlucocorticoidExposure:
    current_mg_per_day: float | None
    """Prednisone-equivalent of the active glucocorticoids, pulses excluded; ``None`` if a dose is
    not computable (missing dose, or a unit or frequency the pack cannot convert)."""
    pulse_today: bool
    course_cumulative_mg: float
    record_cumulative_mg: float
    days_at_or_above_20mg: int
    pulse_days_in_course: int
    not_counted: tuple[str, ...]
    """Glucocorticoid entries (JSON paths) whose dose could not be counted."""


@value_object
class CurrentTherapy:
    phase: Phase
    phase_reasons: tuple[str, ...]
    activity: Literal["active", "inactive", "unknown"]
    activity_reasons: tuple[str, ...]
    activity_missing: tuple[str, ...]
    """What the activity window lacks to call the disease inactive."""
    course_start: dt.date | None
    courses: tuple[dt.date, ...]
    """Start of every course on or before the assessment date (§12.2)."""
    off_therapy_since: dt.date | None
    """Off therapy: the first day no immunosuppressive agent was active (effect windows included)."""
    agents: tuple[TherapyAgent, ...]
    glucocorticoid: GlucocorticoidExposure
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()


@value_object
class SafetyCheck:
    """One item of the safety companion (§15)."""

    id: str
    status: Literal["done", "missing", "due", "overdue", "not_applicable", "advice"]
    severity: Literal["info", "warning"]
    reason: str
    due: dt.date | None
    drug: str | None
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()
