"""The data-entry forms: what each form asks, how typed text becomes ``patient-record@1`` JSON,
and where the record validator's messages go.

A form never validates clinical content itself: it only turns text into JSON values (an empty
field means "absent", never 0; a number that is not a number is reported) and the whole new
record then goes through the same parser as every other input, so every limit (scales, dates,
plausibility) has one implementation. A form's own problems and the parser's are shown together,
after one submit. The parser's :class:`~myositis_cds.errors.FieldError` paths
(``$.assessments[3].haq``) are mapped back to the form's fields so that each message stands next
to the value it is about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from myositis_cds.domain.units import LAB_UNITS
from myositis_cds.domain.vocabulary import (
    ALL_FINDINGS,
    ANTIBODY_RESULTS,
    ANTIBODY_TARGETS,
    DIAGNOSES,
    ENZYME_LIKE_TESTS,
    FREQUENCIES,
    INVESTIGATION_KINDS,
    MONITORING_BLOOD_TESTS,
    SEXES,
    canonical_drug,
)
from myositis_cds.entrypoints.web.choices import DRUG_CHOICE_LABELS, DRUG_GROUPS, labels_for
from myositis_cds.errors import FieldError

__all__ = [
    "ASSESSMENT_FORM",
    "DETAIL_OF_FIELD",
    "ENTRY_FORMS",
    "FORM",
    "FORM_OF_KEY",
    "MMT8_GROUPS",
    "PATIENT_FORM",
    "FieldSpec",
    "FormSpec",
    "apply_patient_fields",
    "build_entry",
    "entry_values",
    "patient_values",
    "typed_values",
]

Kind = Literal["date", "number", "text", "select", "yesno"]
RECORD_FORMAT: Final = "myositis-cds/patient-record@1"
MAX_TEXT: Final = 2000
FORM: Final = "form"
"""Path prefix of a form's own problems (``form.haq``: the field ``haq`` is not a number)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    name: str
    """The form field's name."""
    label: str
    kind: Kind = "text"
    choices: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    """What each choice is called on screen (the code is what is stored)."""
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Choices under headings (``<optgroup>``), instead of ``choices``."""
    required: bool = False
    hint: str = ""
    suggestions: tuple[str, ...] = ()
    """Offered in a ``<datalist>`` for free text (other values are accepted)."""
    key: str = ""
    """Where the value goes in the entry (``mmt8_grades.deltoid``); default: ``name``."""
    quantity: str = ""
    """The plausibility range (setting ``plausibility``) the record checks the value against: the
    form shows it as a hint before submit (``""``: none)."""
    canonical: Callable[[str], str | None] | None = None
    """A select whose values have other accepted spellings (drug synonyms): the choice a spelling
    stands for, or ``None`` (then the record validator judges the text and says what it expects)."""

    @property
    def json_key(self) -> str:
        return self.key or self.name

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(c for _, group in self.groups for c in group) if self.groups else self.choices


@dataclass(frozen=True, slots=True, kw_only=True)
class FormSpec:
    slug: str
    """The URL part: ``/patients/{id}/add/{slug}``."""
    key: str
    """The record's list this form appends to."""
    title: str
    fields: tuple[FieldSpec, ...]
    noun: str = "entry"
    """What one entry is called (``lab result``)."""


def _f(name: str, label: str, kind: Kind = "text", *, codes: str = "",
       **more: object) -> FieldSpec:
    """A field; ``codes``: the kind of code its choices are (their words from the labels table)."""
    if codes:
        more["labels"] = labels_for(codes, more["choices"])  # type: ignore[arg-type]
    return FieldSpec(name=name, label=label, kind=kind, **more)  # type: ignore[arg-type]


_VAS = "0–10 cm visual analogue scale"
MMT8_GROUPS: Final = ("neck_flexors", "deltoid", "biceps", "wrist_extensors", "gluteus_maximus",
                      "gluteus_medius", "quadriceps", "ankle_dorsiflexors")
_GROUP_LABELS: Final = {"neck_flexors": "Neck flexors", "deltoid": "Deltoid", "biceps": "Biceps",
                        "wrist_extensors": "Wrist extensors", "gluteus_maximus": "Gluteus maximus",
                        "gluteus_medius": "Gluteus medius", "quadriceps": "Quadriceps",
                        "ankle_dorsiflexors": "Ankle dorsiflexors"}
LAB_TESTS: Final = (*ENZYME_LIKE_TESTS, *MONITORING_BLOOD_TESTS)
"""The lab form's tests: muscle and liver enzymes, and the drug-monitoring bloods (§15)."""
LAB_TEST_LABELS: Final = {**{t: t for t in ENZYME_LIKE_TESTS}, "wbc": "White cell count",
                          "neutrophils": "Neutrophils", "platelets": "Platelets",
                          "haemoglobin": "Haemoglobin", "creatinine": "Creatinine",
                          "albumin": "Albumin"}
