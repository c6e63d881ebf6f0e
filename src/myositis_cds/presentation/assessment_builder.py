"""The report as display-ready values, shared by the text, Markdown and HTML renderers.

:func:`build_report` reads a typed :class:`~myositis_cds.engine.Assessment` (the engine's result,
handed over by the use case that made it: never a dict rebuilt from JSON) and returns a
:class:`Report` whose fields are already formatted strings, in reading order: header, plan
(severity, treatment, cancer screening), alerts, details (response, work-up, phenotype), notes,
settings, references. Citation and note numbers are assigned while building, in that order, so
they ascend as one reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence

from myositis_cds.engine.results import (
    ASSESSMENT_FORMAT,
    Assessment,
    Note,
    Regimen,
    TherapyAgent,
    TisOutcome,
)
from myositis_cds.presentation.assessment_view import (
    SEVERITY_ORDER,
    AgentView,
    AlertGroup,
    AlertView,
    DoiView,
    FeatureView,
    Header,
    InlineNote,
    Item,
    JudgementView,
    MeasureView,
    NoteView,
    OccasionView,
    PhenotypeView,
    PlanView,
    ReferenceView,
    RegimenView,
    Report,
    SafetyCheckView,
    SafetyView,
    ScreeningView,
    SettingView,
    TherapyView,
    TisView,
    WorkupView,
)
from myositis_cds.presentation.labels import (
    EMPTY,
    clean,
    drug_label,
    fmt_date,
    fmt_dose,
    fmt_number,
    fmt_recorded,
    fmt_setting,
    humanise,
    investigation_label,
    label,
    measure_label,
    plain,
    role_label,
)
from myositis_cds.presentation.numbering import Marks, Numbering
from myositis_cds.scores.imacs_doi import DoiResult
from myositis_cds.scores.tis import TisResult

__all__ = ["ReportBuilder", "ResultViews", "build_report", "regimen_dose"]


def _texts(values: Sequence[object]) -> tuple[str, ...]:
    return tuple(plain(v) for v in values)


def regimen_dose(reg: Regimen) -> tuple[bool, str]:
    """Whether the option's dose was computed, and the dose (or why not) as shown."""
    ok = reg.status == "ok" and reg.dose_min is not None
    unit, basis = clean(reg.unit), clean(reg.basis)
    if ok:
        low, high = fmt_dose(reg.dose_min), fmt_dose(reg.dose_max)
        return ok, f"{low} {unit}" if low == high else f"{low}–{high} {unit}"
    return ok, f"not evaluable: {plain(reg.reason or 'dose not computed')} (basis {basis})"


