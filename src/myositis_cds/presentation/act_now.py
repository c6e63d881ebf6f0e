"""What a clinician between two patients must see first: the "act now" summary of one patient.

:func:`build_act_now` turns the typed results (the assessment, and where the caller has them the
validated record and the timeline) into display-ready lines: who the patient is, the plan's
actions, the critical and warning alerts, what is overdue, due or missing (with dates), the
current therapy with doses and duration, and the latest Total Improvement Score with its category
and trend. The patient page, the print letter and the text, Markdown and HTML reports all render
this one :class:`ActNow`, so the words are written once. Every word for a code comes from the
labels table (:mod:`.labels`); engine reasons pass through :func:`~.labels.plain`. Citation
numbers come from the caller's :class:`~.assessment_builder.ResultViews`, so a page that shows
the summary and the details has one numbered reference list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Final

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine.results import (
    Assessment,
    CurrentTherapy,
    SafetyCheck,
    ScreeningOccasion,
    TherapyAgent,
)
from myositis_cds.engine.timeline import Timeline
from myositis_cds.presentation.assessment_builder import ReportBuilder, ResultViews
from myositis_cds.presentation.assessment_view import Report
from myositis_cds.presentation.labels import (
    EMPTY,
    clean,
    drug_label,
    fmt_date,
    fmt_dose,
    fmt_number,
    label,
    labels,
    plain,
)
from myositis_cds.presentation.numbering import Marks
from myositis_cds.presentation.who import Who, who_is

__all__ = [
    "ActNow",
    "ActionLine",
    "AlertLine",
    "DueLine",
    "ResponseLine",
    "TherapyLine",
    "Who",
    "build_act_now",
    "build_report_with_act_now",
]

DUE_ORDER: Final = ("overdue", "due", "missing", "inadequate")
"""Due items are listed in this order (then by date)."""
URGENT: Final = frozenset({"overdue", "inadequate"})
"""Due items that are always shown in full, as is a missing one whose date has passed (the
patient list counts that as overdue)."""
INFECTION_SCREENING: Final = frozenset({"SAFETY-HBV", "SAFETY-HCV", "SAFETY-HIV", "SAFETY-TB"})
"""Safety checks shown on one line when several have the same status and no date."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertLine:
    severity: str
    title: str
    message: str
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class DueLine:
    status: str
    """``overdue``, ``due``, ``missing`` or ``inadequate`` (its tone on the page)."""
    status_label: str
    what: str
    date: str
    """The date it was or is due, or judged (or :data:`EMPTY` where there is none)."""
    date_label: str = "due"
    items: str = ""
    """What the line groups, in words (e.g. the infection tests of one status), or ""."""
    detail: str
    marks: Marks
    urgent: bool = False
    """Overdue, an inadequate response, or missing past its date: never folded away."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionLine:
    """One step of the plan (pack 2026.2): start, add, pulse, review dose, taper, continue, …"""

    action: str
    label: str
    what: str
    dose: str
    reason: str
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class TherapyLine:
    drug: str
    dose: str
    since: str
    duration: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseLine:
    score: str
    category: str
    category_code: str
    date: str
    trend: str
    """How the score moved since the previous scored visit, or why there is no trend."""
    marks: Marks


@dataclass(frozen=True, slots=True, kw_only=True)
class ActNow:
    as_of: str
    who: Who | None
    actions: tuple[ActionLine, ...]
    """What to do now, relative to the current regimen, in the order to act."""
    phase_name: str
    """The phase ("Induction", …); with :attr:`phase_reasons` and :attr:`activity` it makes
    :attr:`phase` (a phone shows the name and the activity, the reasons are in the details)."""
    phase_reasons: str
    activity: str
    plan: str
    """The plan in one line (the severity tier, and where the options are)."""
    alerts: tuple[AlertLine, ...]
    """Critical, then warning alerts."""
    info_alerts: int
    not_evaluable_alerts: int
    due: tuple[DueLine, ...]
    therapy: tuple[TherapyLine, ...]
    """The agents active on the assessment date (from the engine's current therapy)."""
    glucocorticoid: str
    """Glucocorticoid exposure in one line ("" when none was ever given)."""
    response: ResponseLine | None
    response_note: str
    """Why there is no score (when ``response`` is None)."""

    @property
    def phase(self) -> str:
        """Where the patient is: the phase, why, and the disease activity (one line)."""
        reasons = f" — {self.phase_reasons}" if self.phase_reasons else ""
        return f"{self.phase_name}{reasons}. Disease activity: {self.activity}."

    @property
    def changes(self) -> tuple[ActionLine, ...]:
        """The actions that change something (start, add, pulse, taper, review dose, …)."""
        return tuple(a for a in self.actions if a.action != "continue")

    @property
    def continued(self) -> tuple[ActionLine, ...]:
        """The agents to continue unchanged (the page lists them on one line)."""
        return tuple(a for a in self.actions if a.action == "continue")

    @property
    def counts(self) -> dict[str, int]:
        """Alerts by severity, and the overdue items (the header and the patient list show them)."""
        severities = [a.severity for a in self.alerts]
        return {"critical": severities.count("critical"), "warning": severities.count("warning"),
                "info": self.info_alerts, "overdue": sum(d.status == "overdue" for d in self.due)}


def _dose(dose: float | None, unit: str | None, frequency: str | None) -> str:
    if dose is None:
        return "dose not recorded"
    parts = [fmt_dose(dose), clean(unit) if unit else "", label("frequency", frequency) if frequency else ""]
    return " ".join(p for p in parts if p)


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def _agent(agent: TherapyAgent) -> TherapyLine:
    dose = _dose(agent.dose, agent.unit, agent.frequency)
    per = [f"{fmt_dose(agent.dose_per_kg)} {clean(agent.unit)}/kg" if agent.dose_per_kg is not None
           else "", f"{fmt_dose(agent.dose_per_m2)} {clean(agent.unit)}/m²"
           if agent.dose_per_m2 is not None else ""]
    per_text = ", ".join(p for p in per if p)
    name = drug_label(agent.drug) + (f" ({clean(agent.name)})" if agent.name else "")
    if agent.effect_window_until is not None:
        return TherapyLine(drug=name, dose=dose, since=fmt_date(agent.start),
                           duration=f"last given, active until {fmt_date(agent.effect_window_until)}")
    return TherapyLine(drug=name, dose=f"{dose} ({per_text})" if per_text else dose,
                       since=fmt_date(agent.start), duration=f"{_days(agent.days_on_dose)} on this dose")


def _glucocorticoid(therapy: CurrentTherapy) -> str:
    gc = therapy.glucocorticoid
    if gc.record_cumulative_mg == 0 and not gc.not_counted:
        return ""
    current = ("dose not computable" if gc.current_mg_per_day is None
               else f"{fmt_dose(gc.current_mg_per_day)} mg/day prednisone-equivalent now")
    parts = [current + (" (pulse today)" if gc.pulse_today else ""),
             f"{gc.days_at_or_above_20mg} days at ≥ 20 mg/day",
             f"{fmt_number(gc.course_cumulative_mg, 0)} mg this course"]
    if gc.record_cumulative_mg != gc.course_cumulative_mg:
        parts.append(f"{fmt_number(gc.record_cumulative_mg, 0)} mg in all")
    return "Glucocorticoid: " + "; ".join(parts)


def _phase(therapy: CurrentTherapy) -> tuple[str, str, str]:
    """The phase, its reasons (the activity evidence is left to the alerts and the details) and
    the disease activity, in words."""
    evidence = "; ".join(therapy.activity_reasons)
    reasons = "; ".join(plain(r) for r in therapy.phase_reasons
                        if not (evidence and r.endswith(evidence)))
    return label("phase", therapy.phase).capitalize(), reasons, label("activity", therapy.activity)


class _ActNowBuilder:
    def __init__(self, views: ResultViews, assessment: Assessment) -> None:
        self.views = views
        self.a = assessment

    def actions(self) -> tuple[ActionLine, ...]:
        lines = []
        for action in self.a.treatment_plan.actions:
            if action.drug is not None:
                what = drug_label(action.drug)
            else:
                kind = label("agent_class", action.agent_class) if action.agent_class else ""
                options = ", ".join(drug_label(o) for o in action.options)
                what = f"{kind} ({options})" if kind and options else kind or options
            dose = EMPTY
            if action.dose_min is not None:
                low, high = fmt_dose(action.dose_min), fmt_dose(action.dose_max)
                dose = (low if low == high else f"{low}–{high}") + f" {clean(action.unit)}"
                if action.action in labels().get("action_dose", {}):
                    dose = f"{label('action_dose', action.action)} {dose}"
            title = label("action", action.action)
            lines.append(ActionLine(action=action.action, label=title, what=what, dose=dose,
                                    reason=plain(action.reason),
                                    marks=self.views.num.marks(action, f"Action: {title} {what}")))
        return tuple(lines)

    def alerts(self) -> tuple[AlertLine, ...]:
        lines = []
        for severity in ("critical", "warning"):
            lines += [AlertLine(severity=severity, title=plain(a.title), message=plain(a.message),
                                marks=self.views.num.marks(a, f"Alert: {clean(a.title)}"))
                      for a in self.a.alerts if a.severity == severity]
        return tuple(lines)

    def due(self) -> tuple[DueLine, ...]:
        """Overdue, due, missing and inadequate items, sorted first and numbered after, so the
        citation markers ascend down the list."""
        a, num = self.a, self.views.num
        entries: list[tuple[str, str, Callable[[], DueLine]]] = []

        def add(status: str, date: str, make: Callable[[], DueLine]) -> None:
            entries.append((status, date, make))

        screening = a.cancer_screening
        for occasion in screening.occasions:
            if occasion.status in ("overdue", "due"):
                add(occasion.status, fmt_date(occasion.due), partial(self.screening_line, occasion))
        missing = [w for w in a.workup if w.status == "missing"]
        if missing:
            add("missing", EMPTY, lambda: DueLine(
                status="missing", status_label=label("status", "missing"),
                what=label("due", "workup").capitalize(), date=EMPTY,
                detail=", ".join(label("workup", w.id) for w in missing),
                marks=Marks(refs=tuple(dict.fromkeys(n for w in missing for n in num.cite(w.citations))))))
        judgement = a.response.inadequate_response
        if judgement.status == "inadequate":
            add("inadequate", fmt_date(judgement.judged_on), lambda: DueLine(
                status="inadequate", status_label=label("status", "inadequate"),
                what=label("due", "inadequate_response").capitalize(),
                date=fmt_date(judgement.judged_on), date_label="judged", detail=plain(judgement.reason),
                marks=num.marks(judgement, "Response: inadequate response")))
        elif judgement.status == "not_evaluable" and judgement.first_line_start is not None:
            add("missing", EMPTY, lambda: DueLine(
                status="missing", status_label=label("status", "missing"),
                what=label("due", "response_review").capitalize(), date=EMPTY,
                detail=plain(judgement.reason),
                marks=num.marks(judgement, "Response: inadequate response")))
        grouped: dict[str, list[SafetyCheck]] = {}
        for item in a.safety:
            if item.status not in ("overdue", "due", "missing"):
                continue
            if item.id in INFECTION_SCREENING and item.due is None:
                grouped.setdefault(item.status, []).append(item)
            else:
                add(item.status, fmt_date(item.due), partial(self.safety_line, item))
        for status, items in grouped.items():
            add(status, EMPTY, partial(self.infection_screening_line, status, tuple(items)))
        entries.sort(key=lambda e: (DUE_ORDER.index(e[0]), e[1]))
        as_of = fmt_date(a.as_of)  # ISO dates: their strings sort as the dates do
        return tuple(replace(line, urgent=line.status in URGENT or (
            line.status == "missing" and line.date not in (EMPTY, "") and line.date <= as_of))
            for line in (make() for _, _, make in entries))

    def screening_line(self, occasion: ScreeningOccasion) -> DueLine:
        screening = self.a.cancer_screening
        return DueLine(
            status=occasion.status, status_label=label("status", occasion.status),
            what=label("due", "screening").capitalize(), date=fmt_date(occasion.due),
            detail=(f"level: {label('status', screening.level)}; window "
                    f"{fmt_date(occasion.window_start)} to {fmt_date(occasion.window_end)}"),
            marks=self.views.num.marks(screening, "Cancer screening"))

    def safety_line(self, item: SafetyCheck) -> DueLine:
        what = label("safety", item.id) + (f": {drug_label(item.drug)}" if item.drug else "")
        return DueLine(status=item.status, status_label=label("status", item.status),
                       what=what[:1].upper() + what[1:], date=fmt_date(item.due),
                       detail=plain(item.reason), marks=self.views.num.marks(item, f"Safety: {what}"))

    def infection_screening_line(self, status: str, items: tuple[SafetyCheck, ...]) -> DueLine:
        """The undated infection tests of one status on one line (hepatitis B, C, HIV, TB)."""
        if len(items) == 1:
            return self.safety_line(items[0])
        names = [label("safety", x.id) for x in items]
        marks = [self.views.num.marks(x, f"Safety: {name}") for x, name in zip(items, names, strict=True)]
        return DueLine(status=status, status_label=label("status", status),
                       what=label("due", "infection_screening").capitalize(), items=", ".join(names),
                       date=EMPTY, detail=" ".join(plain(x.reason) for x in items),
                       marks=Marks(refs=tuple(dict.fromkeys(n for m in marks for n in m.refs)),
                                   notes=tuple(dict.fromkeys(n for m in marks for n in m.notes))))

    def response(self, timeline: Timeline | None) -> tuple[ResponseLine | None, str]:
        tis = self.a.response.tis
        result = tis.result
        if result.status == "not_evaluable" or result.score is None:
            return None, plain(result.reason or "not evaluable")
        trend = "first follow-up visit scored" if timeline is None else self.trend(timeline)
        category = label("status", result.category) if result.category else "category not determined"
        score = fmt_number(result.score)
        if result.status == "incomplete" and result.range is not None:
            score = f"{fmt_number(result.range[0])}–{fmt_number(result.range[1])}"
        return ResponseLine(score=score, category=category, category_code=clean(result.category),
                            date=fmt_date(tis.followup_date), trend=trend,
                            marks=self.views.num.marks(tis, "Response: TIS")), ""

    def trend(self, timeline: Timeline) -> str:
        scores = [(v.date, v.tis.score) for v in timeline.visits
                  if v.tis is not None and v.tis.score is not None]
        if len(scores) < 2:
            return "first scored visit: no trend yet"
        (before_date, before), (_, last) = scores[-2], scores[-1]
        change = last - before
        direction = "up" if change > 0 else "down" if change < 0 else "unchanged"
        amount = "" if change == 0 else f" {fmt_number(abs(change))}"
        return f"{direction}{amount} from {fmt_number(before)} on {fmt_date(before_date)}"


def build_act_now(views: ResultViews, assessment: Assessment, *, record: PatientRecord | None = None,
                  timeline: Timeline | None = None, name: str | None = None) -> ActNow:
    """The act-now summary of ``assessment``; numbers its citations on ``views`` first, so the
    summary's markers are the lowest of the page."""
    builder = _ActNowBuilder(views, assessment)
    actions = builder.actions()
    alerts = builder.alerts()
    due = builder.due()
    response, note = builder.response(timeline)
    phase, reasons, activity = _phase(assessment.current_therapy)
    plan = assessment.treatment_plan
    tier = (f"{label('status', plan.tier)} tier".capitalize() if plan.tier != "not_evaluable" else
            "Severity tier not evaluable (data missing)")
    options = len(plan.regimens)
    return ActNow(
        as_of=fmt_date(assessment.as_of),
        who=None if record is None else who_is(record, name, assessment.as_of),
        actions=actions, phase_name=phase, phase_reasons=reasons, activity=activity,
        plan=(f"{tier}: {options} treatment option(s) with doses" if options
              else f"{tier}: no treatment option listed"),
        alerts=alerts, info_alerts=sum(a.severity == "info" for a in assessment.alerts),
        not_evaluable_alerts=len(assessment.alerts_not_evaluable), due=due,
        therapy=tuple(_agent(agent) for agent in assessment.current_therapy.agents),
        glucocorticoid=_glucocorticoid(assessment.current_therapy),
        response=response, response_note=note)



def build_report_with_act_now(assessment: Assessment, citations: Mapping[str, str]) -> Report:
    """The report of ``assessment`` led by its act-now summary, numbered as one (the CLI's text,
    Markdown and HTML reports: the answer first, then the options, alerts and details)."""
    builder = ReportBuilder(assessment, citations)
    act = build_act_now(builder, assessment)
    return replace(builder.build(), act=act)