LAB_UNIT_CHOICES: Final = tuple(dict.fromkeys(
    next(spelling for spelling, f in spellings.items() if f == factor)
    for _, spellings in LAB_UNITS.values() for factor in dict.fromkeys(spellings.values())))
"""One spelling of each unit the record converts: ``U/L``, ``µkat/L``, ``10^9/L``, ``g/L``,
``g/dL``, ``µmol/L``, ``mg/dL`` (the record checks that a unit fits its test)."""

PATIENT_FORM: Final = (
    _f("id", "Patient id", required=True, hint="the identifier within its source"),
    _f("sex", "Sex", "select", choices=SEXES, codes="sex"),
    _f("birth_date", "Birth date", "date"),
    _f("diagnosis_name", "Diagnosis", "select", choices=DIAGNOSES, codes="diagnosis"),
    _f("diagnosis_date", "Diagnosis date", "date"),
    _f("diagnosis_symptom_onset_date", "Symptom onset", "date"),
)

CORE_SET: Final = (
    _f("physician_global", "Physician global activity", "number", hint=_VAS),
    _f("patient_global", "Patient global activity", "number", hint=_VAS),
    _f("extramuscular_global", "Extramuscular global activity", "number", hint=_VAS),
    _f("haq", "HAQ disability index", "number", hint="0–3"),
    _f("cdasi_activity", "CDASI activity", "number", hint="0–100"),
)
MMT8_FIELDS: Final = (
    _f("mmt8", "MMT-8 total", "number", hint="0–80; or grade each muscle group below"),
    _f("mmt8_max", "MMT-8 maximum", "number", hint="empty means 80"),
    *(_f(f"grade_{group}", _GROUP_LABELS[group], "number", hint="0–10",
         key=f"mmt8_grades.{group}") for group in MMT8_GROUPS),
)
ASSESSMENT_FORM: Final = FormSpec(
    slug="assessment", key="assessments", title="Visit: core set measures", noun="visit",
    fields=(_f("date", "Visit date", "date", required=True), *CORE_SET, *MMT8_FIELDS))

ENTRY_FORMS: Final = {form.slug: form for form in (
    ASSESSMENT_FORM,
    FormSpec(slug="lab", key="labs", title="Lab result", noun="lab result", fields=(
        _f("test", "Test", "select", choices=LAB_TESTS, labels=LAB_TEST_LABELS, required=True),
        _f("value", "Value", "number", required=True),
        _f("unit", "Unit", "select", choices=LAB_UNIT_CHOICES,
           labels={u: u for u in LAB_UNIT_CHOICES}, required=True),
        _f("uln", "Upper limit of normal", "number", hint="in the same unit"),
        _f("date", "Date", "date", required=True))),
    FormSpec(slug="antibody", key="antibodies", title="Antibody result", noun="antibody result",
             fields=(
        _f("target", "Target", "select", choices=ANTIBODY_TARGETS,
           labels={t: t for t in ANTIBODY_TARGETS}, required=True),
        _f("result", "Result", "select", choices=ANTIBODY_RESULTS, required=True,
           labels={r: r.capitalize() for r in ANTIBODY_RESULTS}),
        _f("date", "Date", "date", required=True),
        _f("titer", "Titer", "number"),
        _f("unit", "Titer unit", suggestions=("U/mL", "AU/mL", "AU")),
        _f("cutoff", "Positivity cut-off", "number", hint="the assay's threshold, in the titer unit"),
        _f("method", "Method", suggestions=("ELISA", "line immunoblot",
                                            "immunoprecipitation")))),
    FormSpec(slug="finding", key="findings", title="Clinical finding", noun="finding", fields=(
        _f("code", "Finding", "select", choices=ALL_FINDINGS, codes="finding", required=True),
        _f("present", "Present", "yesno", required=True),
        _f("date", "Date assessed", "date", required=True))),
    FormSpec(slug="treatment", key="treatments", title="Treatment", noun="treatment", fields=(
        _f("drug", "Drug", "select", groups=DRUG_GROUPS, labels=DRUG_CHOICE_LABELS, required=True,
           canonical=canonical_drug),
        _f("name", "Name as prescribed", hint="required when the drug is \"Other treatment\""),
        _f("dose", "Dose", "number", hint="per frequency period (a day, a week...)"),
        _f("unit", "Dose unit", suggestions=("mg", "g", "mg/kg", "g/kg")),
        _f("frequency", "Frequency", "select", choices=FREQUENCIES, codes="frequency"),
        _f("route", "Route", suggestions=("oral", "iv", "sc", "topical")),
        _f("start", "Start", "date", required=True),
        _f("stop", "Stop", "date", hint="empty while ongoing"))),
    FormSpec(slug="investigation", key="investigations", title="Investigation",
             noun="investigation", fields=(
        _f("kind", "Investigation", "select", choices=INVESTIGATION_KINDS, codes="investigation",
           required=True),
        _f("date", "Date", "date", required=True),
        _f("result", "Result"),
        _f("abnormal", "Abnormal", "yesno"))),
    FormSpec(slug="measurement", key="body_measurements", title="Body measurement",
             noun="body measurement", fields=(
        _f("date", "Date", "date", required=True),
        _f("weight_kg", "Weight (kg)", "number", quantity="weight_kg"),
        _f("height_cm", "Height (cm)", "number", quantity="height_cm"))),
)}
FORM_OF_KEY: Final = {form.key: form for form in ENTRY_FORMS.values()}
"""The form that edits an entry of each list of the record."""

