"""What a card offers the EHR's user to do: suggestions (draft orders) and override reasons.

**Suggestions** (CDS Hooks 2.0 ``card.suggestions``): each open item the assessment names — a
missing baseline work-up item, a cancer-screening investigation due or overdue, an antibody never
tested — becomes one suggestion with one ``create`` action: a FHIR ``ServiceRequest`` with status
``draft`` and intent ``proposal`` (the clinician decides; nothing is ordered by the service), coded
with the site's coding of the item (the code tables, site codes first), for the patient of the
call, and naming the rule it comes from (``reasonCode``). No dose, frequency or timing is written:
those are not in an open item, and the knowledge pack's numbers are on the card's text.

**Override reasons** (``card.overrideReasons``): the same short list on every card, a project code
system (:data:`OVERRIDE_SYSTEM`), read from ``override-reasons.toml`` beside this module (the words
are data). Feedback that names another reason is refused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, Final

__all__ = [
    "ORDER_CATEGORY",
    "OVERRIDE_REASONS",
    "OVERRIDE_SYSTEM",
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
    """A draft order per missing work-up item and per screening investigation due or overdue."""
    version = str(assessment["knowledge"]["version"])
    seen: set[tuple[str, str]] = set()
    found = []
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


def alert_suggestions(alert: Mapping[str, Any], assessment: Mapping[str, Any], *,
                      patient_id: str, coding_of: CodingOf,
                      new_uuid: Callable[[], str]) -> list[dict[str, Any]]:
    """Draft orders an alert's card offers (e.g. the antibodies never tested)."""
    ids = _ALERT_ORDERS.get(str(alert.get("id")))
    if ids is None:
        return []
    version = str(assessment["knowledge"]["version"])
    return [_order(patient_id=patient_id, category=category, name=name, rule_id=rule_id,
                   title=title, version=version, coding_of=coding_of, new_uuid=new_uuid)
            for category, name, rule_id, title in _workup_orders(assessment, ids)]
