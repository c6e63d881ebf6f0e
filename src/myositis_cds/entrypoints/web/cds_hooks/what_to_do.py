"""What to do now, on the plan card: the act-now summary the patient page shows
(:func:`~myositis_cds.presentation.act_now.build_act_now`), written as Markdown lines and as the few
words of the card's summary. The words come from that one summary, never re-typed here."""

from __future__ import annotations

from collections.abc import Mapping

from myositis_cds.entrypoints.web.cds_hooks.card_text import markdown_text
from myositis_cds.presentation.act_now import ActNow, build_act_now
from myositis_cds.presentation.assessment_builder import ResultViews
from myositis_cds.presentation.labels import EMPTY
from myositis_cds.services import Assessment

__all__ = ["act_now_lines", "act_now_of", "actions_phrase", "in_sentence"]


def act_now_of(assessment: Assessment, citations: Mapping[str, str]) -> ActNow:
    """The act-now summary of a typed assessment (the plan card's first lines)."""
    return build_act_now(ResultViews(citations), assessment)


def in_sentence(words: str) -> str:
    """"Prednisone" → "prednisone" inside a sentence; "IVIG" stays."""
    return words[:1].lower() + words[1:] if words[1:2].islower() else words


def actions_phrase(act: ActNow) -> str:
    """The changes in a few words ("Taper prednisone; add a steroid-sparing agent")."""
    # the class of agent without its options: "add a steroid-sparing agent"
    changes = [f"{in_sentence(a.label)} {in_sentence(a.what.split(' (')[0])}".strip()
               for a in act.changes]
    if not changes and act.continued:
        changes = ["continue the current therapy"]
    phrase = "; ".join(changes)
    return phrase[:1].upper() + phrase[1:]


def act_now_lines(act: ActNow) -> list[str]:
    """The plan card's first lines: what to do now, the phase, the current therapy, what is
    overdue, due or missing (Markdown; every value escaped)."""
    lines = ["**What to do now**", ""]
    for action in act.changes:
        dose = f" ({markdown_text(action.dose)})" if action.dose != EMPTY else ""
        what = f" {markdown_text(action.what)}" if action.what else ""
        lines.append(f"- **{markdown_text(action.label)}**{what}{dose}: "
                     f"{markdown_text(action.reason)}")
    if act.continued:
        kept = ", ".join(f"{a.what} ({a.dose})" if a.dose != EMPTY else a.what
                         for a in act.continued)
        lines.append(f"- **{markdown_text(act.continued[0].label)}** {markdown_text(kept)}")
    if not act.actions:
        lines.append("- no action listed (see the treatment options below)")
    lines += ["", f"**Phase**: {markdown_text(act.phase)}"]
    therapy = "; ".join(f"{t.drug} {t.dose}, since {t.since} ({t.duration})" for t in act.therapy)
    lines += ["", f"**Current therapy**: {markdown_text(therapy or 'none active')}"]
    if act.glucocorticoid:
        lines.append(f"- {markdown_text(act.glucocorticoid)}")
    if act.due:
        lines += ["", "**Overdue, due or missing**", ""]
    for due in act.due:
        items = f" ({due.items})" if due.items else ""
        date = f", {due.date_label} {due.date}" if due.date != EMPTY else ""
        lines.append(f"- {markdown_text(due.status_label.capitalize())}: "
                     f"{markdown_text(due.what + items + date)} — {markdown_text(due.detail)}")
    return lines
