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

import datetime as dt
from dataclasses import dataclass
from typing import Final

from myositis_cds.domain.dates import completed_years
from myositis_cds.domain.record import PatientRecord
from myositis_cds.domain.vocabulary import MI2_TARGETS, MSA_TARGETS
from myositis_cds.engine.results import Assessment
from myositis_cds.engine.timeline import Timeline
from myositis_cds.presentation.assessment_builder import ResultViews
from myositis_cds.presentation.labels import (
    EMPTY,
    clean,
    drug_label,
    fmt_date,
    fmt_dose,
    fmt_number,
    label,
    plain,
)
from myositis_cds.presentation.numbering import Marks

__all__ = [
    "ActNow",
    "AlertLine",
    "DueLine",
    "ResponseLine",
    "TherapyLine",
    "Who",
    "build_act_now",
]

DUE_ORDER: Final = ("overdue", "due", "missing", "inadequate")
"""Due items are listed in this order (then by date)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Who:
    name: str
    facts: tuple[str, ...]
    """Age, sex, diagnosis, antibodies, weight: each already in words ("52 years", …)."""


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
    detail: str
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
    plan: str
    """The plan in one line (the severity tier, and where the options are)."""
    alerts: tuple[AlertLine, ...]
    """Critical, then warning alerts."""
    info_alerts: int
    not_evaluable_alerts: int
    due: tuple[DueLine, ...]
    therapy: tuple[TherapyLine, ...] | None
    """None: the caller had no record (the therapy is then not shown, rather than "none")."""
    response: ResponseLine | None
    response_note: str
    """Why there is no score (when ``response`` is None)."""

    @property
    def counts(self) -> dict[str, int]:
        """Alerts by severity, and the overdue items (the header and the patient list show them)."""
        severities = [a.severity for a in self.alerts]
        return {"critical": severities.count("critical"), "warning": severities.count("warning"),
                "info": self.info_alerts, "overdue": sum(d.status == "overdue" for d in self.due)}


def _age(record: PatientRecord, as_of: dt.date) -> str | None:
    if record.birth_date is None:
        return None
    return f"{completed_years(record.birth_date, as_of)} years"


def _antibodies(record: PatientRecord, as_of: dt.date) -> str:
    latest: dict[str, tuple[dt.date, str]] = {}
    for result in record.antibodies:
        if result.date <= as_of:
            target = "Mi-2" if result.target in MI2_TARGETS else result.target
            if target not in latest or result.date >= latest[target][0]:
                latest[target] = (result.date, result.result)
    positive = [t for t in (*MSA_TARGETS, *sorted(latest)) if latest.get(t, (None, ""))[1] == "positive"]
    shown = list(dict.fromkeys(positive))
    if not latest:
        return "no antibody result"
    if not shown:
        return "no antibody positive"
    return "anti-" + ", anti-".join(shown) + " positive"


def _weight(record: PatientRecord, as_of: dt.date) -> str | None:
    measured = [m for m in record.body_measurements if m.weight_kg is not None and m.date <= as_of]
    if not measured:
        return None
    last = max(measured, key=lambda m: m.date)
    return f"{fmt_number(last.weight_kg)} kg ({fmt_date(last.date)})"


def _who(record: PatientRecord, name: str | None, as_of: dt.date) -> Who:
    diagnosis = record.diagnosis
    facts = [
        _age(record, as_of) or "age unknown",
        label("sex", record.sex or "unknown"),
        EMPTY if diagnosis is None else (
            label("diagnosis", diagnosis.name)
            + (f", diagnosed {fmt_date(diagnosis.date)}" if diagnosis.date else "")),
        _antibodies(record, as_of),
        _weight(record, as_of) or "weight not recorded",
    ]
    return Who(name=clean(name or record.id), facts=tuple(facts))


def _dose(dose: float | None, unit: str | None, frequency: str | None) -> str:
    if dose is None:
        return "dose not recorded"
    parts = [fmt_dose(dose), clean(unit) if unit else "", label("frequency", frequency) if frequency else ""]
    return " ".join(p for p in parts if p)


def _therapy(record: PatientRecord, as_of: dt.date) -> tuple[TherapyLine, ...]:
    active = sorted((t for t in record.treatments if t.active_on(as_of)), key=lambda t: (t.start, t.drug))
    return tuple(TherapyLine(drug=drug_label(t.drug), dose=_dose(t.dose, t.unit, t.frequency),
                             since=fmt_date(t.start), duration=_days((as_of - t.start).days))
                 for t in active)


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


class _ActNowBuilder:
    def __init__(self, views: ResultViews, assessment: Assessment) -> None:
        self.views = views
        self.a = assessment

    def alerts(self) -> tuple[AlertLine, ...]:
        lines = []
        for severity in ("critical", "warning"):
            lines += [AlertLine(severity=severity, title=plain(a.title), message=plain(a.message),
                                marks=self.views.num.marks(a, f"Alert: {clean(a.title)}"))
                      for a in self.a.alerts if a.severity == severity]
        return tuple(lines)

    def due(self) -> tuple[DueLine, ...]:
        a, num = self.a, self.views.num
        lines: list[DueLine] = []
        screening = a.cancer_screening
        for occasion in screening.occasions:
            if occasion.status in ("overdue", "due"):
                lines.append(DueLine(
                    status=occasion.status, status_label=label("status", occasion.status),
                    what=label("due", "screening").capitalize(), date=fmt_date(occasion.due),
                    detail=(f"level: {label('status', screening.level)}; window "
                            f"{fmt_date(occasion.window_start)} to {fmt_date(occasion.window_end)}"),
                    marks=num.marks(screening, "Cancer screening")))
        missing = [w for w in a.workup if w.status == "missing"]
        if missing:
            marks = Marks(refs=tuple(dict.fromkeys(n for w in missing for n in num.cite(w.citations))))
            lines.append(DueLine(status="missing", status_label=label("status", "missing"),
                                 what=label("due", "workup").capitalize(), date=EMPTY,
                                 detail=", ".join(label("workup", w.id) for w in missing),
                                 marks=marks))
        judgement = a.response.inadequate_response
        if judgement.status == "inadequate":
            lines.append(DueLine(status="inadequate", status_label=label("status", "inadequate"),
                                 what=label("due", "inadequate_response").capitalize(),
                                 date=fmt_date(judgement.judged_on), date_label="judged",
                                 detail=plain(judgement.reason),
                                 marks=num.marks(judgement, "Response: inadequate response")))
        elif judgement.status == "not_evaluable" and judgement.first_line_start is not None:
            lines.append(DueLine(status="missing", status_label=label("status", "missing"),
                                 what=label("due", "response_review").capitalize(), date=EMPTY,
                                 detail=plain(judgement.reason),
                                 marks=num.marks(judgement, "Response: inadequate response")))
        return tuple(sorted(lines, key=lambda d: (DUE_ORDER.index(d.status), d.date)))

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
    alerts = builder.alerts()
    due = builder.due()
    response, note = builder.response(timeline)
    plan = assessment.treatment_plan
    tier = (f"{label('status', plan.tier)} tier".capitalize() if plan.tier != "not_evaluable" else
            "Severity tier not evaluable (data missing)")
    options = len(plan.regimens)
    return ActNow(
        as_of=fmt_date(assessment.as_of),
        who=None if record is None else _who(record, name, assessment.as_of),
        plan=(f"{tier}: {options} treatment option(s) with doses" if options
              else f"{tier}: no treatment option listed"),
        alerts=alerts, info_alerts=sum(a.severity == "info" for a in assessment.alerts),
        not_evaluable_alerts=len(assessment.alerts_not_evaluable), due=due,
        therapy=None if record is None else _therapy(record, assessment.as_of),
        response=response, response_note=note)

