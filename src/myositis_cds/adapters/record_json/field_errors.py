"""Pydantic's validation errors as :class:`~myositis_cds.errors.FieldError` (JSON path, value, expected)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from myositis_cds.adapters.record_json.models import (
    MODEL_AT,
    NESTED_MODELS,
    HaqAnswersModel,
    HaqCategoryModel,
    PatientRecordModel,
)
from myositis_cds.errors import MISSING_VALUE, FieldError

__all__ = ["field_errors"]

_CODE_FIELDS = frozenset({"target", "code", "kind", "name", "frequency", "result", "sex"})


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    parts = [prefix]
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item.startswith(("function-", "lax-", "strict-")) or item in {"literal", "nullable"}:
            continue
        else:
            parts.append(f".{item}")
    return "".join(parts)


def _allowed_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed where an unknown key was found (``loc`` ends with the unknown key)."""
    model = root
    names = [part for part in loc[:-1] if isinstance(part, str)]
    if root is PatientRecordModel and names and names[0] in MODEL_AT:
        model = MODEL_AT[names[0]]
        names = names[1:]
    for name in names:
        if name in NESTED_MODELS:
            model = NESTED_MODELS[name]
        elif name in HaqAnswersModel.model_fields:
            model = HaqCategoryModel
    return list(model.model_fields)


def _expected(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    kind = error["type"]
    message = str(error["msg"])
    loc = tuple(error["loc"])
    if kind == "extra_forbidden":
        return "no such key; allowed here: " + ", ".join(_allowed_keys(root, loc))
    if kind == "missing":
        return "a value (this field is required)"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "literal_error":
        field = str(loc[-1]) if loc else "value"
        options = message.removeprefix("Input should be ")
        if field in _CODE_FIELDS:
            return f"a known {field} code: {options}"
        return options
    return message.removeprefix("Input should be ").removeprefix("input should be ")


def field_errors(exc: ValidationError, prefix: str,
                 root: type[BaseModel] = PatientRecordModel) -> list[FieldError]:
    """One entry per problem pydantic found, with the path under ``prefix``."""
    errors = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        value = MISSING_VALUE if error["type"] == "missing" else error.get("input")
        errors.append(FieldError(path=_path(prefix, loc), value=value,
                                 expected=_expected(error, root)))
    return errors
