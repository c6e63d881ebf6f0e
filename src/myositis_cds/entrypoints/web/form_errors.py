"""Where a form's problems are shown: the record validator's messages mapped back to form fields.

A form's values go into one or more entries of the record (a visit: an assessment, findings, labs);
each :data:`Target` says where an entry went and which form field holds each of its values. A
message about a value stands next to its field; a message about a whole entry, or about another
part of the record (e.g. an older entry a newer knowledge pack refuses), is listed above the form
in plain words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from myositis_cds.entrypoints.web.forms import FORM, FormSpec
from myositis_cds.errors import MISSING_VALUE, FieldError
from myositis_cds.services.record_changes import ENTRY_LABELS

__all__ = ["PATIENT_TARGETS", "Target", "errors_by_field", "form_targets", "plain_place"]

Target = tuple[str, Mapping[str, str]]
"""Where a form's values went in the record: an entry's JSON path (``$.labs[4]``) and, by key
within that entry (``value``, ``mmt8_grades.deltoid``), the form field that holds it."""


def form_targets(form: FormSpec, path: str) -> list[Target]:
    """The targets of an entry form whose entry is at ``path``."""
    return [(path, {spec.json_key: spec.name for spec in form.fields})]


_PATIENT_TARGET: Final[Target] = ("$", {
    "id": "id", "sex": "sex", "birth_date": "birth_date", "diagnosis": "diagnosis_name",
    "diagnosis.name": "diagnosis_name", "diagnosis.date": "diagnosis_date",
    "diagnosis.symptom_onset_date": "diagnosis_symptom_onset_date"})
PATIENT_TARGETS: Final = [_PATIENT_TARGET]


def _field_for(path: str, targets: Iterable[Target]) -> tuple[str | None, bool]:
    """(form field, whether the path is inside one of the targets)."""
    for prefix, keys in targets:
        if path == prefix:
            return None, True
        if path.startswith(prefix + "."):
            rest = path[len(prefix) + 1:]
            head = re.split(r"[.\[]", rest, maxsplit=1)[0]
            return keys.get(rest) or keys.get(head), True
    return None, False


def errors_by_field(errors: Sequence[FieldError], *, targets: Iterable[Target],
                    names: Sequence[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Messages by form field, and the rest (problems of a whole entry, or elsewhere in the
    record). A form's own problems (``form.<name>``) come first and a field gets no second
    message about the same value from the parser."""
    targets = [*targets, (FORM, {name: name for name in names})]
    by_field: dict[str, list[str]] = {}
    own: set[str] = set()
    other: list[str] = []
    for error in sorted(errors, key=lambda e: not e.path.startswith(FORM + ".")):
        message = f"got {_shown(error.value)}; expected {error.expected}"
        name, inside = _field_for(error.path, targets)
        if error.path.startswith(FORM + ".") and name:
            own.add(name)
        elif name in own:
            continue
        if name is not None and name in names:
            by_field.setdefault(name, []).append(message)
        elif inside:
            other.append(f"this entry: {message}")
        else:
            other.append(f"{plain_place(error.path)} (correct it on the record page first): "
                         f"{message}")
    return by_field, other


def _shown(value: object) -> str:
    if value is MISSING_VALUE or value == "<missing>":
        return "nothing"
    return repr(value) if isinstance(value, str) else str(value)


_PLACE: Final = re.compile(r"^\$\.(\w+)\[(\d+)\](?:\.(.+))?$")


def plain_place(path: str) -> str:
    """A record path in words: ``$.labs[3].value`` → "lab result 4 (value)"."""
    match = _PLACE.match(path)
    if match is None:
        detail = path.removeprefix("$").removeprefix(".").replace("_", " ").replace(".", ", ")
        return f"patient details ({detail})" if detail else "the record"
    key, index, rest = match.groups()
    where = f"{ENTRY_LABELS.get(key, key.replace('_', ' '))} {int(index) + 1}"
    return f"{where} ({rest.replace('_', ' ').replace('.', ', ')})" if rest else where
