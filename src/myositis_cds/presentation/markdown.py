"""GitHub-flavoured Markdown report (pipe tables, no raw HTML).

Every value from the assessment is escaped (Markdown punctuation is backslash-escaped, so a value
can neither inject HTML nor break a table); citation markers ``[1]`` and note markers ``[N1]`` are
plain text, because no link reference definitions are written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from myositis_cds.engine.results import Assessment
from myositis_cds.presentation.act_now import ActNow, build_report_with_act_now
from myositis_cds.presentation.assessment_view import InlineNote, Item, Report
from myositis_cds.presentation.labels import EMPTY

__all__ = ["md_escape", "render_markdown"]

_PUNCTUATION: Final = re.compile(r"([\\`*_\[\]<>|&~])")
_LINE_START: Final = re.compile(r"^(\d{1,9})([.)])(?=\s|$)|^([#+-])(?=\s|$)")


def md_escape(text: str) -> str:
    """``text`` safe for an inline position or a table cell of a GFM document."""
    escaped = _PUNCTUATION.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped)


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _status(item: Item) -> str:
    return _join(f"**{md_escape(item.label)}**", item.marks.as_text())


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GFM pipe table; cells are already escaped Markdown."""
    return ["", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(cell or " " for cell in row) + " |" for row in rows), ""]


def _bullets(items: Sequence[str], indent: str = "") -> list[str]:
    return [f"{indent}- {md_escape(item)}" for item in items]


def _inline_notes(notes: Sequence[InlineNote], indent: str) -> list[str]:
    return [f"{indent}- *Note N{n.number}* ({md_escape(n.kind)}): "
            + _join(md_escape(n.text), n.marks.as_text()) for n in notes]


def _header(r: Report) -> list[str]:
    h = r.header
    scope = md_escape(h.scope.label)
    if h.scope.reasons:
        scope += " — " + md_escape("; ".join(h.scope.reasons))
    lines = [f"# myositis-cds assessment — {md_escape(h.patient_id)}", "",
             f"- **Patient:** {md_escape(h.patient_id)}",
             f"- **Assessed as of:** {md_escape(h.as_of)}",
             f"- **Knowledge pack:** {md_escape(h.pack)} {md_escape(h.version)} "
             f"({md_escape(h.format)})",
             f"- **Scope:** {scope}", ""]
    if h.scope.status != "in_scope":
        lines += [f"> **{md_escape(h.scope.label.upper())}:** knowledge pack {md_escape(h.pack)} "
                  f"{md_escape(h.version)} may not apply to this patient.", ">",
                  *(f"> - {md_escape(reason)}" for reason in h.scope.reasons), ">",
                  "> Read every result below with this in mind.", ""]
    lines.append("**At a glance:** " + " · ".join(
        f"{md_escape(label)}: **{md_escape(value)}**" for label, value in h.glance))
    return lines


def _act_now(act: ActNow) -> list[str]:
    """What to do now: the actions, the phase, what is due, the current therapy, the response."""
    lines = ["", "## What to do now", ""]
    if not act.actions:
        lines.append("No action.")
    for index, action in enumerate(act.actions, start=1):
        dose = "" if action.dose == EMPTY else f" — **{md_escape(action.dose)}**"
        lines += [_join(f"{index}. **{md_escape(action.label)} {md_escape(action.what)}**{dose}",
                        action.marks.as_text()), f"   - {md_escape(action.reason)}"]
    lines += ["", md_escape(act.phase), ""]
    if act.alerts:
        lines += ["**Alerts**", ""] + [
            _join(f"- **{md_escape(a.severity)}:** {md_escape(a.title)}", a.marks.as_text())
            for a in act.alerts] + [""]
    lines += ["**Due, overdue and missing**", ""]
    lines += [_join(f"- **{md_escape(d.status_label)}:** {md_escape(d.what)}"
                    + ("" if d.date == EMPTY else f" ({md_escape(d.date_label)} {md_escape(d.date)})"),
                    d.marks.as_text()) + f" — {md_escape(d.detail)}" for d in act.due] or [
        "- Nothing due or overdue."]
    lines += ["", "**Current therapy**", ""]
    lines += [f"- {md_escape(t.drug)}: {md_escape(t.dose)}, since {md_escape(t.since)} "
              f"({md_escape(t.duration)})" for t in act.therapy] or ["- No treatment active."]
    if act.glucocorticoid:
        lines += ["", md_escape(act.glucocorticoid)]
    response = act.response
    lines += ["", "**Latest response:** " + (
        _join(f"TIS {md_escape(response.score)}, {md_escape(response.category)}, on "
              f"{md_escape(response.date)} ({md_escape(response.trend)})", response.marks.as_text())
        if response else f"no score ({md_escape(act.response_note)})")]
    return lines


