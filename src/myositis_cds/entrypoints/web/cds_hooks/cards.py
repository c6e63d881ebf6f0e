"""CDS Hooks cards from an ``assessment@1`` document (pure: no I/O, no clock, ids injected).

The cards, in this order (CDS Hooks 2.0 card attributes: ``uuid``, ``summary`` < 140 characters,
``detail`` in GitHub Markdown, ``indicator``, ``source`` with ``label`` and ``url``, ``links``):

1. one card per fired alert, its ``indicator`` taken from the alert's severity by
   :data:`INDICATOR` (the pack's severities are the CDS Hooks indicators: info → info,
   warning → warning, critical → critical; anything else is a programming error, never guessed);
2. one ``info`` card per alert that could not be evaluated, saying what is missing (such an alert
   is neither fired nor cleared — it is never silently left out);
3. one ``info`` card with the plan. It leads with what to do now — the plan's actions (start,
   add, pulse, taper, review dose, continue, surveillance) with their doses and reasons, the
   therapy phase, the current therapy and what is overdue, due or missing (safety checks,
   screening, work-up) — in the words of the act-now summary the patient page shows
   (:func:`~myositis_cds.presentation.act_now.build_act_now`, one implementation); then scope,
   cancer screening (level, occasions), the open work-up items, severity tier, treatment options
   and response, and what the EHR sent that could not be mapped.

Cards carry ``suggestions`` (draft prescriptions of the agents to start or add, draft orders of
the open safety tests and other open items, :mod:`.suggestions`) with
``selectionBehavior`` ``any``, and every card the same ``overrideReasons``.

Every detail ends with its references in full (the pack's citation text). Text taken from the
record is escaped so that it cannot become Markdown links, images or HTML in the EHR.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from myositis_cds.entrypoints.web.cds_hooks.card_text import MAX_SUMMARY, markdown_text, summary
from myositis_cds.entrypoints.web.cds_hooks.suggestions import (
    OVERRIDE_REASONS,
    CodingOf,
    alert_suggestions,
    plan_suggestions,
)
from myositis_cds.entrypoints.web.cds_hooks.what_to_do import (
    act_now_lines,
    act_now_of,
    actions_phrase,
)
from myositis_cds.presentation.act_now import ActNow

__all__ = [
    "INDICATOR",
    "MAX_SUMMARY",
    "CardContext",
    "act_now_of",
    "app_context",
    "applies",
    "build_cards",
    "card_rules",
    "invalid_record_card",
    "markdown_text",
    "suggestion_ids",
    "summary",
]

INDICATOR: Final[Mapping[str, str]] = {"info": "info", "warning": "warning", "critical": "critical"}
"""Alert severity (knowledge pack) → CDS Hooks card indicator."""
@dataclass(frozen=True, slots=True, kw_only=True)
class CardContext:
    """What every card shares: its source, the link to the patient page and the pack's text."""

    source_label: str
    source_url: str
    citations: Mapping[str, str]
    """Citation key → full reference text (the pack's)."""
    rule_titles: Mapping[str, str]
    rule_citations: Mapping[str, Sequence[str]]
    link: Mapping[str, str] | None = None
    new_uuid: Callable[[], str]
    patient_id: str | None = None
    """The FHIR Patient id of the call (suggested orders name it); None: no suggestions."""
    coding_of: CodingOf | None = None
    """The site's coding of an item (the code tables); None: no suggestions."""


def _card(context: CardContext, *, summary_text: str, indicator: str,
          detail: str) -> dict[str, Any]:
    card: dict[str, Any] = {
        "uuid": context.new_uuid(), "summary": summary(summary_text), "indicator": indicator,
        "detail": detail, "source": {"label": context.source_label, "url": context.source_url}}
    card["overrideReasons"] = [dict(reason) for reason in OVERRIDE_REASONS]
    if context.link is not None:
        card["links"] = [dict(context.link)]
    return card


def _with_suggestions(card: dict[str, Any], context: CardContext,
                      make: Callable[..., list[dict[str, Any]]], *args: Any) -> dict[str, Any]:
    """``card`` with the suggestions ``make(*args)`` offers (made after the card's own uuid)."""
    if context.patient_id is None or context.coding_of is None:
        return card
    suggestions = make(*args, patient_id=context.patient_id, coding_of=context.coding_of,
                       new_uuid=context.new_uuid)
    return {**card, "suggestions": suggestions, "selectionBehavior": "any"} if suggestions else card


