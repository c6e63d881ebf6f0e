"""What a card offers the EHR's user to do: suggestions (draft orders) and override reasons.

**Suggestions** (CDS Hooks 2.0 ``card.suggestions``): each open item the assessment names — a
missing baseline work-up item, a cancer-screening investigation due or overdue, an antibody never
tested — becomes one suggestion with one ``create`` action: a FHIR ``ServiceRequest`` with status
``draft`` and intent ``proposal`` (the clinician decides; nothing is ordered by the service), coded
with the site's coding of the item (the code tables, site codes first), for the patient of the
call, and naming the rule it comes from (``reasonCode``). No dose, frequency or timing is written:
those are not in an open item, and the knowledge pack's numbers are on the card's text.

**Therapy suggestions** (pack 2026.2): a ``start``, ``add`` or ``pulse`` action of the plan
becomes one draft ``MedicationRequest`` per agent it names (an action on a class of agent: one per
agent to choose from, labelled as one of the options); a safety companion item that is missing,
due or overdue becomes the draft ServiceRequests of its tests (``SAFETY_TESTS``: hepatitis
B/C and HIV serology, IGRA, the monitoring bloods of an occasion) or, for Pneumocystis prophylaxis
and bone protection, draft MedicationRequests of the agents that meet it
(:data:`SAFETY_PRESCRIPTIONS`). A draft prescription carries no dose, route or timing: the
clinician writes them (the pack's doses for this patient are in the card's text). Taper, review
dose and continue change an existing prescription the service does not hold: no suggestion.

**Override reasons** (``card.overrideReasons``): the same short list on every card, a project code
system (:data:`OVERRIDE_SYSTEM`), read from ``override-reasons.toml`` beside this module (the words
are data). Feedback that names another reason is refused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, Final

from myositis_cds.domain.vocabulary import PJP_PROPHYLAXIS, SAFETY_TESTS
from myositis_cds.knowledge.labels import drug_name, load_labels

__all__ = [
    "ORDER_CATEGORY",
    "OVERRIDE_REASONS",
    "OVERRIDE_SYSTEM",
    "PRESCRIBED_ACTIONS",
    "SAFETY_PRESCRIPTIONS",
    "CodingOf",
    "alert_suggestions",
    "plan_suggestions",
]

OVERRIDE_SYSTEM: Final = "urn:myositis-cds:codes:override-reason"
RULE_SYSTEM: Final = "urn:myositis-cds:rule"


def _override_reasons() -> tuple[dict[str, str], ...]:
    text = resources.files("myositis_cds.entrypoints.web.cds_hooks").joinpath(
        "override-reasons.toml").read_text("utf-8")
    table = tomllib.loads(text)["reason"]
    return tuple({"system": OVERRIDE_SYSTEM, "code": str(r["code"]), "display": str(r["display"])}
                 for r in table)


OVERRIDE_REASONS: Final = _override_reasons()
"""The Codings every card offers as ``overrideReasons``."""

ORDER_CATEGORY: Final[Mapping[str, str]] = {
    "WORKUP-ENZYMES": "lab", "WORKUP-MSA-PANEL": "antibody", "WORKUP-MMT8": "measure"}
"""Which code table names the missing items of a work-up rule (any other: ``investigation``)."""

PRESCRIBED_ACTIONS: Final = ("start", "add", "pulse")
"""Plan actions that begin an agent (a draft prescription each); the others change one in place."""
SAFETY_PRESCRIPTIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "SAFETY-PJP": tuple(sorted(PJP_PROPHYLAXIS)), "SAFETY-BONE": ("calcium_vitamin_d",)}
"""Agents offered for a missing prophylaxis (in alphabetical order: no preference is implied;
bone protection offers calcium and vitamin D only — further agents follow a fracture-risk
assessment)."""
OPEN_SAFETY: Final = ("missing", "due", "overdue")
"""Safety item statuses that offer draft orders."""
CodingOf = Callable[[str, str], dict[str, Any] | None]
"""``(category, name) -> Coding`` as the code tables write it (site codes first), or None."""


def _order(*, patient_id: str, category: str, name: str, rule_id: str, title: str,
           version: str, coding_of: CodingOf, new_uuid: Callable[[], str]) -> dict[str, Any]:
    coding = coding_of(category, name)
    readable = name.replace("_", " ")
    code: dict[str, Any] = {"text": readable}
    if coding is not None:
        code["coding"] = [coding]
    request = {
        "resourceType": "ServiceRequest", "status": "draft", "intent": "proposal", "code": code,
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [{"coding": [{"system": RULE_SYSTEM, "code": rule_id, "version": version}],
                        "text": title}],
    }
    return {"label": f"Order {readable}", "uuid": new_uuid(),
            "actions": [{"type": "create", "description": f"Draft order: {readable} ({title})",
                         "resource": request}]}


def _reason(rule_id: str, version: str, text: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": RULE_SYSTEM, "code": rule_id, "version": version}], "text": text}]


def _prescription(*, patient_id: str, drug: str, label: str, why: str, rule_id: str, version: str,
                  coding_of: CodingOf, new_uuid: Callable[[], str]) -> dict[str, Any]:
    name = drug_name(drug)
    coding = coding_of("drug", drug)
    medication: dict[str, Any] = {"text": name}
    if coding is not None:
        medication["coding"] = [coding]
    request = {"resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
               "medicationCodeableConcept": medication,
               "subject": {"reference": f"Patient/{patient_id}"},
               "reasonCode": _reason(rule_id, version, why)}
    return {"label": label, "uuid": new_uuid(),
            "actions": [{"type": "create", "description": f"Draft prescription: {name} ({why}); "
                                                           "dose, route and timing to be written",
                         "resource": request}]}


def _words(kind: str, code: str) -> str:
    return load_labels().get(kind, {}).get(code, code.replace("_", " "))


def action_prescriptions(assessment: Mapping[str, Any], *, patient_id: str, coding_of: CodingOf,
                         new_uuid: Callable[[], str]) -> list[dict[str, Any]]:
    """A draft prescription per agent a start, add or pulse action names (see the module)."""
    version = str(assessment["knowledge"]["version"])
    found = []
    for action in assessment.get("treatment_plan", {}).get("actions", ()):
        kind = str(action["action"])
        if kind not in PRESCRIBED_ACTIONS:
            continue
        verb = _words("action", kind)
        drugs = [str(action["drug"])] if action.get("drug") else [str(o) for o in action["options"]]
        for drug in drugs:
            label = f"{verb} {drug_name(drug)}"
            if not action.get("drug"):
                label += f" (one of {len(drugs)}: {_words('agent_class', str(action['agent_class']))})"
            found.append(_prescription(patient_id=patient_id, drug=drug, label=label,
                                       why=str(action["reason"]), rule_id=str(action["rule_id"]),
                                       version=version, coding_of=coding_of, new_uuid=new_uuid))
    return found


def safety_orders(assessment: Mapping[str, Any], *, patient_id: str, coding_of: CodingOf,
                  new_uuid: Callable[[], str], only: tuple[str, str | None] | None = None,
                  ) -> list[dict[str, Any]]:
    """Draft orders of the open safety items (``only``: the one item (id, drug) of an alert)."""
    version = str(assessment["knowledge"]["version"])
    found = []
    for item in assessment.get("safety", ()):
        item_id, drug = str(item["id"]), item.get("drug")
        if item["status"] not in OPEN_SAFETY or (only is not None and only != (item_id, drug)):
            continue
        name = _words("safety", item_id) + (f" ({drug_name(str(drug))})" if drug else "")
        rule_id, why = str(item["rule_id"]), str(item["reason"])
        tests = SAFETY_TESTS.get(item_id, ())
        if tests:
            actions = [_order(patient_id=patient_id, category=category, name=test, rule_id=rule_id,
                              title=name, version=version, coding_of=coding_of,
                              new_uuid=new_uuid)["actions"][0] for category, test in tests]
            found.append({"label": f"Order {name}", "uuid": new_uuid(), "actions": actions})
        agents = SAFETY_PRESCRIPTIONS.get(item_id, ())
        for agent in agents:
            label = f"Start {drug_name(agent)} ({name}" + (
                f", one of {len(agents)})" if len(agents) > 1 else ")")
            notes = " ".join(str(n.get("text", "")) for n in item.get("notes", ()))
            found.append(_prescription(
                patient_id=patient_id, drug=agent, label=label, why=f"{why} {notes}".strip(),
                rule_id=rule_id, version=version, coding_of=coding_of, new_uuid=new_uuid))
    return found


def _workup_orders(assessment: Mapping[str, Any], ids: Iterable[str] | None) -> list[
        tuple[str, str, str, str]]:
    """(category, name, rule ID, title) of every missing item of the work-up rules ``ids``
    (``None``: all)."""
    wanted = None if ids is None else set(ids)
    found = []
    for item in assessment.get("workup", ()):
        if item.get("status") != "missing" or (wanted is not None and item["id"] not in wanted):
            continue
        category = ORDER_CATEGORY.get(str(item["id"]), "investigation")
        title = str(item.get("title") or item["id"])
        found += [(category, str(name), str(item.get("rule_id") or item["id"]), title)
                  for name in item.get("missing", ())]
    return found


def _screening_orders(assessment: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    screening = assessment.get("cancer_screening") or {}
    if not any(o.get("status") in ("due", "overdue") for o in screening.get("occasions") or ()):
        return []
    rule_id = str(screening.get("rule_id") or "SCREENING")
    return [("investigation", str(kind), rule_id, "cancer screening")
            for kind in screening.get("required_investigations") or ()]


def plan_suggestions(assessment: Mapping[str, Any], *, patient_id: str, coding_of: CodingOf,
                     new_uuid: Callable[[], str]) -> list[dict[str, Any]]:
    """The plan's draft prescriptions (start, add, pulse), the draft orders of the open safety
    items, then a draft order per missing work-up item and per screening investigation due or
    overdue."""
    version = str(assessment["knowledge"]["version"])
    found = action_prescriptions(assessment, patient_id=patient_id, coding_of=coding_of,
                                 new_uuid=new_uuid)
    found += safety_orders(assessment, patient_id=patient_id, coding_of=coding_of,
                           new_uuid=new_uuid)
    seen: set[tuple[str, str]] = set()
    for category, name, rule_id, title in [*_workup_orders(assessment, None),
                                           *_screening_orders(assessment)]:
        if (category, name) in seen:
            continue
        seen.add((category, name))
        found.append(_order(patient_id=patient_id, category=category, name=name, rule_id=rule_id,
                            title=title, version=version, coding_of=coding_of,
                            new_uuid=new_uuid))
    return found


_ALERT_ORDERS: Final[Mapping[str, tuple[str, ...]]] = {
    "ALERT-INCOMPLETE-MSA-PANEL": ("WORKUP-MSA-PANEL",)}
"""Alerts whose card offers the orders of these work-up rules."""
_ALERT_SAFETY: Final[Mapping[str, str]] = {"ALERT-MONITORING-BLOODS-OVERDUE": "SAFETY-MONITORING-BLOODS"}
"""Per-agent alerts whose card offers the orders of this safety item for the alert's drug."""
_ALERT_ACTIONS: Final = frozenset({"ALERT-DELAYED-IMMUNOSUPPRESSION"})
"""Alerts whose card offers the plan's draft prescriptions (start, add, pulse)."""


def alert_suggestions(alert: Mapping[str, Any], assessment: Mapping[str, Any], *,
                      patient_id: str, coding_of: CodingOf,
                      new_uuid: Callable[[], str]) -> list[dict[str, Any]]:
    """Draft orders an alert's card offers: the antibodies never tested, the overdue monitoring
    bloods of the alert's drug, the agents to start or add when immunosuppression is delayed."""
    alert_id = str(alert.get("id"))
    if alert_id in _ALERT_SAFETY:
        return safety_orders(assessment, patient_id=patient_id, coding_of=coding_of,
                             new_uuid=new_uuid, only=(_ALERT_SAFETY[alert_id], alert.get("drug")))
    if alert_id in _ALERT_ACTIONS:
        return action_prescriptions(assessment, patient_id=patient_id, coding_of=coding_of,
                                    new_uuid=new_uuid)
    ids = _ALERT_ORDERS.get(alert_id)
    if ids is None:
        return []
    version = str(assessment["knowledge"]["version"])
    return [_order(patient_id=patient_id, category=category, name=name, rule_id=rule_id,
                   title=title, version=version, coding_of=coding_of, new_uuid=new_uuid)
            for category, name, rule_id, title in _workup_orders(assessment, ids)]