class ResultViews:
    """Display records of the parts an assessment and a timeline share (a status with its marks,
    inline notes, a TIS, an IMACS DOI, the notes and references), numbered in reading order."""

    def __init__(self, citations: Mapping[str, str]) -> None:
        self.citations = citations
        self.num = Numbering()

    def item(self, status: str | None, result: object, place: str,
             reasons: Sequence[str] | None = None) -> Item:
        own = getattr(result, "reasons", ()) if reasons is None else reasons
        return Item(status=clean(status), label=humanise(status), reasons=_texts(own),
                    marks=self.num.marks(result, place))

    def inline_notes(self, notes: Sequence[Note], place: str) -> tuple[InlineNote, ...]:
        shown = []
        for note in notes:
            number = self.num.note(note, place)
            entry = self.num.entry(number)
            shown.append(InlineNote(number=number, kind=entry.kind, text=entry.text,
                                    refs=self.num.cite(entry.citation_keys)))
        return tuple(shown)

    def references(self) -> tuple[ReferenceView, ...]:
        return tuple(
            ReferenceView(number=n, key=key, known=key in self.citations,
                          text=clean(self.citations.get(key, "reference text not found in the "
                                                             "knowledge pack")))
            for n, key in self.num.keys)

    def note_views(self) -> tuple[NoteView, ...]:
        return tuple(NoteView(number=e.number, kind=e.kind, text=e.text, setting=e.setting,
                              refs=self.num.cite(e.citation_keys), places=tuple(e.places))
                     for e in self.num.notes)

    def tis_view(self, result: TisResult, *, outcome: TisOutcome | None, enzyme: str | None,
                 baseline: dt.date | None, followup: dt.date | None, place: str) -> TisView:
        """A TIS as shown (the assessment's, or one visit's of the timeline)."""
        low, high = result.range if result.range is not None else (None, None)
        measures = tuple(
            MeasureView(
                label=measure_label(m.measure, enzyme), baseline=fmt_recorded(m.baseline),
                followup=fmt_recorded(m.followup), change=fmt_number(m.percent_change),
                points=fmt_number(m.points), worsened=m.worsened,
                remark="" if m.status == "scored" else
                "; ".join(plain(t) for t in (humanise(m.status), m.reason) if t))
            for m in result.measures)
        reasons = (result.reason,) if result.reason else ()
        item = (self.item(result.status, outcome, place, reasons) if outcome is not None else
                Item(status=result.status, label=humanise(result.status), reasons=_texts(reasons),
                     marks=Marks()))
        return TisView(
            item=item, score=fmt_number(result.score),
            range=EMPTY if low is None else f"{fmt_number(low)}–{fmt_number(high)}",
            category=humanise(result.category), population=humanise(result.population),
            baseline_date=fmt_date(baseline), followup_date=fmt_date(followup),
            enzyme=clean(enzyme), measures=measures)

    def doi_view(self, doi: DoiResult, citations: Sequence[str] = ()) -> DoiView:
        reasons = (doi.reason,) if doi.reason else ()
        return DoiView(item=Item(status=doi.status, label=humanise(doi.status),
                                 reasons=_texts(reasons), marks=Marks(refs=self.num.cite(citations))),
                       improved=str(doi.improved_count), worsened=str(doi.worsened_count),
                       missing=tuple(measure_label(m) for m in doi.missing))


def _agent_view(x: TherapyAgent) -> AgentView:
    unit = clean(x.unit) if x.unit else ""
    dose = EMPTY if x.dose is None else " ".join(
        p for p in (fmt_dose(x.dose), unit, label("frequency", x.frequency) if x.frequency else "") if p)
    per_weight = [f"{fmt_dose(x.dose_per_kg)} {unit}/kg" if x.dose_per_kg is not None else "",
                  f"{fmt_dose(x.dose_per_m2)} {unit}/m²" if x.dose_per_m2 is not None else "",
                  f"{fmt_dose(x.prednisone_equivalent_mg_per_day)} mg/day prednisone-eq."
                  if x.prednisone_equivalent_mg_per_day is not None else ""]
    return AgentView(
        drug=drug_label(x.drug) + (f" ({clean(x.name)})" if x.name else ""),
        role=label("role", x.role), dose=dose, per_weight="; ".join(p for p in per_weight if p) or EMPTY,
        since=fmt_date(x.start),
        days_on_dose=(f"until {fmt_date(x.effect_window_until)} (effect window)"
                      if x.effect_window_until else str(x.days_on_dose)))


