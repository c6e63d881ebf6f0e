"""The data-entry forms: what each form asks, how typed text becomes ``patient-record@1`` JSON,
and where the record validator's messages go.

A form never validates clinical content itself: it only turns text into JSON values (an empty
field means "absent", never 0; a number that is not a number is reported at once) and the whole
new record then goes through the same parser as every other input. The parser's
:class:`~myositis_cds.errors.FieldError` paths (``$.assessments[3].haq``) are mapped back to the
form's fields so that each message stands next to the value it is about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from myositis_cds.domain.vocabulary import (
    ALL_FINDINGS,
    ANTIBODY_RESULTS,
    ANTIBODY_TARGETS,
    DIAGNOSES,
    ENZYMES,
    FREQUENCIES,
    GLUCOCORTICOIDS,
    INVESTIGATION_KINDS,
    SECOND_LINE_AGENTS,
    SEXES,
    STEROID_SPARING_AGENTS,
)
from myositis_cds.errors import FieldError

__all__ = [
    "ENTRY_FORMS",
    "PATIENT_FORM",
    "FieldSpec",
    "FormSpec",
    "apply_patient_fields",
    "build_entry",
    "errors_by_field",
    "patient_values",
]

Kind = Literal["date", "number", "text", "select", "yesno"]
RECORD_FORMAT: Final = "myositis-cds/patient-record@1"
MAX_TEXT: Final = 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    name: str
    """The form field's name; for entries also the JSON key."""
    label: str
    kind: Kind = "text"
    choices: tuple[str, ...] = ()
    required: bool = False
    hint: str = ""
    suggestions: tuple[str, ...] = ()
    """Offered in a ``<datalist>`` for free text (other values are accepted)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FormSpec:
    slug: str
    """The URL part: ``/patients/{id}/add/{slug}``."""
    key: str
    """The record's list this form appends to."""
    title: str
    fields: tuple[FieldSpec, ...]


def _f(name: str, label: str, kind: Kind = "text", **more: object) -> FieldSpec:
    return FieldSpec(name=name, label=label, kind=kind, **more)  # type: ignore[arg-type]


_VAS = "0–10 cm visual analogue scale"
_DRUGS = tuple(sorted(GLUCOCORTICOIDS | STEROID_SPARING_AGENTS | SECOND_LINE_AGENTS))

PATIENT_FORM: Final = (
    _f("id", "Patient id", required=True, hint="the identifier within its source"),
    _f("sex", "Sex", "select", choices=SEXES),
    _f("birth_date", "Birth date", "date"),
    _f("diagnosis_name", "Diagnosis", "select", choices=DIAGNOSES),
    _f("diagnosis_date", "Diagnosis date", "date"),
    _f("diagnosis_symptom_onset_date", "Symptom onset", "date"),
)

ENTRY_FORMS: Final = {form.slug: form for form in (
    FormSpec(slug="visit", key="assessments", title="Add a visit (core set measures)", fields=(
        _f("date", "Visit date", "date", required=True),
        _f("physician_global", "Physician global activity", "number", hint=_VAS),
        _f("patient_global", "Patient global activity", "number", hint=_VAS),
        _f("extramuscular_global", "Extramuscular global activity", "number", hint=_VAS),
        _f("mmt8", "MMT-8 total", "number"),
        _f("mmt8_max", "MMT-8 maximum", "number", hint="empty means 80"),
        _f("haq", "HAQ disability index", "number", hint="0–3"),
        _f("cdasi_activity", "CDASI activity", "number"))),
    FormSpec(slug="lab", key="labs", title="Add a lab result", fields=(
        _f("test", "Test", "select", choices=ENZYMES, required=True),
        _f("value", "Value", "number", required=True),
        _f("unit", "Unit", "select", choices=("U/L", "µkat/L"), required=True),
        _f("uln", "Upper limit of normal", "number", hint="in the same unit"),
        _f("date", "Date", "date", required=True))),
    FormSpec(slug="antibody", key="antibodies", title="Add an antibody result", fields=(
        _f("target", "Target", "select", choices=ANTIBODY_TARGETS, required=True),
        _f("result", "Result", "select", choices=ANTIBODY_RESULTS, required=True),
        _f("date", "Date", "date", required=True),
        _f("titer", "Titer", "number"),
        _f("unit", "Titer unit", suggestions=("U/mL", "AU/mL", "AU")),
        _f("cutoff", "Positivity cutoff", "number", hint="the assay's threshold, in the titer unit"),
        _f("method", "Method", suggestions=("ELISA", "line immunoblot",
                                            "immunoprecipitation")))),
    FormSpec(slug="finding", key="findings", title="Add a clinical finding", fields=(
        _f("code", "Finding", "select", choices=ALL_FINDINGS, required=True),
        _f("present", "Present", "yesno", required=True),
        _f("date", "Date assessed", "date", required=True))),
    FormSpec(slug="treatment", key="treatments", title="Add a treatment", fields=(
        _f("drug", "Drug (generic name, lower case)", required=True, suggestions=_DRUGS),
        _f("dose", "Dose", "number"),
        _f("unit", "Dose unit", suggestions=("mg", "g", "mg/kg", "g/kg")),
        _f("frequency", "Frequency", "select", choices=FREQUENCIES),
        _f("route", "Route", suggestions=("oral", "iv", "sc", "topical")),
        _f("start", "Start", "date", required=True),
        _f("stop", "Stop", "date", hint="empty while ongoing"))),
    FormSpec(slug="investigation", key="investigations", title="Add an investigation", fields=(
        _f("kind", "Investigation", "select", choices=INVESTIGATION_KINDS, required=True),
        _f("date", "Date", "date", required=True),
        _f("result", "Result"),
        _f("abnormal", "Abnormal", "yesno"))),
    FormSpec(slug="measurement", key="body_measurements", title="Add a body measurement", fields=(
        _f("date", "Date", "date", required=True),
        _f("weight_kg", "Weight (kg)", "number"),
        _f("height_cm", "Height (cm)", "number"))),
)}