_YES_NO: Final = {"yes": True, "no": False}


def _value(spec: FieldSpec, text: str, errors: list[FieldError]) -> object:
    """The JSON value of one typed field (``None``: absent); problems of form go to ``errors``."""
    path = f"{FORM}.{spec.name}"
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
    if spec.kind == "select" and text not in spec.options:
        if spec.canonical is not None:  # a synonym is stored as its code; the validator judges the rest
            return spec.canonical(text) or text
        errors.append(FieldError(path=path, value=text, expected="one of the listed choices"))
        return None
    if len(text) > MAX_TEXT:
        errors.append(FieldError(path=path, value=text[:40] + "…",
                                 expected=f"at most {MAX_TEXT} characters"))
        return None
    return text  # dates and text: the record parser checks them


def typed_values(fields: Sequence[FieldSpec], values: Mapping[str, str],
                 errors: list[FieldError]) -> dict[str, object]:
    """Each non-empty field's JSON value by field name; problems (and missing required values)
    are appended to ``errors`` with ``form.<name>`` paths."""
    out: dict[str, object] = {}
    for spec in fields:
        text = values.get(spec.name, "").strip()
        if not text:
            if spec.required:
                errors.append(FieldError(path=f"{FORM}.{spec.name}", value="<missing>",
                                         expected=f"a value for {spec.label.lower()}"))
            continue
        value = _value(spec, text, errors)
        if value is not None:
            out[spec.name] = value
    return out


def build_entry(form: FormSpec, values: Mapping[str, str], *,
                base: Mapping[str, object] | None = None) -> tuple[dict[str, object],
                                                                   list[FieldError]]:
    """The entry (JSON) from the typed ``values``, and the form's own problems.

    With ``base`` (an entry being corrected), what the form does not ask about is kept as it was
    (e.g. HAQ answers per category); what it asks about and was emptied is removed."""
    errors: list[FieldError] = []
    typed = typed_values(form.fields, values, errors)
    managed = {spec.json_key.split(".", 1)[0] for spec in form.fields}
    entry: dict[str, object] = {k: v for k, v in (base or {}).items() if k not in managed}
    for spec in form.fields:
        if spec.name not in typed:
            continue
        head, _, tail = spec.json_key.partition(".")
        if tail:
            inner = entry.setdefault(head, {})
            assert isinstance(inner, dict)
            inner[tail] = typed[spec.name]
        else:
            entry[head] = typed[spec.name]
    return entry, errors


def entry_values(form: FormSpec, entry: Mapping[str, object]) -> dict[str, str]:
    """The form's values of a stored entry (for correcting it)."""
    out: dict[str, str] = {}
    for spec in form.fields:
        head, _, tail = spec.json_key.partition(".")
        value = entry.get(head)
        if tail:
            value = value.get(tail) if isinstance(value, Mapping) else None
        if isinstance(value, bool):
            out[spec.name] = "yes" if value else "no"
        elif value is not None:
            text = str(value)
            out[spec.name] = (spec.canonical(text) or text) if spec.canonical else text
    return out


def patient_values(record: Mapping[str, object]) -> dict[str, str]:
    """The patient form's values of a stored record."""
    diagnosis = record.get("diagnosis")
    diagnosis = diagnosis if isinstance(diagnosis, Mapping) else {}
    values = {"id": record.get("id"), "sex": record.get("sex"),
              "birth_date": record.get("birth_date"), "diagnosis_name": diagnosis.get("name"),
              "diagnosis_date": diagnosis.get("date"),
              "diagnosis_symptom_onset_date": diagnosis.get("symptom_onset_date")}
    return {name: "" if value is None else str(value) for name, value in values.items()}


DETAIL_OF_FIELD: Final = {"id": "id", "sex": "sex", "birth_date": "birth_date",
                          "diagnosis_name": "diagnosis.name", "diagnosis_date": "diagnosis.date",
                          "diagnosis_symptom_onset_date": "diagnosis.symptom_onset_date"}
"""Patient form field → patient detail (:data:`~myositis_cds.services.record_changes.DETAIL_FIELDS`)."""


def apply_patient_fields(record: Mapping[str, object], values: Mapping[str, str]) -> tuple[
        dict[str, object], list[FieldError]]:
    """``record`` with the patient form's fields replaced (an emptied field is removed)."""
    errors: list[FieldError] = []
    typed = typed_values(PATIENT_FORM, values, errors)
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
