"""The report as display-ready values, shared by the text, Markdown and HTML renderers.

:func:`build_report` reads an ``myositis-cds/assessment@1`` dict (the output of
:func:`myositis_cds.engine.to_dict`, or the same JSON loaded back) and returns a :class:`Report`
whose fields are already formatted strings, in reading order: header, plan (severity, treatment,
cancer screening), alerts, details (response, work-up, phenotype), notes, settings, references.
Citation and note numbers are assigned while building, in that order, so they ascend as one reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from myositis_cds.entrypoints.report.labels import (
    EMPTY,
    clean,
    drug_label,
    fmt_dose,
    fmt_number,
    fmt_recorded,
    humanise,
    investigation_label,
    measure_label,
    role_label,
)
from myositis_cds.entrypoints.report.numbering import Marks, Numbering
from myositis_cds.entrypoints.report.views import (
    SEVERITY_ORDER,
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
    SafetyView,
    ScreeningView,
    SettingView,
    TisView,
    WorkupView,
)

__all__ = ["ReportBuilder", "as_list", "as_map", "build_report"]


def as_map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _texts(value: object) -> tuple[str, ...]:
    return tuple(clean(v) for v in as_list(value))


class ReportBuilder:
    def __init__(self, document: Mapping[str, Any], citations: Mapping[str, str]) -> None:
        self.doc = document
        self.citations = citations
        self.num = Numbering()

    def item(self, data: Mapping[str, Any], status_key: str, place: str,
             reasons: tuple[str, ...] | None = None) -> Item:
        status = clean(data.get(status_key))
        return Item(status=status, label=humanise(data.get(status_key)),
                    reasons=_texts(data.get("reasons")) if reasons is None else reasons,
                    marks=self.num.marks(data, place))

    def inline_notes(self, notes: object, place: str) -> tuple[InlineNote, ...]:
        shown = []
        for note in as_list(notes):
            if isinstance(note, Mapping):
                number = self.num.note(note, place)
                entry = self.num.entry(number)
                shown.append(InlineNote(number=number, kind=entry.kind, text=entry.text,
                                        refs=self.num.cite(list(entry.citation_keys))))
        return tuple(shown)

    def regimen(self, data: Mapping[str, Any]) -> RegimenView:
        drug = drug_label(data.get("drug"))
        ok = data.get("status") == "ok" and data.get("dose_min") is not None
        unit, basis = clean(data.get("unit")), clean(data.get("basis"))
        if ok:
            low, high = fmt_dose(data.get("dose_min")), fmt_dose(data.get("dose_max"))
            dose = f"{low} {unit}" if low == high else f"{low}–{high} {unit}"
        else:
            dose = f"not evaluable: {clean(data.get('reason') or 'dose not computed')} (basis {basis})"
        marks = Marks(refs=self.num.cite(data.get("citations")))
        notes = self.inline_notes(data.get("notes"), f"Treatment plan: {drug}")
        marks = Marks(refs=marks.refs, notes=tuple(n.number for n in notes))
        safety = tuple(
            SafetyView(rule_id=clean(s.get("rule_id")), message=clean(s.get("message")),
                       marks=self.num.marks(s, f"Treatment plan: {drug}"))
            for s in map(as_map, as_list(data.get("safety"))))
        return RegimenView(drug=drug, role=role_label(data.get("role")),
                           tier=humanise(data.get("tier")), dose=dose, ok=ok,
                           basis=basis, schedule=clean(data.get("schedule")), marks=marks,
                           notes=notes, safety=safety)

    def plan(self) -> PlanView:
        data = as_map(self.doc.get("treatment_plan"))
        regimens = tuple(self.regimen(as_map(r)) for r in as_list(data.get("regimens")))
        label = humanise(data.get("tier"))
        return PlanView(tier=clean(data.get("tier")), label=label, regimens=regimens,
                        mixed_tiers=any(reg.tier != label for reg in regimens),
                        notes=self.inline_notes(data.get("notes"), "Treatment plan"))

    def screening(self) -> ScreeningView:
        data = as_map(self.doc.get("cancer_screening"))
        occasions = tuple(
            OccasionView(due=clean(o.get("due")), status=clean(o.get("status")),
                         satisfied_by=clean(o.get("satisfied_by")),
                         window=f"{clean(o.get('window_start'))} to {clean(o.get('window_end'))}")
            for o in map(as_map, as_list(data.get("occasions"))))
        return ScreeningView(
            item=self.item(data, "level", "Cancer screening"),
            investigations=tuple(investigation_label(i)
                                 for i in as_list(data.get("required_investigations"))),
            occasions=occasions)

    def alerts(self) -> tuple[AlertGroup, ...]:
        alerts = [as_map(a) for a in as_list(self.doc.get("alerts"))]
        known = [s for s in SEVERITY_ORDER if any(a.get("severity") == s for a in alerts)]
        other = sorted({clean(a.get("severity")) for a in alerts} - set(SEVERITY_ORDER))
        groups = []
        for severity in (*known, *other):
            views = tuple(
                AlertView(id=clean(a.get("id")), severity=severity, title=clean(a.get("title")),
                          message=clean(a.get("message")),
                          marks=self.num.marks(a, f"Alert {clean(a.get('id'))}"))
                for a in alerts if clean(a.get("severity")) == severity)
            groups.append(AlertGroup(severity=severity, label=humanise(severity).capitalize(),
                                     alerts=views))
        return tuple(groups)

    def tis(self) -> TisView:
        data = as_map(as_map(self.doc.get("response")).get("tis"))
        score_range = as_list(data.get("range"))
        low, high = [*score_range, None, None][:2]
        enzyme = data.get("enzyme")
        reason = data.get("reason")
        measures = tuple(
            MeasureView(
                label=measure_label(m.get("measure"), enzyme), baseline=fmt_recorded(m.get("baseline")),
                followup=fmt_recorded(m.get("followup")), change=fmt_number(m.get("percent_change")),
                points=fmt_number(m.get("points")),
                worsened=m.get("worsened") if isinstance(m.get("worsened"), bool) else None,
                remark="" if m.get("status") == "scored" else
                "; ".join(clean(t) for t in (humanise(m.get("status")), m.get("reason")) if t))
            for m in map(as_map, as_list(data.get("measures"))))
        return TisView(
            item=self.item(data, "status", "Response: TIS",
                           reasons=(clean(reason),) if reason else ()),
            score=fmt_number(data.get("score")),
            range=EMPTY if low is None else f"{fmt_number(low)}–{fmt_number(high)}",
            category=humanise(data.get("category")), population=humanise(data.get("population")),
            baseline_date=clean(data.get("baseline_date")),
            followup_date=clean(data.get("followup_date")),
            enzyme=clean(enzyme), measures=measures)

    def doi(self) -> DoiView:
        data = as_map(as_map(self.doc.get("response")).get("imacs_doi"))
        reason = data.get("reason")
        return DoiView(item=self.item(data, "status", "Response: IMACS DOI",
                                      reasons=(clean(reason),) if reason else ()),
                       improved=clean(data.get("improved_count")),
                       worsened=clean(data.get("worsened_count")),
                       missing=tuple(measure_label(m) for m in as_list(data.get("missing"))))

    def inadequate(self) -> JudgementView:
        data = as_map(as_map(self.doc.get("response")).get("inadequate_response"))
        reason = data.get("reason")
        return JudgementView(item=self.item(data, "status", "Response: inadequate response",
                                            reasons=(clean(reason),) if reason else ()),
                             first_line_start=clean(data.get("first_line_start")),
                             judged_on=clean(data.get("judged_on")))

    def workup(self) -> tuple[WorkupView, ...]:
        return tuple(
            WorkupView(id=clean(w.get("id")), title=clean(w.get("title")),
                       item=self.item(w, "status", f"Work-up {clean(w.get('id'))}"),
                       date=clean(w.get("date")),
                       missing=tuple(investigation_label(m) for m in as_list(w.get("missing"))))
            for w in map(as_map, as_list(self.doc.get("workup"))))

    def phenotype(self) -> PhenotypeView:
        data = as_map(self.doc.get("phenotype"))
        item = self.item(data, "status", "Phenotype profile")
        features = tuple(
            FeatureView(statement=clean(f.get("statement")), status=clean(f.get("status")),
                        label=humanise(f.get("status")), date=clean(f.get("date")),
                        marks=self.num.marks(f, "Phenotype profile"))
            for f in map(as_map, as_list(data.get("features"))))
        return PhenotypeView(item=item, messages=_texts(data.get("messages")), features=features)

    def settings(self) -> tuple[SettingView, ...]:
        data = as_map(self.doc.get("settings"))
        values = as_map(data.get("values"))
        overridden = set(_texts(data.get("overridden")))
        rows = [SettingView(name=clean(k), value=fmt_recorded(v), overridden=clean(k) in overridden)
                for k, v in values.items()]
        rows += [SettingView(name=name, value=EMPTY, overridden=True)
                 for name in sorted(overridden - {clean(k) for k in values})]
        return tuple(rows)

    def header(self, severity: Item, screening: ScreeningView,
               groups: Sequence[AlertGroup], not_evaluable: int) -> Header:
        knowledge = as_map(self.doc.get("knowledge"))
        scope = as_map(self.doc.get("scope"))
        counts = {g.severity: len(g.alerts) for g in groups}
        alerts = ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITY_ORDER)
        alerts += "".join(f", {n} {s}" for s, n in counts.items() if s not in SEVERITY_ORDER)
        if not_evaluable:
            alerts += f"; {not_evaluable} not evaluable"
        open_occasions = [o.status for o in screening.occasions if o.status in {"due", "overdue"}]
        screen = screening.item.label + "".join(
            f"; {open_occasions.count(s)} occasion(s) {s}" for s in ("overdue", "due")
            if s in open_occasions)
        return Header(
            patient_id=clean(self.doc.get("patient_id")), as_of=clean(self.doc.get("as_of")),
            pack=clean(knowledge.get("pack")), version=clean(knowledge.get("version")),
            format=clean(self.doc.get("format")),
            scope=Item(status=clean(scope.get("status")), label=humanise(scope.get("status")),
                       reasons=_texts(scope.get("reasons")), marks=Marks()),
            glance=(("Severity tier", severity.label), ("Cancer screening", screen),
                    ("Alerts", alerts)))

    def build(self) -> Report:
        severity = self.item(as_map(self.doc.get("severity")), "tier", "Severity")
        plan = self.plan()
        screening = self.screening()
        groups = self.alerts()
        not_evaluable = tuple((clean(a.get("id")), clean(a.get("reason")))
                              for a in map(as_map, as_list(self.doc.get("alerts_not_evaluable"))))
        tis, doi, inadequate = self.tis(), self.doi(), self.inadequate()
        workup, phenotype = self.workup(), self.phenotype()
        self.num.sweep_notes(self.doc)
        notes = tuple(NoteView(number=e.number, kind=e.kind, text=e.text, setting=e.setting,
                               refs=self.num.cite(list(e.citation_keys)), places=tuple(e.places))
                      for e in self.num.notes)
        self.num.sweep_citations(self.doc)
        references = tuple(
            ReferenceView(number=n, key=key, known=key in self.citations,
                          text=clean(self.citations.get(key, "reference text not found in the "
                                                                 "knowledge pack")))
            for n, key in self.num.keys)
        digest = hashlib.sha256(f"{self.doc.get('patient_id')}\x00{self.doc.get('as_of')}".encode())
        return Report(
            anchor=f"a{digest.hexdigest()[:10]}",
            header=self.header(severity, screening, groups, len(not_evaluable)),
            severity=severity, plan=plan, screening=screening, alert_groups=groups,
            alerts_not_evaluable=not_evaluable, tis=tis, doi=doi, inadequate=inadequate,
            workup=workup, phenotype=phenotype, notes=notes, settings=self.settings(),
            references=references)


def build_report(assessment: Mapping[str, Any], citations: Mapping[str, str]) -> Report:
    """The display-ready report of one ``myositis-cds/assessment@1`` dict."""
    return ReportBuilder(assessment, citations).build()