_YES_NO: Final = {"yes": True, "no": False}


def _value(spec: FieldSpec, text: str, path: str, errors: list[FieldError]) -> object:
    """The JSON value of one typed field (``None``: absent); problems of form go to ``errors``."""
    if spec.kind == "number":
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            errors.append(FieldError(path=path, value=text, expected="a number"))
            return None
        return int(number) if number.is_integer() and re.fullmatch(r"-?\d+", text) else number
    if spec.kind == "yesno":
        if text not in _YES_NO:
            errors.append(FieldError(path=path, value=text, expected="yes or no"))
            return None
        return _YES_NO[text]
    if len(text) > MAX_TEXT:
        errors.append(FieldError(path=path, value=text[:40] + "…",
                                 expected=f"at most {MAX_TEXT} characters"))
        return None
    return text  # dates, choices and text: the record parser checks them


def _typed(fields: Sequence[FieldSpec], values: Mapping[str, str], prefix: str,
           errors: list[FieldError]) -> dict[str, object]:
    out: dict[str, object] = {}
    for spec in fields:
        text = values.get(spec.name, "").strip()
        if not text:
            if spec.required:
                errors.append(FieldError(path=f"{prefix}.{spec.name}", value="<missing>",
                                         expected=f"a value for {spec.label.lower()}"))
            continue
        value = _value(spec, text, f"{prefix}.{spec.name}", errors)
        if value is not None:
            out[spec.name] = value
    return out


def build_entry(form: FormSpec, values: Mapping[str, str], index: int) -> tuple[dict[str, object],
                                                                              list[FieldError]]:
    """The new list entry (JSON) from the typed ``values``, and the problems of form found."""
    errors: list[FieldError] = []
    entry = _typed(form.fields, values, f"$.{form.key}[{index}]", errors)
    return entry, errors


def patient_values(record: Mapping[str, object]) -> dict[str, str]:
    """The patient form's values of a stored record."""
    diagnosis = record.get("diagnosis")
    diagnosis = diagnosis if isinstance(diagnosis, Mapping) else {}
    values = {"id": record.get("id"), "sex": record.get("sex"),
              "birth_date": record.get("birth_date"), "diagnosis_name": diagnosis.get("name"),
              "diagnosis_date": diagnosis.get("date"),
              "diagnosis_symptom_onset_date": diagnosis.get("symptom_onset_date")}
    return {name: "" if value is None else str(value) for name, value in values.items()}


def apply_patient_fields(record: Mapping[str, object], values: Mapping[str, str]) -> tuple[
        dict[str, object], list[FieldError]]:
    """``record`` with the patient form's fields replaced (an emptied field is removed)."""
    errors: list[FieldError] = []
    typed = _typed(PATIENT_FORM, values, "$", errors)
    document: dict[str, object] = {"format": RECORD_FORMAT, **record}
    for name in ("id", "sex", "birth_date"):
        document.pop(name, None)
        if name in typed:
            document[name] = typed[name]
    diagnosis = {part: typed[f"diagnosis_{part}"] for part in ("name", "date", "symptom_onset_date")
                 if f"diagnosis_{part}" in typed}
    document.pop("diagnosis", None)
    if diagnosis:
        document["diagnosis"] = diagnosis
    # Keep the usual key order of the format (id first) for exports.
    order = ("format", "id", "sex", "birth_date", "diagnosis")
    ordered = {k: document[k] for k in order if k in document}
    ordered.update({k: v for k, v in document.items() if k not in ordered})
    return ordered, errors


_PATIENT_PATHS: Final = {"$.id": "id", "$.sex": "sex", "$.birth_date": "birth_date",
                         "$.diagnosis": "diagnosis_name", "$.diagnosis.name": "diagnosis_name",
                         "$.diagnosis.date": "diagnosis_date",
                         "$.diagnosis.symptom_onset_date": "diagnosis_symptom_onset_date"}


def errors_by_field(errors: Sequence[FieldError], *, prefix: str,
                    names: Sequence[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Messages by form field, and the rest (problems elsewhere in the record).

    ``prefix`` is the path of the form's part of the record: ``$.assessments[3]`` for an entry
    form (its fields are the JSON keys), ``$`` for the patient form.
    """
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for error in errors:
        message = f"got {_shown(error.value)}; expected {error.expected}"
        if prefix == "$":
            name = _PATIENT_PATHS.get(error.path) or error.path.removeprefix("$.")
        else:
            name = error.path.removeprefix(prefix + ".") if error.path.startswith(prefix + ".") else ""
            name = name.split(".", 1)[0].split("[", 1)[0]
        if name in names:
            by_field.setdefault(name, []).append(message)
        elif error.path == prefix and prefix != "$":
            other.append(f"this entry: {message}")
        else:
            other.append(f"{error.path}: {message}")
    return by_field, other


def _shown(value: object) -> str:
    if value == "<missing>":
        return "nothing"
    return repr(value) if isinstance(value, str) else str(value)