def _references(context: CardContext, keys: Iterable[str]) -> list[str]:
    ordered = list(dict.fromkeys(keys))
    if not ordered:
        return []
    lines = ["", "**References**", ""]
    for number, key in enumerate(ordered, start=1):
        text = context.citations.get(key, "(not in the knowledge pack)")
        lines.append(f"{number}. {markdown_text(key)}: {markdown_text(text)}")
    return lines


def _inputs(inputs: Sequence[Mapping[str, Any]]) -> list[str]:
    if not inputs:
        return []
    lines = ["", "Record values used:", ""]
    for item in inputs:
        unit = str(item["unit"]) if item.get("unit") else ""
        dated = f"({item['date']})" if item.get("date") else ""
        lines.append(f"- {markdown_text(item.get('name'))}: {markdown_text(item.get('value'))}"
                     f"{markdown_text(unit) and ' ' + markdown_text(unit)}"
                     f"{dated and ' ' + markdown_text(dated)} — `{_code(item.get('source'))}`")
    return lines


def _code(value: object) -> str:
    return str(value).replace("`", "'")


def _notes(notes: Sequence[Mapping[str, Any]]) -> list[str]:
    return [f"- {markdown_text(note.get('text'))}" for note in notes]


def _footer(assessment: Mapping[str, Any], rule_id: str) -> str:
    knowledge = assessment["knowledge"]
    return (f"Rule `{_code(rule_id)}` · knowledge pack {markdown_text(knowledge['pack'])} "
            f"{markdown_text(knowledge['version'])} · as of {assessment['as_of']}")


def _alert_card(alert: Mapping[str, Any], assessment: Mapping[str, Any],
                context: CardContext) -> dict[str, Any]:
    title = str(alert.get("title") or context.rule_titles.get(alert["id"], alert["id"]))
    lines = [f"**{markdown_text(alert['message'])}**", "", _footer(assessment, alert["id"])]
    lines += _inputs(alert.get("inputs", ()))
    if alert.get("notes"):
        lines += ["", "Notes:", "", *_notes(alert["notes"])]
    lines += _references(context, alert.get("citations", ()))
    card = _card(context, summary_text=title, indicator=INDICATOR[str(alert["severity"])],
                 detail="\n".join(lines))
    return _with_suggestions(card, context, alert_suggestions, alert, assessment)


def _not_evaluable_card(item: Mapping[str, Any], assessment: Mapping[str, Any],
                        context: CardContext) -> dict[str, Any]:
    rule_id = str(item["id"])
    title = context.rule_titles.get(rule_id, rule_id)
    reason = str(item.get("reason") or "an input is missing")
    lines = [f"The check **{markdown_text(title)}** could not run: {markdown_text(reason)}.", "",
             "It is neither fired nor cleared: record the missing data in the EHR to have it "
             "checked.", "", _footer(assessment, rule_id)]
    lines += _references(context, context.rule_citations.get(rule_id, ()))
    return _card(context, summary_text=f"Not checked: {title} ({reason})", indicator="info",
                 detail="\n".join(lines))


def _next_occasion(screening: Mapping[str, Any]) -> Mapping[str, Any] | None:
    occasions = screening.get("occasions") or []
    for wanted in ("overdue", "due", "upcoming"):
        for occasion in occasions:
            if occasion.get("status") == wanted:
                return occasion  # type: ignore[no-any-return]
    return None


def _plan_summary(assessment: Mapping[str, Any], act: ActNow) -> str:
    screening = assessment["cancer_screening"]
    level = str(screening["level"]).replace("_", " ")
    occasion = _next_occasion(screening)
    screen = f"cancer screening {level}"
    if occasion is not None:
        screen += f": {occasion['status']} {occasion['due']}"
    open_items = [w for w in assessment["workup"] if w.get("status") == "missing"]
    workup = f"{len(open_items)} work-up item(s) open" if open_items else "work-up complete"
    scope = "" if assessment.get("scope", {}).get("status") == "in_scope" else " (scope unconfirmed)"
    actions = actions_phrase(act)
    return f"Anti-Mi-2 DM plan{scope}: {actions + '; ' if actions else ''}{screen}; {workup}"