class ReportBuilder(ResultViews):
    """Builds the display records of one typed :class:`Assessment`, numbering as it goes."""

    def __init__(self, assessment: Assessment, citations: Mapping[str, str]) -> None:
        super().__init__(citations)
        self.a = assessment

    def regimen(self, reg: Regimen) -> RegimenView:
        drug = drug_label(reg.drug)
        ok, dose = regimen_dose(reg)
        basis = clean(reg.basis)
        refs = self.num.cite(reg.citations)
        notes = self.inline_notes(reg.notes, f"Treatment plan: {drug}")
        marks = Marks(refs=refs, notes=tuple(n.number for n in notes))
        safety = tuple(SafetyView(rule_id=clean(s.rule_id), message=plain(s.message),
                                  marks=self.num.marks(s, f"Treatment plan: {drug}"))
                       for s in reg.safety)
        return RegimenView(drug=drug, role=role_label(reg.role), tier=humanise(reg.tier), dose=dose,
                           ok=ok, basis=basis, schedule=clean(reg.schedule), marks=marks,
                           notes=notes, safety=safety)

    def plan(self) -> PlanView:
        plan = self.a.treatment_plan
        regimens = tuple(self.regimen(r) for r in plan.regimens)
        label = humanise(plan.tier)
        return PlanView(tier=clean(plan.tier), label=label, regimens=regimens,
                        mixed_tiers=any(reg.tier != label for reg in regimens),
                        notes=self.inline_notes(plan.notes, "Treatment plan"))

    def screening(self) -> ScreeningView:
        s = self.a.cancer_screening
        occasions = tuple(
            OccasionView(due=fmt_date(o.due), status=o.status, satisfied_by=fmt_date(o.satisfied_by),
                         window=f"{fmt_date(o.window_start)} to {fmt_date(o.window_end)}")
            for o in s.occasions)
        return ScreeningView(item=self.item(s.level, s, "Cancer screening"),
                             investigations=tuple(investigation_label(i)
                                                  for i in s.required_investigations),
                             occasions=occasions)

    def alerts(self) -> tuple[AlertGroup, ...]:
        alerts = self.a.alerts
        known = [s for s in SEVERITY_ORDER if any(a.severity == s for a in alerts)]
        other = sorted({clean(a.severity) for a in alerts} - set(SEVERITY_ORDER))
        groups = []
        for severity in (*known, *other):
            views = tuple(
                AlertView(id=clean(a.id), severity=severity, title=plain(a.title),
                          message=plain(a.message), marks=self.num.marks(a, f"Alert: {clean(a.title)}"))
                for a in alerts if clean(a.severity) == severity)
            groups.append(AlertGroup(severity=severity, label=humanise(severity).capitalize(),
                                     alerts=views))
        return tuple(groups)

    def tis(self) -> TisView:
        t = self.a.response.tis
        return self.tis_view(t.result, outcome=t, enzyme=t.enzyme, baseline=t.baseline_date,
                             followup=t.followup_date, place="Response: TIS")

    def doi(self) -> DoiView:
        response = self.a.response
        return self.doi_view(response.imacs_doi, response.imacs_doi_citations)

    def inadequate(self) -> JudgementView:
        j = self.a.response.inadequate_response
        return JudgementView(item=self.item(j.status, j, "Response: inadequate response",
                                            (j.reason,) if j.reason else ()),
                             first_line_start=fmt_date(j.first_line_start),
                             judged_on=fmt_date(j.judged_on))

    def workup(self) -> tuple[WorkupView, ...]:
        return tuple(
            WorkupView(id=clean(w.id), title=clean(w.title),
                       item=self.item(w.status, w, f"Work-up: {clean(w.title)}"),
                       date=fmt_date(w.date),
                       missing=tuple(investigation_label(m) for m in w.missing))
            for w in self.a.workup)

    def phenotype(self) -> PhenotypeView:
        p = self.a.phenotype
        item = self.item(p.status, p, "Phenotype profile")
        features = tuple(
            FeatureView(statement=plain(f.statement), status=clean(f.status), label=humanise(f.status),
                        date=fmt_date(f.date), marks=self.num.marks(f, "Phenotype profile"))
            for f in p.features)
        return PhenotypeView(item=item, messages=_texts(p.messages), features=features)

    def therapy(self) -> TherapyView:
        t = self.a.current_therapy
        item = Item(status=clean(t.phase), label=label("phase", t.phase),
                    reasons=tuple(plain(r) for r in t.phase_reasons),
                    marks=self.num.marks(t, "Current therapy"))
        agents = tuple(_agent_view(x) for x in t.agents)
        gc = t.glucocorticoid
        exposure = (
            ("Current dose", "not computable (dose, unit or frequency)" if gc.current_mg_per_day is None
             else f"{fmt_dose(gc.current_mg_per_day)} mg/day prednisone-equivalent"
             + (" (pulse today)" if gc.pulse_today else "")),
            ("Days at ≥ 20 mg/day", str(gc.days_at_or_above_20mg)),
            ("Cumulative, this course", f"{fmt_number(gc.course_cumulative_mg, 0)} mg"),
            ("Cumulative, whole record", f"{fmt_number(gc.record_cumulative_mg, 0)} mg"),
            ("Pulse days this course", str(gc.pulse_days_in_course)),
            *((("Not counted", f"{len(gc.not_counted)} entries without a computable dose"),)
              if gc.not_counted else ()))
        return TherapyView(item=item, activity=label("activity", t.activity),
                           activity_reasons=tuple(plain(r) for r in t.activity_reasons),
                           courses=", ".join(fmt_date(c) for c in t.courses) or "none",
                           agents=agents, exposure=exposure)

    def safety(self) -> tuple[SafetyCheckView, ...]:
        views = []
        for x in self.a.safety:
            title = label("safety", x.id)
            title = (title[:1].upper() + title[1:]) + (f": {drug_label(x.drug)}" if x.drug else "")
            views.append(SafetyCheckView(
                title=title, status=clean(x.status), label=label("status", x.status),
                severity=clean(x.severity), due=fmt_date(x.due) if x.due else "",
                reason=plain(x.reason), marks=self.num.marks(x, f"Safety: {title}")))
        return tuple(views)

    def settings(self) -> tuple[SettingView, ...]:
        values = self.a.settings
        overridden = set(self.a.settings_overridden)
        rows = [SettingView(name=clean(k), value=fmt_setting(v), overridden=k in overridden)
                for k, v in values.items()]
        rows += [SettingView(name=clean(name), value=EMPTY, overridden=True)
                 for name in sorted(overridden - set(values))]
        return tuple(rows)

    def header(self, severity: Item, screening: ScreeningView,
               groups: Sequence[AlertGroup], not_evaluable: int) -> Header:
        counts = {g.severity: len(g.alerts) for g in groups}
        alerts = ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITY_ORDER)
        alerts += "".join(f", {n} {s}" for s, n in counts.items() if s not in SEVERITY_ORDER)
        if not_evaluable:
            alerts += f"; {not_evaluable} not evaluable"
        open_occasions = [o.status for o in screening.occasions if o.status in {"due", "overdue"}]
        screen = screening.item.label + "".join(
            f"; {open_occasions.count(s)} occasion(s) {s}" for s in ("overdue", "due")
            if s in open_occasions)
        scope = self.a.scope
        return Header(
            patient_id=clean(self.a.patient_id), as_of=fmt_date(self.a.as_of), pack=clean(self.a.pack),
            version=clean(self.a.version), format=ASSESSMENT_FORMAT,
            scope=Item(status=scope.status, label=humanise(scope.status), reasons=_texts(scope.reasons),
                       marks=Marks()),
            glance=(("Severity tier", severity.label), ("Cancer screening", screen),
                    ("Alerts", alerts)))

    def build(self) -> Report:
        a = self.a
        severity = self.item(a.severity.tier, a.severity, "Severity")
        plan = self.plan()
        screening = self.screening()
        groups = self.alerts()
        not_evaluable = tuple((clean(x.id), plain(x.reason)) for x in a.alerts_not_evaluable)
        therapy, safety = self.therapy(), self.safety()
        tis, doi, inadequate = self.tis(), self.doi(), self.inadequate()
        workup, phenotype = self.workup(), self.phenotype()
        self.num.sweep_notes(a, "elsewhere in the assessment")
        notes = self.note_views()
        self.num.sweep_citations(a)
        digest = hashlib.sha256(f"{a.patient_id}\x00{a.as_of.isoformat()}".encode())
        return Report(
            anchor=f"a{digest.hexdigest()[:10]}",
            header=self.header(severity, screening, groups, len(not_evaluable)),
            severity=severity, plan=plan, screening=screening, alert_groups=groups,
            alerts_not_evaluable=not_evaluable, tis=tis, doi=doi, inadequate=inadequate,
            workup=workup, phenotype=phenotype, therapy=therapy, safety=safety, notes=notes,
            settings=self.settings(),
            references=self.references())


def build_report(assessment: Assessment, citations: Mapping[str, str]) -> Report:
    """The display-ready report of one typed assessment."""
    return ReportBuilder(assessment, citations).build()
