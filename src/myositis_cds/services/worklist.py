"""Population worklists: the open items of one patient's assessment, as worklist rows.

:func:`worklist_items` maps the result of the engine's :func:`~myositis_cds.engine.assess` to rows;
it reads the engine's own statuses and never re-derives a clinical condition. The mapping (also in
``docs/worklist.md``):

============================  =====================================  ===========  ===============
engine result                 becomes a row when                     severity     due
============================  =====================================  ===========  ===============
``alerts[]``                  always (every fired alert; one per     the alert's  —
                              agent for per-agent alerts)
``alerts_not_evaluable[]``    always (inputs missing)                info         —
``workup[]``                  ``status == "missing"``                info         —
``cancer_screening``          ``level == "not_evaluable"``           info         —
``cancer_screening.occasions``  ``status == "overdue"``               warning      occasion due
``cancer_screening.occasions``  ``status == "due"``                   info         occasion due
``response.inadequate_...``   ``status == "inadequate"``             warning      judged on
``response.inadequate_...``   ``status == "not_evaluable"``          info         —
``severity``                  ``tier == "not_evaluable"``            info         —
``treatment_plan.regimens``   ``status == "not_evaluable"`` for      info         —
                              lack of data (not a child's drug
                              without a children's dose)
``safety[]``                  ``status`` overdue or missing          warning      item's due
``safety[]``                  ``status == "due"``                    info         item's due
============================  =====================================  ===========  ===============

Severities of non-alert rows are a triage choice of myositis-cds (the clinical reference gives
severities only to alerts): an overdue screen or an inadequate response is a ``warning``, anything
that is open because data are missing is ``info`` — missing data is listed, never dropped. Rows
sort by severity (critical, warning, info), then patient key, rule ID and item.

``values`` holds the triggering record values as compact JSON (the ``inputs`` of the result: JSON
path, name, value, date, unit), or the reason / missing items for not-evaluable and missing rows.
Alert messages are not copied: they may count days and would change every night.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from myositis_cds.domain.worklist import SEVERITY_ORDER, WorklistItem
from myositis_cds.engine import Assessment
from myositis_cds.engine.results import InputRef

__all__ = [
    "SEVERITY_ORDER",
    "WorklistItem",
    "error_item",
    "sort_key",
    "worklist_items",
]

_RANK = {name: rank for rank, name in enumerate(SEVERITY_ORDER)}


def sort_key(item: WorklistItem) -> tuple[int, str, str, str]:
    return (_RANK[item.severity], item.patient_key, item.rule_id, item.item)


def _json(value: object) -> str:
    """Compact JSON; orjson writes the result dataclasses (``InputRef``) itself, field by field,
    as ``plain`` would (no intermediate dicts)."""
    return orjson.dumps(value).decode()


def _inputs(inputs: Sequence[InputRef]) -> str:
    return _json(inputs)


def worklist_items(key: str, assessment: Assessment) -> list[WorklistItem]:
    """The open items of one assessment (see the module docstring), sorted."""
    scope = assessment.scope.status
    rows: list[WorklistItem] = []

    def add(*, severity: str, rule_id: str, item: str, kind: str, status: str, values: str,
            due: dt.date | None = None) -> None:
        rows.append(WorklistItem(patient_key=key, severity=severity, rule_id=rule_id, item=item,
                                 kind=kind, status=status, due=due, values=values, scope=scope))

    for alert in assessment.alerts:
        add(severity=alert.severity, rule_id=alert.rule_id,
            item=f"{alert.id} {alert.drug}" if alert.drug else alert.id, kind="alert",
            status="fired", values=_inputs(alert.inputs))
    for missing_alert in assessment.alerts_not_evaluable:
        add(severity="info", rule_id=missing_alert.id, item=missing_alert.id,
            kind="alert_not_evaluable", status="not_evaluable",
            values=_json({"reason": missing_alert.reason}))
    for workup in assessment.workup:
        if workup.status == "missing":
            add(severity="info", rule_id=workup.rule_id, item=workup.id, kind="workup",
                status="missing", values=_json({"missing": list(workup.missing)}))
    screening = assessment.cancer_screening
    if screening.level == "not_evaluable":
        add(severity="info", rule_id=screening.rule_id, item="level", kind="screening",
            status="not_evaluable", values=_json({"reasons": list(screening.reasons)}))
    for occasion in screening.occasions:
        if occasion.status in ("due", "overdue"):
            add(severity="warning" if occasion.status == "overdue" else "info",
                rule_id=screening.rule_id, item=f"occasion {occasion.due.isoformat()}",
                kind="screening", status=occasion.status, due=occasion.due,
                values=_json({"level": screening.level,
                              "window": [occasion.window_start.isoformat(),
                                         occasion.window_end.isoformat()],
                              "required": list(screening.required_investigations)}))
    judgement = assessment.response.inadequate_response
    if judgement.status in ("inadequate", "not_evaluable"):
        inadequate = judgement.status == "inadequate"
        add(severity="warning" if inadequate else "info", rule_id=judgement.rule_id,
            item="inadequate_response", kind="response", status=judgement.status,
            due=judgement.judged_on if inadequate else None,
            values=_json({"reason": judgement.reason, "inputs": judgement.inputs}))
    severity = assessment.severity
    if severity.tier == "not_evaluable":
        add(severity="info", rule_id=severity.rule_id, item="tier", kind="severity",
            status="not_evaluable", values=_json({"reasons": list(severity.reasons)}))
    for regimen in assessment.treatment_plan.regimens:
        if regimen.status == "not_evaluable" and regimen.dose_in_pack:
            add(severity="info", rule_id=regimen.rule_id, item=regimen.drug, kind="plan",
                status="not_evaluable", values=_json({"reason": regimen.reason}))
    for check in assessment.safety:
        if check.status in ("overdue", "missing", "due"):
            add(severity="info" if check.status == "due" else "warning", rule_id=check.rule_id,
                item=f"{check.id} {check.drug}" if check.drug else check.id, kind="safety",
                status=check.status, due=check.due,
                values=_inputs(check.inputs))  # the reason counts days: it would change nightly
    rows.sort(key=sort_key)
    return rows


def error_item(key: str, errors: Iterable[dict[str, Any]]) -> WorklistItem:
    """The row of a patient whose record could not be validated (never silently dropped)."""
    return WorklistItem(patient_key=key, severity="warning", rule_id="RECORD-INVALID",
                        item="record", kind="record_error", status="invalid", due=None,
                        values=_json(list(errors)), scope="not_evaluable")