def _screening_lines(screening: Mapping[str, Any]) -> list[str]:
    lines = ["", f"**Cancer screening**: {markdown_text(screening['level'])}"]
    lines += [f"- {markdown_text(reason)}" for reason in screening.get("reasons", ())]
    for occasion in screening.get("occasions") or ():
        done = f", satisfied by {occasion['satisfied_by']}" if occasion.get("satisfied_by") else ""
        lines.append(f"- due {occasion['due']}: {markdown_text(occasion['status'])}{done}")
    return lines


def _workup_lines(workup: Sequence[Mapping[str, Any]]) -> list[str]:
    open_items = [w for w in workup if w.get("status") == "missing"]
    lines = ["", f"**Baseline work-up**: {len(open_items)} of {len(workup)} item(s) open"]
    for item in open_items:
        missing = ", ".join(str(m) for m in item.get("missing", ()))
        lines.append(f"- {markdown_text(item.get('title') or item['id'])}"
                     + (f": missing {markdown_text(missing)}" if missing else ""))
    return lines


def _plan_lines(assessment: Mapping[str, Any]) -> list[str]:
    severity, plan = assessment["severity"], assessment["treatment_plan"]
    lines = ["", f"**Severity tier**: {markdown_text(severity['tier'])}"]
    lines += [f"- {markdown_text(reason)}" for reason in severity.get("reasons", ())]
    lines += ["", f"**Treatment options** ({markdown_text(plan['tier'])} tier; doses from the "
                  "knowledge pack, check before prescribing):"]
    for regimen in plan.get("regimens", ()):
        if regimen.get("status") == "ok" and regimen["dose_min"] == regimen["dose_max"]:
            dose = f"{regimen['dose_min']:g} {regimen['unit']}"
        elif regimen.get("status") == "ok":
            dose = f"{regimen['dose_min']:g}–{regimen['dose_max']:g} {regimen['unit']}"
        else:
            dose = f"not evaluable ({regimen.get('reason') or 'input missing'})"
        lines.append(f"- {markdown_text(regimen['drug'])}: {markdown_text(dose)} "
                     f"({markdown_text(regimen.get('basis', ''))})")
    tis = assessment["response"]["tis"]
    doi = assessment["response"]["imacs_doi"]
    # The separating space stays outside markdown_text, which trims its text to one line.
    score = (f" {markdown_text(format(tis['score'], 'g'))} ({markdown_text(tis['category'])})"
             if tis.get("score") is not None else "")
    lines += ["", f"**Response**: TIS {markdown_text(tis['status'])}{score}; "
                  f"IMACS definition of improvement {markdown_text(doi['status'])}"]
    return lines


def _unmapped_lines(unmapped: Mapping[str, Any] | None, not_provided: Sequence[str]) -> list[str]:
    lines = []
    if not_provided:
        lines += ["", f"**Not provided by the EHR**: {markdown_text(', '.join(not_provided))} — "
                      "what they hold (treatments taken, investigations such as cancer screening) "
                      "is unknown here, not absent."]
    if not unmapped or not unmapped.get("total"):
        return [*lines, "", "**EHR data**: every resource sent was mapped."]
    lines += ["", f"**EHR data not used**: {unmapped['total']} item(s) could not be mapped "
                  "(missing data is never taken as normal):"]
    for group in unmapped.get("groups", ()):
        lines.append(f"- {group['count']} × {markdown_text(group['resource_type'])}: "
                     f"{markdown_text(group.get('description') or group['reason'])}")
    return lines


def _plan_citations(assessment: Mapping[str, Any]) -> list[str]:
    keys: list[str] = list(assessment["phenotype"].get("citations", ()))
    keys += assessment["cancer_screening"].get("citations", ())
    for item in assessment["workup"]:
        keys += item.get("citations", ())
    keys += assessment["severity"].get("citations", ())
    for regimen in assessment["treatment_plan"].get("regimens", ()):
        keys += regimen.get("citations", ())
    keys += assessment["response"]["tis"].get("citations", ())
    for item in [*assessment["treatment_plan"].get("actions", ()), *assessment.get("safety", ())]:
        keys += item.get("citations", ())
    return keys


