"""The therapy-aware plan of pack 2026.2 in the assessment's CarePlan (clinical reference §13–§15).

- each ``treatment_plan.actions[]`` → one ``CarePlan.activity`` (they come first: the plan's
  headline). ``detail.code`` = the rule coding and the action (system
  ``urn:myositis-cds:plan-action``), ``text`` the action in words; ``reasonCode.text`` = the
  action's reason; ``reasonReference`` → its citations; ``productCodeableConcept`` = the drug (code
  tables, site codes first); the dose to give (start, add, pulse) in the ``dose-range``
  extension, the dose recorded now (continue, taper, review dose) in ``recorded-dose``; an action
  that names a class of agent lists the agents to choose from in ``option`` extensions;
- each ``safety[]`` item → one activity: ``detail.code`` = the rule coding, the item (system
  ``urn:myositis-cds:safety``) and, for a test, the investigation or labs to order (code tables);
  its status by :data:`~.tables.SAFETY_STATUS`, the engine's own in ``statusReason``; ``due`` as
  ``scheduledPeriod.start``;
- ``current_therapy`` → a ``CarePlan.note`` in words (phase with its reasons, disease activity,
  every active agent with dose, route, start and days on that dose, the glucocorticoid exposure)
  and the ``therapy-phase`` extension (a coding of the phase).

The words for codes are the knowledge pack's labels (:mod:`myositis_cds.knowledge.labels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from myositis_cds.adapters.fhir.exporting.resource_builder import ResourceBuilder, number_text
from myositis_cds.adapters.fhir.exporting.tables import (
    ACTION_STATUS,
    ACTION_SYSTEM,
    OPTION_EXTENSION,
    PHASE_EXTENSION,
    PHASE_SYSTEM,
    RECORDED_DOSE_ACTIONS,
    RECORDED_DOSE_EXTENSION,
    SAFETY_KIND,
    SAFETY_STATUS,
    SAFETY_SYSTEM,
    mapped,
)
from myositis_cds.domain.vocabulary import SAFETY_TESTS
from myositis_cds.knowledge.labels import drug_name, load_labels

__all__ = ["action_activities", "phase_extension", "safety_activities", "therapy_note"]

def _words(kind: str, code: object) -> str:
    return load_labels().get(kind, {}).get(str(code), str(code).replace("_", " "))


def _keys(item: Mapping[str, Any]) -> list[str]:
    keys = [str(k) for k in item.get("citations", ())]
    for note in item.get("notes", ()):
        keys += [str(k) for k in note.get("citations", ())]
    return keys


def _notes(item: Mapping[str, Any]) -> list[str]:
    return [str(n.get("text", "")) for n in item.get("notes", ())]


def _what(action: Mapping[str, Any]) -> str:
    if action.get("drug"):
        return drug_name(str(action["drug"]))
    options = [drug_name(str(o)) for o in action.get("options", ())]
    kind = _words("agent_class", action["agent_class"]) if action.get("agent_class") else ""
    listed = ", ".join(options[:-1]) + f" or {options[-1]}" if len(options) > 1 else "".join(options)
    return f"{kind}: {listed}" if kind and listed else kind or listed


def _action(builder: ResourceBuilder, action: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(action["action"])
    status = mapped(ACTION_STATUS, kind, "treatment_plan.actions[].action")
    title = " ".join(p for p in (_words("action", kind), _what(action)) if p)
    extra: dict[str, Any] = {"reasonCode": [{"text": str(action["reason"])}]}
    extensions: list[dict[str, Any]] = []
    low, high, unit = action.get("dose_min"), action.get("dose_max"), str(action.get("unit") or "")
    if low is not None and high is not None:
        if kind in RECORDED_DOSE_ACTIONS:
            extensions.append({"url": RECORDED_DOSE_EXTENSION,
                               "valueQuantity": builder.quantity(float(low), unit)})
            before = load_labels().get("action_dose", {}).get(kind)  # "now", "recorded"
            title += f" ({before + ' ' if before else ''}{number_text(low)} {unit})"
        else:
            extension, words = builder.dose_range(low, high, unit)
            extensions.append(extension)
            title += f" ({words})"
    extensions += [{"url": OPTION_EXTENSION, "valueCodeableConcept": builder.product(str(o))}
                   for o in action.get("options", ())]
    if extensions:
        extra["extension"] = extensions
    if action.get("drug"):
        extra["productCodeableConcept"] = builder.product(str(action["drug"]))
    activity = builder.activity(
        rule_id=str(action["rule_id"]), status=status, citations=_keys(action),
        kind=None if kind == "surveillance" else "MedicationRequest", extra=extra,
        description="\n".join([title[:1].upper() + title[1:], str(action["reason"]),
                               *_notes(action)]))
    code = activity["detail"]["code"]
    code["coding"].append({"system": ACTION_SYSTEM, "code": kind, "display": _words("action", kind)})
    code["text"] = title[:1].upper() + title[1:]
    return activity


def action_activities(builder: ResourceBuilder,
                      actions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One activity per plan action, in the plan's order (see the module docstring)."""
    return [_action(builder, action) for action in actions]


