"""Plain-text report (terminal, e-mail, print): fixed-width, wrapped at 100 columns."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Final

from myositis_cds.engine.results import Assessment
from myositis_cds.presentation.act_now import ActNow, build_report_with_act_now
from myositis_cds.presentation.assessment_view import InlineNote, Item, Report
from myositis_cds.presentation.labels import EMPTY

__all__ = ["TextWriter", "render_text"]

WIDTH: Final = 100


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


class TextWriter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def heading(self, title: str, underline: str) -> None:
        self.blank()
        self.lines += [title, underline * len(title)]

    def para(self, text: str, indent: str = "", hanging: str = "") -> None:
        """``text`` wrapped; later lines are indented as far as ``indent``, plus ``hanging``."""
        self.wrap(text, indent, " " * len(indent) + hanging)

    def wrap(self, text: str, first: str, rest: str, width: int = WIDTH) -> None:
        self.lines += textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest,
                                    break_long_words=False, break_on_hyphens=False) or [first.rstrip()]

    def field(self, label: str, text: str, indent: str = "  ", width: int = 0) -> None:
        head = f"{indent}{label}:".ljust(len(indent) + max(width, len(label) + 1) + 1)
        self.wrap(text, head, " " * len(head))

    def bullets(self, items: Sequence[str], indent: str = "  ") -> None:
        for item in items:
            self.wrap(item, f"{indent}- ", f"{indent}  ")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> None:
        """Aligned columns; the last column wraps so that lines stay within ``WIDTH``."""
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        lead = len(indent) + sum(w + 2 for w in widths[:-1])
        widths[-1] = min(widths[-1], max(WIDTH - lead, 30))

        def line(cells: Sequence[str]) -> None:
            head = indent + "".join(c.ljust(w + 2) for c, w in zip(cells[:-1], widths, strict=False))
            self.wrap(cells[-1], head, " " * lead, max(WIDTH, lead + 30))

        for row in [headers, ["-" * w for w in widths], *rows]:
            line(row)


def _status(item: Item) -> str:
    return _join(item.label.upper(), item.marks.as_text())


def _note_lines(w: TextWriter, notes: Sequence[InlineNote], indent: str) -> None:
    for note in notes:
        w.field(f"Note N{note.number}", _join(note.text, note.marks.as_text()), indent, 9)


def _header(w: TextWriter, r: Report) -> None:
    h = r.header
    title = f"myositis-cds assessment — {h.patient_id}"
    w.lines += [title, "=" * len(title)]
    w.field("Patient", h.patient_id, "", 15)
    w.field("Assessed as of", h.as_of, "", 15)
    w.field("Knowledge pack", f"{h.pack} {h.version} ({h.format})", "", 15)
    w.field("Scope", _join(h.scope.label.upper(), "— " + "; ".join(h.scope.reasons)
                           if h.scope.reasons else ""), "", 15)
    if h.scope.status != "in_scope":
        banner = "*" * 78
        w.blank()
        w.lines.append(banner)
        w.para(f"*** {h.scope.label.upper()}: knowledge pack {h.pack} {h.version} may not apply to "
               "this patient.", "", "    ")
        w.bullets(h.scope.reasons, "*** ")
        w.para("*** Read every result below with this in mind.")
        w.lines.append(banner)
    w.blank()
    w.lines.append("At a glance")
    for label, value in h.glance:
        w.field(label, value, "  ", 17)


def _act_now(w: TextWriter, act: ActNow) -> None:
    """What to do now: the actions, the phase, what is due, the current therapy, the response."""
    w.heading("WHAT TO DO NOW", "=")
    w.blank()
    if not act.actions:
        w.para("No action.", "  ")
    for index, action in enumerate(act.actions, start=1):
        dose = "" if action.dose == EMPTY else f" — {action.dose}"
        w.para(_join(f"{index}. {action.label.upper()} {action.what}{dose}", action.marks.as_text()),
               "  ", "   ")
        w.para(action.reason, "     ")
    w.blank()
    w.para(act.phase, "  ")
    if act.alerts:
        w.blank()
        w.lines.append("Alerts")
        for alert in act.alerts:
            w.para(_join(f"{alert.severity.upper()}: {alert.title}", alert.marks.as_text()), "  ",
                   "    ")
    w.blank()
    w.lines.append("Due, overdue and missing")
    if not act.due:
        w.para("Nothing due or overdue.", "  ")
    for item in act.due:
        when = "" if item.date == EMPTY else f" ({item.date_label} {item.date})"
        w.para(_join(f"{item.status_label.upper()}: {item.what}{when}", item.marks.as_text()), "  ",
               "    ")
        w.para(item.detail, "    ")
    w.blank()
    w.lines.append("Current therapy")
    if not act.therapy:
        w.para("No treatment active.", "  ")
    for therapy in act.therapy:
        w.para(f"{therapy.drug}: {therapy.dose}, since {therapy.since} ({therapy.duration})", "  - ",
               "  ")
    if act.glucocorticoid:
        w.para(act.glucocorticoid, "  ")
    w.blank()
    response = act.response
    w.para("Latest response: " + (
        _join(f"TIS {response.score}, {response.category}, on {response.date} ({response.trend})",
              response.marks.as_text()) if response else f"no score ({act.response_note})"))


def _plan(w: TextWriter, r: Report) -> None:
    w.heading("1. PLAN", "=")
    w.blank()
    w.lines.append(f"Severity tier: {_status(r.severity)}")
    w.bullets(r.severity.reasons)
    w.blank()
    w.lines.append(_join(f"Treatment plan ({r.plan.label} tier)", r.plan.marks.as_text()))
    _note_lines(w, r.plan.notes, "  ")
    if not r.plan.regimens:
        w.para("No regimen is recommended.", "  ")
    for index, reg in enumerate(r.plan.regimens, start=1):
        role = f"{reg.role}; {reg.tier} tier" if r.plan.mixed_tiers else reg.role
        w.para(_join(f"{index}. {reg.drug} ({role}): {reg.dose}", reg.marks.as_text()), "  ", "   ")
        if reg.ok:
            w.field("Basis", reg.basis, "       ", 9)
        w.field("Schedule", reg.schedule, "       ", 9)
        _note_lines(w, reg.notes, "       ")
        for item in reg.safety:
            w.field("Safety", _join(item.message, item.marks.as_text()), "       ", 9)
    s = r.screening
    w.blank()
    w.lines.append(f"Cancer screening: {_status(s.item)}")
    w.field("Reasons", "; ".join(s.item.reasons) or "—")
    w.field("Required investigations", "; ".join(s.investigations) or "none")
    if s.occasions:
        w.lines.append("  Occasions:")
        w.table(["Due", "Status", "Satisfied by", "Window"],
                [[o.due, o.status.upper() if o.status in {"due", "overdue"} else o.status,
                  o.satisfied_by, o.window] for o in s.occasions], "    ")
    else:
        w.lines.append("  Occasions: none scheduled")


def _alerts(w: TextWriter, r: Report) -> None:
    w.heading("2. ALERTS", "=")
    if not r.alert_groups:
        w.blank()
        w.lines.append("No alert fired.")
    for group in r.alert_groups:
        w.blank()
        w.lines.append(f"{group.label.upper()} ({len(group.alerts)})")
        symbol = {"critical": "!!!", "warning": "!", "info": "i"}.get(group.severity, "-")
        for alert in group.alerts:
            w.para(_join(f"{symbol} {alert.id} — {alert.title}", alert.marks.as_text()), "  ", "    ")
            w.para(alert.message, "    ", "")
    w.blank()
    w.lines.append("Alerts not evaluable")
    if r.alerts_not_evaluable:
        w.bullets([f"{alert_id}: {reason}" for alert_id, reason in r.alerts_not_evaluable])
    else:
        w.para("none: every alert rule had the inputs it needs", "  ")


def _therapy(w: TextWriter, r: Report) -> None:
    t = r.therapy
    w.heading("Current therapy", "-")
    w.lines.append(f"Phase: {_status(t.item)}")
    w.bullets(t.item.reasons)
    w.lines.append(f"Disease activity: {t.activity.upper()}")
    w.bullets(t.activity_reasons)
    w.field("Courses started", t.courses)
    if t.agents:
        w.lines.append("Agents active on the assessment date:")
        for x in t.agents:
            per_weight = "" if x.per_weight == EMPTY else f" ({x.per_weight})"
            w.para(f"{x.drug} ({x.role}): {x.dose}{per_weight}", "  - ", "  ")
            w.para(f"since {x.since}; days on this dose: {x.days_on_dose}", "    ")
    else:
        w.para("No agent active on the assessment date.", "  ")
    w.lines.append("Glucocorticoid exposure:")
    for name, value in t.exposure:
        w.field(name, value, "  ", 25)
    w.heading("Safety companion", "-")
    if not r.safety:
        w.para("No safety item applies.", "  ")
    for check in r.safety:
        when = f" (due {check.due})" if check.due else ""
        w.para(_join(f"{check.label.upper()}: {check.title}{when}", check.marks.as_text()), "  ", "    ")
        w.para(check.reason, "    ")


def _details(w: TextWriter, r: Report) -> None:
    w.heading("3. DETAILS", "=")
    _therapy(w, r)
    w.heading("Response", "-")
    t = r.tis
    w.lines.append(f"Total Improvement Score (TIS): {_status(t.item)}")
    for reason in t.item.reasons:
        w.field("Reason", reason)
    w.field("Score", f"{t.score} (range {t.range}); category {t.category}; population {t.population}")
    w.field("Visits", f"baseline {t.baseline_date}, follow-up {t.followup_date}; enzyme {t.enzyme}")
    if t.measures:
        headers = ["Measure", "Baseline", "Follow-up", "% change", "Points", "Worsened"]
        rows = [[m.label, m.baseline, m.followup, m.change, m.points,
                 "—" if m.worsened is None else ("YES" if m.worsened else "no")] for m in t.measures]
        if t.has_remarks:
            headers.append("Remark")
            rows = [[*row, m.remark] for row, m in zip(rows, t.measures, strict=True)]
        w.table(headers, rows, "    ")
    d = r.doi
    w.lines.append(f"IMACS definition of improvement: {_status(d.item)}")
    w.field("Measures", f"{d.improved} improved, {d.worsened} worsened"
            + (f"; missing: {', '.join(d.missing)}" if d.missing else ""))
    for reason in d.item.reasons:
        w.field("Reason", reason)
    j = r.inadequate
    w.lines.append(f"Inadequate response after first-line treatment: {_status(j.item)}")
    for reason in j.item.reasons:
        w.field("Reason", reason)
    w.field("Dates", f"first-line start {j.first_line_start}; judged on {j.judged_on}")

    w.heading("Work-up checklist", "-")
    w.table(["ID", "Status", "Date", "Item"],
            [[x.id, x.item.label.upper() if x.item.status == "missing" else x.item.label, x.date,
              _join(x.title, x.item.marks.as_text())] for x in r.workup])
    for x in r.workup:
        extra = ([f"missing: {', '.join(x.missing)}"] if x.missing else []) + list(x.item.reasons)
        if extra:
            w.para(f"{x.id}: {'; '.join(extra)}", "  ", "    ")

    p = r.phenotype
    w.heading("Phenotype profile", "-")
    w.lines.append(f"Status: {_status(p.item)}")
    w.bullets(p.item.reasons)
    for message in p.messages:
        w.wrap(message, "  > ", "    ")
    if p.features:
        w.table(["Status", "Date", "Feature"],
                [[f.label, f.date, _join(f.statement, f.marks.as_text())] for f in p.features])


def _tail(w: TextWriter, r: Report) -> None:
    w.heading("4. INTERPRETATIONS AND NOTES", "=")
    if not r.notes:
        w.para("No interpretation, note or caveat affected this assessment.")
    for n in r.notes:
        w.para(_join(f"N{n.number}  {n.kind}: {n.text}", n.marks.as_text()), "", "    ")
        where = "; ".join(n.places)
        w.para(f"applies to: {where}" + (f"; setting: {n.setting}" if n.setting else ""),
               "    ", "  ")
    w.heading("5. SETTINGS", "=")
    overridden = [s.name for s in r.settings if s.overridden]
    w.para(f"Overridden from the pack defaults: {', '.join(overridden)}" if overridden
           else "All settings are the knowledge pack defaults.")
    width = max((len(s.name) for s in r.settings), default=0)
    for s in r.settings:
        head = f"  {'*' if s.overridden else ' '} {s.name.ljust(width)} = "
        w.wrap(s.value + ("   <-- OVERRIDDEN" if s.overridden else ""), head, " " * len(head))
    w.heading("6. REFERENCES", "=")
    for ref in r.references:
        w.para(f"[{ref.number}] {ref.text} ({ref.key})", "", "     ")
    w.blank()
    w.para("Decision support only: check every recommendation against the patient and the cited "
           "sources before acting on it.")


def render_text(assessment: Assessment, citations: Mapping[str, str]) -> str:
    """The plain-text report of one typed assessment.

    ``citations`` maps each citation key of the knowledge pack to its full reference.
    """
    report = build_report_with_act_now(assessment, citations)
    w = TextWriter()
    _header(w, report)
    if report.act is not None:
        _act_now(w, report.act)
    _plan(w, report)
    _alerts(w, report)
    _details(w, report)
    _tail(w, report)
    return "\n".join(w.lines) + "\n"