def _plan_card(assessment: Mapping[str, Any], act: ActNow, unmapped: Mapping[str, Any] | None,
               not_provided: Sequence[str], context: CardContext) -> dict[str, Any]:
    scope = assessment.get("scope", {})
    lines = [*act_now_lines(act), "",
             f"**Scope**: {markdown_text(scope.get('status', 'not_evaluable'))}"]
    lines += [f"- {markdown_text(reason)}" for reason in scope.get("reasons", ())]
    lines += _screening_lines(assessment["cancer_screening"])
    lines += _workup_lines(assessment["workup"])
    lines += _plan_lines(assessment)
    lines += _unmapped_lines(unmapped, not_provided)
    knowledge = assessment["knowledge"]
    lines += ["", f"Knowledge pack {markdown_text(knowledge['pack'])} "
                  f"{markdown_text(knowledge['version'])} · as of {assessment['as_of']}"]
    lines += _references(context, _plan_citations(assessment))
    card = _card(context, summary_text=_plan_summary(assessment, act), indicator="info",
                 detail="\n".join(lines))
    return _with_suggestions(card, context, plan_suggestions, assessment)


def build_cards(assessment: Mapping[str, Any], *, act: ActNow, context: CardContext,
                unmapped: Mapping[str, Any] | None = None,
                not_provided: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The cards of one assessment (its ``assessment@1`` document, and ``act`` = :func:`act_now_of`
    the same assessment; see the module's docstring for which cards and in what order)."""
    cards = [_alert_card(alert, assessment, context) for alert in assessment["alerts"]]
    cards += [_not_evaluable_card(item, assessment, context)
              for item in assessment.get("alerts_not_evaluable", ())]
    cards.append(_plan_card(assessment, act, unmapped, not_provided, context))
    return cards


def app_context(*, patient_key: str, as_of: str) -> str:
    """The ``appContext`` of the smart link: JSON naming the patient and the date."""
    return json.dumps({"patient_key": patient_key, "as_of": as_of}, separators=(",", ":"))


def applies(assessment: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    """Whether the service has anything to say: the anti-Mi-2 DM scope applies, or cannot be
    judged for a patient with a myositis diagnosis or an anti-Mi-2 result. Out of scope, or no
    such data at all (most patients an EHR opens): no cards."""
    status = assessment.get("scope", {}).get("status")
    if status == "in_scope":
        return True
    if status == "out_of_scope":
        return False
    antibodies = document.get("antibodies") or ()
    return "diagnosis" in document or any(a.get("target") == "Mi-2" for a in antibodies)


def suggestion_ids(card: Mapping[str, Any]) -> tuple[str, ...]:
    """The uuids of a card's suggestions (kept to check feedback against)."""
    return tuple(str(s["uuid"]) for s in card.get("suggestions", ()))


def card_rules(assessment: Mapping[str, Any]) -> list[str]:
    """The rule each card of :func:`build_cards` stands for, in the same order (``PLAN`` last)."""
    return ([str(a["id"]) for a in assessment["alerts"]]
            + [str(a["id"]) for a in assessment.get("alerts_not_evaluable", ())] + ["PLAN"])


def invalid_record_card(errors: Sequence[Mapping[str, Any]], *, context: CardContext,
                        not_provided: Sequence[str] = ()) -> dict[str, Any]:
    """A ``warning`` card: the EHR's data could not be made into a valid record, so nothing was
    assessed (no alert fired does not mean none applies)."""
    lines = ["The data sent by the EHR could not be made into a valid patient record, so **no "
             "assessment was made**: the absence of other cards does not mean that no alert "
             "applies.", "", f"{len(errors)} problem(s):", ""]
    lines += [f"- `{_code(e.get('path'))}`: expected {markdown_text(e.get('expected'))}"
              for e in errors[:20]]
    if not_provided:
        lines += ["", f"Not provided by the EHR: {markdown_text(', '.join(not_provided))}"]
    return _card(context, summary_text="myositis-cds could not assess this patient: the EHR data "
                 "did not validate", indicator="warning", detail="\n".join(lines))
