"""The patient page's content: act now first, everything else one click away, one reference list.

:func:`render_patient_page` lays out the typed results of one patient on one date (the validated
record, its assessment and timeline, and the trend figures' markup) as an HTML fragment: the
"act now" block (:mod:`.act_now`) on the first screen, then native ``<details>`` sections that need
no JavaScript — treatment options with doses, all alerts, cancer screening, work-up, response,
visits over time, trend figures, phenotype, interpretations and settings — and a provenance view
with the rule IDs, knowledge version and record paths behind each result. Citations and notes are
numbered once for the whole page, in reading order, and listed once at its end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine.results import Assessment, InputRef
from myositis_cds.engine.timeline import Timeline
from myositis_cds.presentation.act_now import ActNow, build_act_now
from myositis_cds.presentation.assessment_builder import ReportBuilder
from myositis_cds.presentation.assessment_view import NoteView, ReferenceView, Report
from myositis_cds.presentation.html import jinja_environment, without_scripts
from myositis_cds.presentation.labels import clean, fmt_date, fmt_recorded, label
from myositis_cds.presentation.timeline_report import TimelineReport, build_timeline_report

__all__ = ["PatientPage", "ProvenanceRow", "build_patient_page", "provenance_rows", "render_patient_page"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenanceRow:
    """One result and where it came from: rule, pack version, codes and record values."""

    what: str
    rule_id: str
    version: str
    codes: str
    inputs: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientPage:
    anchor: str
    act: ActNow
    report: Report
    timeline: TimelineReport
    provenance: tuple[ProvenanceRow, ...]
    notes: tuple[NoteView, ...]
    references: tuple[ReferenceView, ...]


def _inputs(inputs: tuple[InputRef, ...]) -> tuple[str, ...]:
    return tuple(f"{clean(i.source)} {clean(i.name)} = {fmt_recorded(i.value)}"
                 + (f" {clean(i.unit)}" if i.unit else "")
                 + (f" ({fmt_date(i.date)})" if i.date else "") for i in inputs)


def provenance_rows(a: Assessment) -> tuple[ProvenanceRow, ...]:
    """Every result of ``a`` with its rule ID, version, status codes and record inputs."""
    rows = [ProvenanceRow(what="Phenotype profile", rule_id=a.phenotype.rule_id,
                          version=a.phenotype.knowledge_version, codes=a.phenotype.status,
                          inputs=_inputs(a.phenotype.inputs)),
            ProvenanceRow(what="Severity tier", rule_id=a.severity.rule_id,
                          version=a.severity.knowledge_version, codes=a.severity.tier,
                          inputs=_inputs(a.severity.inputs)),
            ProvenanceRow(what="Cancer screening", rule_id=a.cancer_screening.rule_id,
                          version=a.cancer_screening.knowledge_version, codes=a.cancer_screening.level,
                          inputs=_inputs(a.cancer_screening.inputs))]
    t = a.current_therapy
    rows.append(ProvenanceRow(what="Current therapy", rule_id=t.rule_id, version=t.knowledge_version,
                              codes=f"{t.phase}; {t.activity}", inputs=_inputs(t.inputs)))
    rows += [ProvenanceRow(what=f"Action: {label('action', x.action)} "
                           + (label("drug", x.drug) if x.drug else label("agent_class", x.agent_class or "")),
                           rule_id=x.rule_id, version=x.knowledge_version,
                           codes="; ".join(c for c in (x.action, x.drug or x.agent_class or "") if c),
                           inputs=_inputs(x.inputs)) for x in a.treatment_plan.actions]
    rows += [ProvenanceRow(what=f"Safety: {label('safety', x.id)}"
                           + (f" ({label('drug', x.drug)})" if x.drug else ""),
                           rule_id=x.rule_id, version=x.knowledge_version,
                           codes=f"{x.id}; {x.status}", inputs=_inputs(x.inputs)) for x in a.safety]
    rows += [ProvenanceRow(what=f"Work-up: {label('workup', w.id)}", rule_id=w.rule_id,
                           version=w.knowledge_version,
                           codes="; ".join([w.status, *w.missing]), inputs=_inputs(w.inputs))
             for w in a.workup]
    rows += [ProvenanceRow(what=f"Treatment option: {label('drug', r.drug)}", rule_id=r.rule_id,
                           version=r.knowledge_version, codes=f"{r.drug}; {r.role}; {r.status}",
                           inputs=_inputs(r.inputs)) for r in a.treatment_plan.regimens]
    tis, judgement = a.response.tis, a.response.inadequate_response
    rows += [ProvenanceRow(what="Total Improvement Score", rule_id=tis.rule_id,
                           version=tis.knowledge_version,
                           codes=f"{tis.result.status}; {tis.result.category or '—'}",
                           inputs=_inputs(tis.inputs)),
             ProvenanceRow(what="Inadequate response", rule_id=judgement.rule_id,
                           version=judgement.knowledge_version, codes=judgement.status,
                           inputs=_inputs(judgement.inputs))]
    rows += [ProvenanceRow(what=f"Alert: {clean(x.title)}", rule_id=x.rule_id, version=x.knowledge_version,
                           codes=f"{x.id}; {x.severity}", inputs=_inputs(x.inputs)) for x in a.alerts]
    rows += [ProvenanceRow(what="Alert not evaluable", rule_id=x.id, version=a.version,
                           codes=clean(x.reason), inputs=()) for x in a.alerts_not_evaluable]
    return tuple(rows)


def build_patient_page(*, record: PatientRecord, assessment: Assessment, timeline: Timeline,
                       citations: Mapping[str, str], name: str | None = None) -> PatientPage:
    """The page's display records, numbered in reading order with one numbering."""
    builder = ReportBuilder(assessment, citations)
    act = build_act_now(builder, assessment, record=record, timeline=timeline, name=name)
    report = builder.build()
    timeline_report = build_timeline_report(timeline, citations, views=builder)
    builder.num.sweep_notes(timeline, "timeline")
    builder.num.sweep_citations(timeline)
    digest = hashlib.sha256(f"page\x00{assessment.patient_id}\x00{assessment.as_of}".encode())
    return PatientPage(anchor=f"p{digest.hexdigest()[:10]}", act=act, report=report,
                       timeline=timeline_report, provenance=provenance_rows(assessment),
                       notes=builder.note_views(), references=builder.references())


def render_patient_page(*, record: PatientRecord, assessment: Assessment, timeline: Timeline,
                        citations: Mapping[str, str], figures: str = "", name: str | None = None) -> str:
    """The patient page's content as an HTML fragment (autoescaped; ``figures`` is our own figure
    markup, stripped of anything that could run script)."""
    page = build_patient_page(record=record, assessment=assessment, timeline=timeline,
                              citations=citations, name=name)
    figure_markup = Markup(without_scripts(figures))  # noqa: S704 - our figure markup, script-free
    return jinja_environment().get_template("patient_page.html.j2").render(p=page, figures=figure_markup)