def _plan(r: Report) -> list[str]:
    lines = ["", "## 1. Plan", "", f"### Severity tier: {_status(r.severity)}", "",
             *_bullets(r.severity.reasons), "",
             _join(f"### Treatment plan ({md_escape(r.plan.label)} tier)", r.plan.marks.as_text()), ""]
    lines += _inline_notes(r.plan.notes, "")
    if r.plan.notes:
        lines.append("")
    if not r.plan.regimens:
        lines.append("No regimen is recommended.")
    for index, reg in enumerate(r.plan.regimens, start=1):
        role = f"{reg.role}; {reg.tier} tier" if r.plan.mixed_tiers else reg.role
        lines.append(_join(f"{index}. **{md_escape(reg.drug)}** ({md_escape(role)}): "
                           f"**{md_escape(reg.dose)}**", reg.marks.as_text()))
        if reg.ok:
            lines.append(f"   - Basis: {md_escape(reg.basis)}")
        lines.append(f"   - Schedule: {md_escape(reg.schedule)}")
        lines += _inline_notes(reg.notes, "   ")
        lines += [f"   - Safety: {_join(md_escape(s.message), s.marks.as_text())}" for s in reg.safety]
    s = r.screening
    lines += ["", f"### Cancer screening: {_status(s.item)}", "",
              f"- **Reasons:** {md_escape('; '.join(s.item.reasons) or '—')}",
              f"- **Required investigations:** {md_escape('; '.join(s.investigations) or 'none')}"]
    if s.occasions:
        lines += _table(["Due", "Status", "Satisfied by", "Window"],
                        [[md_escape(o.due),
                          f"**{md_escape(o.status)}**" if o.status in {"due", "overdue"}
                          else md_escape(o.status),
                          md_escape(o.satisfied_by), md_escape(o.window)] for o in s.occasions])
    else:
        lines += ["- **Occasions:** none scheduled", ""]
    return lines


def _alerts(r: Report) -> list[str]:
    lines = ["## 2. Alerts", ""]
    if not r.alert_groups:
        lines += ["No alert fired.", ""]
    for group in r.alert_groups:
        lines += [f"### {md_escape(group.label)} ({len(group.alerts)})", ""]
        for alert in group.alerts:
            lines += [_join(f"- **{md_escape(alert.severity.upper())} {md_escape(alert.id)}** — "
                            f"{md_escape(alert.title)}", alert.marks.as_text()),
                      "", f"  {md_escape(alert.message)}", ""]
    lines += ["### Alerts not evaluable", ""]
    if r.alerts_not_evaluable:
        lines += [f"- **{md_escape(alert_id)}:** {md_escape(reason)}"
                  for alert_id, reason in r.alerts_not_evaluable]
    else:
        lines.append("None: every alert rule had the inputs it needs.")
    return lines


def _therapy(r: Report) -> list[str]:
    t = r.therapy
    lines = ["", "### Current therapy", "", f"- **Phase:** {_status(t.item)}",
             *_bullets(t.item.reasons, "  "), f"- **Disease activity:** **{md_escape(t.activity)}**",
             *_bullets(t.activity_reasons, "  "), f"- **Courses started:** {md_escape(t.courses)}"]
    if t.agents:
        lines += _table(["Drug", "Role", "Dose", "Per weight", "Since", "Days on dose"],
                        [[md_escape(x.drug), md_escape(x.role), md_escape(x.dose),
                          md_escape(x.per_weight), md_escape(x.since), md_escape(x.days_on_dose)]
                         for x in t.agents])
    else:
        lines += ["", "No agent active on the assessment date.", ""]
    lines += ["**Glucocorticoid exposure:**", "",
              *(f"- **{md_escape(name)}:** {md_escape(value)}" for name, value in t.exposure),
              "", "### Safety companion", ""]
    if not r.safety:
        lines.append("No safety item applies.")
    lines += [f"- **{md_escape(x.label)}:** " + _join(
        md_escape(x.title) + (f" (due {md_escape(x.due)})" if x.due else "") + " — "
        + md_escape(x.reason), x.marks.as_text()) for x in r.safety]
    return lines