def _safety(builder: ResourceBuilder, item: Mapping[str, Any]) -> dict[str, Any]:
    item_id, state = str(item["id"]), str(item["status"])
    name = _words("safety", item_id)
    drug = f" ({drug_name(str(item['drug']))})" if item.get("drug") else ""
    extra: dict[str, Any] = {}
    if item.get("due"):
        extra["scheduledPeriod"] = {"start": str(item["due"])}
    activity = builder.activity(
        rule_id=str(item["rule_id"]), status=mapped(SAFETY_STATUS, state, "safety[].status"),
        citations=_keys(item), kind=SAFETY_KIND.get(item_id), extra=extra,
        reason=("safety-status", state, str(item["reason"])),
        description="\n".join([f"{name[:1].upper()}{name[1:]}{drug} — {_words('status', state)}: "
                               f"{item['reason']}", *_notes(item)]))
    code = activity["detail"]["code"]
    code["coding"].append({"system": SAFETY_SYSTEM, "code": item_id, "display": name})
    code["coding"] += [builder.codes.coding_for(category, test).to_dict()
                       for category, test in SAFETY_TESTS.get(item_id, ())]
    code["text"] = f"{name[:1].upper()}{name[1:]}{drug}"
    return activity


def safety_activities(builder: ResourceBuilder,
                      safety: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One activity per safety companion item, in the assessment's order."""
    return [_safety(builder, item) for item in safety]


def _agent(agent: Mapping[str, Any]) -> str:
    dose = ("dose not recorded" if agent.get("dose") is None else
            " ".join(str(p) for p in (number_text(agent["dose"]), agent.get("unit"),
                                      _words("frequency", agent.get("frequency"))
                                      if agent.get("frequency") else None) if p))
    route = f" {agent['route']}" if agent.get("route") else ""
    per = [f"{number_text(round(float(agent[key]), 2))} {agent.get('unit')}/{per}"
           for key, per in (("dose_per_kg", "kg"), ("dose_per_m2", "m²"))
           if agent.get(key) is not None]
    if agent.get("effect_window_until"):
        days = f"last given, active until {agent['effect_window_until']}"
    else:
        days = f"{agent['days_on_dose']} days on this dose"
    return (f"{drug_name(str(agent['drug']))} {dose}{route} since {agent['start']} "
            f"({'; '.join([days, *per])})")


def therapy_note(therapy: Mapping[str, Any], as_of: str) -> str:
    """The current therapy in words (one ``CarePlan.note``)."""
    reasons = "; ".join(str(r) for r in therapy.get("phase_reasons", ()))
    lines = [f"Current therapy as of {as_of}: phase {_words('phase', therapy['phase'])}"
             + (f" — {reasons}" if reasons else "")
             + f"; disease activity {_words('activity', therapy['activity'])}."]
    agents = [_agent(a) for a in therapy.get("agents", ())]
    lines.append("Active agents: " + ("; ".join(agents) if agents else "none") + ".")
    gc = therapy.get("glucocorticoid") or {}
    if gc.get("record_cumulative_mg") or gc.get("not_counted"):
        now = ("not computable" if gc.get("current_mg_per_day") is None
               else f"{number_text(gc['current_mg_per_day'])} mg/day")
        lines.append(f"Glucocorticoid (prednisone-equivalent): {now} now; "
                     f"{gc['days_at_or_above_20mg']} days at ≥ 20 mg/day; "
                     f"{number_text(round(float(gc['course_cumulative_mg'])))} mg this course, "
                     f"{number_text(round(float(gc['record_cumulative_mg'])))} mg in the record"
                     + (f"; not counted: {', '.join(gc['not_counted'])}" if gc.get("not_counted")
                        else "") + ".")
    return "\n".join(lines)


def phase_extension(therapy: Mapping[str, Any]) -> dict[str, Any]:
    """``CarePlan.extension`` naming the therapy phase."""
    phase = str(therapy["phase"])
    return {"url": PHASE_EXTENSION, "valueCoding": {
        "system": PHASE_SYSTEM, "code": phase, "display": _words("phase", phase)}}
