"""The OpenAPI document: FastAPI's, plus the project's JSON Schemas as components.

``patient-record@1``, ``assessment@1`` and ``timeline@1`` are the same schemas that
``myositis-cds schema`` prints; their ``$defs`` are moved into ``components/schemas`` (prefixed by
the schema's name) so that every reference resolves inside the OpenAPI document.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from myositis_cds.bootstrap import json_schema

__all__ = ["component_schemas", "install_openapi"]


def _relocated(name: str, schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    schema = copy.deepcopy(schema)
    defs: dict[str, Any] = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    renamed = {f"#/$defs/{d}": f"#/components/schemas/{name}_{d}" for d in defs}

    def fix(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref in renamed:
                node["$ref"] = renamed[ref]
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(schema)
    fix(defs)
    return {name: schema, **{f"{name}_{d}": body for d, body in defs.items()}}


def component_schemas() -> dict[str, dict[str, Any]]:
    stored = {
        "type": "object",
        "required": ["id", "patient_key", "version", "created_at", "updated_at", "record"],
        "properties": {
            "id": {"type": "integer"}, "patient_key": {"type": "string"},
            "version": {"type": "integer", "description": "Send it back as If-Match to edit"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "record": {"$ref": "#/components/schemas/PatientRecord"},
        },
    }
    return {**_relocated("PatientRecord", json_schema("patient-record")),
            **_relocated("Assessment", json_schema("assessment")),
            **_relocated("Timeline", json_schema("timeline")),
            "StoredPatient": stored}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                component_schemas())
            app.openapi_schema = document
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented way to customise it