def _details(r: Report) -> list[str]:
    t, d, j = r.tis, r.doi, r.inadequate
    lines = ["", "## 3. Details", *_therapy(r), "", "### Response", "",
             f"#### Total Improvement Score (TIS): {_status(t.item)}", "",
             *(f"- **Reason:** {md_escape(reason)}" for reason in t.item.reasons),
             f"- **Score:** {md_escape(t.score)} (range {md_escape(t.range)}); **category:** "
             f"{md_escape(t.category)}; **population:** {md_escape(t.population)}",
             f"- **Baseline:** {md_escape(t.baseline_date)}; **follow-up:** "
             f"{md_escape(t.followup_date)}; **enzyme followed:** {md_escape(t.enzyme)}"]
    if t.measures:
        headers = ["Measure", "Baseline", "Follow-up", "% change", "Points", "Worsened"]
        rows = [[md_escape(m.label), md_escape(m.baseline), md_escape(m.followup),
                 md_escape(m.change), md_escape(m.points),
                 "—" if m.worsened is None else ("**yes**" if m.worsened else "no")]
                for m in t.measures]
        if t.has_remarks:
            headers.append("Remark")
            rows = [[*row, md_escape(m.remark)] for row, m in zip(rows, t.measures, strict=True)]
        lines += _table(headers, rows)
    lines += ["", f"#### IMACS definition of improvement: {_status(d.item)}", "",
              f"- **Measures:** {md_escape(d.improved)} improved, {md_escape(d.worsened)} worsened"
              + (f"; missing: {md_escape(', '.join(d.missing))}" if d.missing else ""),
              *(f"- **Reason:** {md_escape(reason)}" for reason in d.item.reasons),
              "", f"#### Inadequate response after first-line treatment: {_status(j.item)}", "",
              *(f"- **Reason:** {md_escape(reason)}" for reason in j.item.reasons),
              f"- **First-line start:** {md_escape(j.first_line_start)}; **judged on:** "
              f"{md_escape(j.judged_on)}", "", "### Work-up checklist"]
    lines += _table(
        ["ID", "Item", "Status", "Date", "Missing", "Reasons", "Refs"],
        [[md_escape(x.id), md_escape(x.title),
          f"**{md_escape(x.item.label)}**" if x.item.status == "missing" else md_escape(x.item.label),
          md_escape(x.date), md_escape(", ".join(x.missing)), md_escape("; ".join(x.item.reasons)),
          x.item.marks.as_text()] for x in r.workup])
    p = r.phenotype
    quote = [line for m in p.messages for line in (">", f"> {md_escape(m)}")][1:]
    lines += ["### Phenotype profile", "", f"- **Status:** {_status(p.item)}",
              *_bullets(p.item.reasons), "", *quote]
    if p.features:
        lines += _table(["Feature", "Status", "Date", "Refs"],
                        [[md_escape(f.statement), md_escape(f.label), md_escape(f.date),
                          f.marks.as_text()] for f in p.features])
    return lines


def _tail(r: Report) -> list[str]:
    lines = ["## 4. Interpretations and notes", ""]
    if not r.notes:
        lines.append("No interpretation, note or caveat affected this assessment.")
    for n in r.notes:
        where = md_escape("; ".join(n.places))
        setting = f"; setting {md_escape(n.setting)}" if n.setting else ""
        lines.append(_join(f"- **N{n.number}** ({md_escape(n.kind)}): {md_escape(n.text)}",
                           n.marks.as_text()) + f" — *applies to:* {where}{setting}")
    overridden = [s.name for s in r.settings if s.overridden]
    lines += ["", "## 5. Settings", "",
              f"**Overridden from the pack defaults:** {md_escape(', '.join(overridden))}"
              if overridden else "All settings are the knowledge pack defaults."]
    lines += _table(["Setting", "Value", "Overridden"],
                    [[f"**{md_escape(s.name)}**" if s.overridden else md_escape(s.name),
                      md_escape(s.value), "**yes**" if s.overridden else "no"] for s in r.settings])
    lines += ["## 6. References", ""]
    lines += [f"- [{ref.number}] {md_escape(ref.text)} ({md_escape(ref.key)})" for ref in r.references]
    lines += ["", "*Decision support only: check every recommendation against the patient and the "
              "cited sources before acting on it.*"]
    return lines


def render_markdown(assessment: Assessment, citations: Mapping[str, str]) -> str:
    """The GitHub-flavoured Markdown report of one typed assessment."""
    report = build_report_with_act_now(assessment, citations)
    now = _act_now(report.act) if report.act is not None else []
    lines = [*_header(report), *now, *_plan(report), *_alerts(report), *_details(report),
             *_tail(report)]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip("\n") + "\n"
