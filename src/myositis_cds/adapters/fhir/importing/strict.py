"""Structural validation of FHIR R4 JSON with the ``fhir.resources`` R4B models (opt-in, slow).

The importer's hot path reads plain dicts; ``--strict`` (and the tests) additionally check each
input against the R4B models of ``fhir.resources`` (R4B, FHIR 4.3, parses R4 JSON; the package's
default models are R5 and refuse R4). Problems are returned as
:class:`~myositis_cds.errors.FieldError` entries naming the JSON path, the value and the complaint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from myositis_cds.errors import MISSING_VALUE, FieldError

__all__ = ["check_bundle", "check_resource"]


def _errors(exc: ValidationError, prefix: str) -> list[FieldError]:
    found = []
    for error in exc.errors(include_url=False):
        path = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        value = MISSING_VALUE if "missing" in error["type"] else error.get("input")
        if isinstance(value, Mapping | list):
            value = f"<{type(value).__name__}>"
        found.append(FieldError(path=path, value=value,
                                expected=str(error["msg"]).removeprefix("Value error, ")))
    return found


def check_resource(resource: Mapping[str, Any], *, prefix: str = "$") -> list[FieldError]:
    """The R4B model's complaints about one resource (an empty list if it conforms)."""
    from fhir.resources.R4B import get_fhir_model_class  # noqa: PLC0415 - only in strict mode

    resource_type = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(resource_type))
    except ValueError:
        return [FieldError(path=f"{prefix}.resourceType", value=resource_type,
                           expected="a FHIR R4 resource type")]
    try:
        model.model_validate(dict(resource))
    except ValidationError as exc:
        return _errors(exc, prefix)
    return []


def check_bundle(bundle: Mapping[str, Any], *, prefix: str = "$") -> list[FieldError]:
    """The R4B Bundle model's complaints about a Bundle and its entries."""
    if bundle.get("resourceType") != "Bundle":
        return [FieldError(path=f"{prefix}.resourceType", value=bundle.get("resourceType", MISSING_VALUE),
                           expected="'Bundle'")]
    return check_resource(bundle, prefix=prefix)
