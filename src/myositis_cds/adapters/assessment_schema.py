"""JSON Schema of ``myositis-cds/assessment@1``, derived from the engine's result records.

The engine's results are standard-library dataclasses; pydantic reads their annotations to produce
the schema of each part, and this module assembles the top level exactly as
:func:`myositis_cds.engine.results.to_dict` writes it. A test validates the output of every
example against this schema, so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from myositis_cds.engine import results as r
from myositis_cds.scores.imacs_doi import DoiMeasure
from myositis_cds.scores.tis import MeasureScore

__all__ = ["assessment_json_schema"]

_PARTS: dict[str, Any] = {
    "Scope": r.Scope,
    "Phenotype": r.Phenotype,
    "WorkupItem": r.WorkupItem,
    "CancerScreening": r.CancerScreening,
    "Severity": r.Severity,
    "TreatmentPlan": r.TreatmentPlan,
    "ResponseJudgement": r.ResponseJudgement,
    "Alert": r.Alert,
    "NotEvaluatedAlert": r.NotEvaluatedAlert,
    "MeasureScore": MeasureScore,
    "DoiMeasure": DoiMeasure,
    "InputRef": r.InputRef,
    "Note": r.Note,
    "CurrentTherapy": r.CurrentTherapy,
    "SafetyCheck": r.SafetyCheck,
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _array(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def assessment_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) of one ``assessment@1`` document."""
    mode: JsonSchemaMode = "serialization"
    keyed = [(name, mode, TypeAdapter(cls)) for name, cls in _PARTS.items()]
    mapping, definitions = TypeAdapter.json_schemas(keyed, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = dict(definitions.get("$defs", {}))
    for (name, _mode), schema in mapping.items():
        if "$ref" in schema:
            target = schema["$ref"].rsplit("/", 1)[-1]
            if target != name:
                defs[name] = defs[target]
        else:
            defs[name] = schema
    date = {"type": "string", "format": "date"}
    number = {"type": "number"}
    tis = {
        "type": "object",
        "required": ["status", "score", "range", "category", "population", "baseline_date",
                     "followup_date", "measures", "rule_id", "knowledge_version", "citations",
                     "inputs"],
        "properties": {
            "status": {"enum": ["complete", "incomplete", "not_evaluable"]},
            "score": _nullable(number),
            "range": _nullable({"type": "array", "prefixItems": [number, number],
                                "minItems": 2, "maxItems": 2}),
            "category": {"enum": ["none", "minimal", "moderate", "major", None]},
            "population": {"enum": ["adult", "juvenile", None]},
            "baseline_date": _nullable(date),
            "followup_date": _nullable(date),
            "enzyme": _nullable({"type": "string"}),
            "reason": _nullable({"type": "string"}),
            "measures": _array("MeasureScore"),
            "rule_id": {"type": "string"},
            "knowledge_version": {"type": "string"},
            "citations": {"type": "array", "items": {"type": "string"}},
            "inputs": _array("InputRef"),
            "notes": _array("Note"),
        },
    }
    doi = {
        "type": "object",
        "required": ["status", "rule_id", "knowledge_version", "citations"],
        "properties": {
            "status": {"enum": ["improved", "not_improved", "not_evaluable"]},
            "improved_count": {"type": "integer"},
            "worsened_count": {"type": "integer"},
            "missing": {"type": "array", "items": {"type": "string"}},
            "measures": _array("DoiMeasure"),
            "reason": _nullable({"type": "string"}),
            "rule_id": {"type": "string"},
            "knowledge_version": {"type": "string"},
            "citations": {"type": "array", "items": {"type": "string"}},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://myositis-cds.example/schemas/assessment@1.json",
        "title": "myositis-cds/assessment@1",
        "type": "object",
        "required": ["format", "patient_id", "as_of", "knowledge", "phenotype", "workup",
                     "cancer_screening", "severity", "treatment_plan", "response", "alerts",
                     "current_therapy", "safety"],
        "properties": {
            "format": {"const": r.ASSESSMENT_FORMAT},
            "patient_id": {"type": "string"},
            "as_of": date,
            "knowledge": {
                "type": "object",
                "required": ["pack", "version"],
                "properties": {"pack": {"type": "string"}, "version": {"type": "string"}},
            },
            "scope": _ref("Scope"),
            "phenotype": _ref("Phenotype"),
            "workup": _array("WorkupItem"),
            "cancer_screening": _ref("CancerScreening"),
            "severity": _ref("Severity"),
            "treatment_plan": _ref("TreatmentPlan"),
            "response": {
                "type": "object",
                "required": ["tis", "imacs_doi"],
                "properties": {"tis": tis, "imacs_doi": doi,
                               "inadequate_response": _ref("ResponseJudgement")},
            },
            "current_therapy": _ref("CurrentTherapy"),
            "safety": _array("SafetyCheck"),
            "alerts": _array("Alert"),
            "alerts_not_evaluable": _array("NotEvaluatedAlert"),
            "settings": {
                "type": "object",
                "properties": {
                    "values": {"type": "object"},
                    "overridden": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "$defs": defs,
    }
