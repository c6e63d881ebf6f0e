"""Display-ready records of one report, shared by the text, Markdown and HTML renderers.

Every field is already a formatted string (or a number for citation and note markers); renderers
only lay them out. :func:`myositis_cds.presentation.assessment_builder.build_report` fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from myositis_cds.presentation.numbering import Marks

if TYPE_CHECKING:
    from myositis_cds.presentation.act_now import ActNow

__all__ = [
    "SEVERITY_ORDER",
    "AlertGroup",
    "AlertView",
    "DoiView",
    "FeatureView",
    "Header",
    "InlineNote",
    "Item",
    "JudgementView",
    "Marks",
    "MeasureView",
    "NoteView",
    "OccasionView",
    "PhenotypeView",
    "PlanView",
    "ReferenceView",
    "RegimenView",
    "Report",
    "SafetyView",
    "ScreeningView",
    "SettingView",
    "TisView",
    "WorkupView",
]

SEVERITY_ORDER: Final = ("critical", "warning", "info")
"""Alert groups are shown in this order; an unknown severity comes after them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """A status with its display label, reasons and marks (severity tier, scope, …)."""

    status: str
    label: str
    reasons: tuple[str, ...]
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    patient_id: str
    as_of: str
    pack: str
    version: str
    format: str
    scope: Item
    glance: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class InlineNote:
    number: int
    kind: str
    text: str
    refs: tuple[int, ...]

    @property
    def marks(self) -> Marks:
        return Marks(refs=self.refs)


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyView:
    rule_id: str
    message: str
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimenView:
    drug: str
    role: str
    tier: str
    dose: str
    ok: bool
    basis: str
    schedule: str
    marks: Marks
    notes: tuple[InlineNote, ...]
    safety: tuple[SafetyView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanView:
    tier: str
    label: str
    regimens: tuple[RegimenView, ...]
    notes: tuple[InlineNote, ...]

    @property
    def marks(self) -> Marks:
        return Marks(notes=tuple(n.number for n in self.notes))

    mixed_tiers: bool
    """Regimens of more than one tier are listed (e.g. when the tier is not evaluable)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OccasionView:
    due: str
    status: str
    satisfied_by: str
    window: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScreeningView:
    item: Item
    investigations: tuple[str, ...]
    occasions: tuple[OccasionView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertView:
    id: str
    severity: str
    title: str
    message: str
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertGroup:
    severity: str
    label: str
    alerts: tuple[AlertView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasureView:
    label: str
    baseline: str
    followup: str
    change: str
    points: str
    worsened: bool | None
    remark: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TisView:
    item: Item
    score: str
    range: str
    category: str
    population: str
    baseline_date: str
    followup_date: str
    enzyme: str
    measures: tuple[MeasureView, ...]

    @property
    def has_remarks(self) -> bool:
        return any(m.remark for m in self.measures)


@dataclass(frozen=True, slots=True, kw_only=True)
class DoiView:
    item: Item
    improved: str
    worsened: str
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class JudgementView:
    item: Item
    first_line_start: str
    judged_on: str


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkupView:
    id: str
    title: str
    item: Item
    date: str
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FeatureView:
    statement: str
    status: str
    label: str
    date: str
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class PhenotypeView:
    item: Item
    messages: tuple[str, ...]
    features: tuple[FeatureView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteView:
    number: int
    kind: str
    text: str
    setting: str | None
    refs: tuple[int, ...]
    places: tuple[str, ...]

    @property
    def marks(self) -> Marks:
        return Marks(refs=self.refs)


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingView:
    name: str
    value: str
    overridden: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceView:
    number: int
    key: str
    text: str
    known: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyCheckView:
    """One item of the safety companion (pack 2026.2), in words."""

    title: str
    status: str
    label: str
    severity: str
    due: str
    reason: str
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentView:
    drug: str
    role: str
    dose: str
    per_weight: str
    since: str
    days_on_dose: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TherapyView:
    """Current therapy (pack 2026.2): phase, disease activity, course, agents, exposure."""

    item: Item
    """The phase (status) with its reasons and marks."""
    activity: str
    activity_reasons: tuple[str, ...]
    courses: str
    agents: tuple[AgentView, ...]
    exposure: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    anchor: str
    """A prefix for HTML ids, stable for one patient and date, so links work in a combined page."""
    header: Header
    severity: Item
    plan: PlanView
    screening: ScreeningView
    alert_groups: tuple[AlertGroup, ...]
    alerts_not_evaluable: tuple[tuple[str, str], ...]
    tis: TisView
    doi: DoiView
    inadequate: JudgementView
    workup: tuple[WorkupView, ...]
    phenotype: PhenotypeView
    therapy: TherapyView
    safety: tuple[SafetyCheckView, ...]
    notes: tuple[NoteView, ...]
    settings: tuple[SettingView, ...]
    references: tuple[ReferenceView, ...]
    act: ActNow | None = None
    """What to do now, shown before the numbered sections (the CLI reports; the patient page and
    the letter show their own)."""
