"""Immutable result records of an assessment (``myositis-cds/assessment@1``).

Every finding-like result carries ``rule_id``, ``knowledge_version``, ``citations`` (keys of the
pack) and ``inputs`` (the record values, with their JSON paths and dates, that produced it), plus
``notes``: the [INTERP] settings and [NOTE]s that affected it. :func:`to_dict` turns any of them
into the JSON shape of ``assessment-output.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any, Literal

from myositis_cds.domain.values import value_object
from myositis_cds.engine.provenance import InputRef, Note, Scalar
from myositis_cds.engine.therapy_results import (
    Action,
    ActionKind,
    Activity,
    CurrentTherapy,
    GlucocorticoidExposure,
    Phase,
    SafetyCheck,
    TherapyAgent,
)
from myositis_cds.scores.imacs_doi import DoiResult
from myositis_cds.scores.tis import TisResult

__all__ = [
    "ASSESSMENT_FORMAT",
    "Action",
    "ActionKind",
    "Activity",
    "Alert",
    "Assessment",
    "CancerScreening",
    "CurrentTherapy",
    "GlucocorticoidExposure",
    "InputRef",
    "NotEvaluatedAlert",
    "Note",
    "Phase",
    "Phenotype",
    "PhenotypeFeature",
    "Regimen",
    "Response",
    "ResponseJudgement",
    "SafetyCheck",
    "SafetyItem",
    "Scalar",
    "Scope",
    "ScreeningOccasion",
    "Severity",
    "TherapyAgent",
    "TisOutcome",
    "TreatmentPlan",
    "WorkupItem",
    "assessment_shape",
    "fields_of",
    "passthrough",
    "plain",
    "to_dict",
]

ASSESSMENT_FORMAT = "myositis-cds/assessment@1"


@value_object
class Scope:
    status: Literal["in_scope", "out_of_scope", "not_evaluable"]
    reasons: tuple[str, ...]


@value_object
class PhenotypeFeature:
    id: str
    statement: str
    status: Literal["present", "absent", "not_recorded", "expected"]
    citations: tuple[str, ...]
    date: dt.date | None = None


@value_object
class Phenotype:
    status: Literal["applies", "not_applicable", "not_evaluable"]
    reasons: tuple[str, ...]
    features: tuple[PhenotypeFeature, ...]
    messages: tuple[str, ...]
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()


@value_object
class WorkupItem:
    id: str
    title: str
    status: Literal["done", "missing", "not_required"]
    date: dt.date | None
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()


@value_object
class ScreeningOccasion:
    due: dt.date
    status: Literal["done", "due", "overdue", "upcoming"]
    satisfied_by: dt.date | None
    window_start: dt.date
    window_end: dt.date


@value_object
class CancerScreening:
    level: Literal["standard", "enhanced", "not_routinely_required", "not_evaluable"]
    reasons: tuple[str, ...]
    required_investigations: tuple[str, ...]
    occasions: tuple[ScreeningOccasion, ...]
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()


@value_object
class Severity:
    tier: Literal["non_severe", "severe_refractory", "not_evaluable"]
    reasons: tuple[str, ...]
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()


@value_object
class SafetyItem:
    rule_id: str
    severity: Literal["info"]
    message: str
    citations: tuple[str, ...]


@value_object
class Regimen:
    drug: str
    role: Literal["glucocorticoid", "steroid_sparing", "glucocorticoid_pulse", "second_line"]
    tier: Literal["non_severe", "severe_refractory"]
    dose_min: float | None
    dose_max: float | None
    unit: str
    basis: str
    schedule: str
    status: Literal["ok", "not_evaluable"]
    reason: str | None
    notes: tuple[Note, ...]
    safety: tuple[SafetyItem, ...]
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    dose_in_pack: bool = True
    """``False`` when the pack has no dose for this patient (a child's drug without a children's
    dose, §14): ``not_evaluable`` by design, not for lack of data."""


@value_object
class TreatmentPlan:
    tier: Literal["non_severe", "severe_refractory", "not_evaluable"]
    regimens: tuple[Regimen, ...]
    notes: tuple[Note, ...]
    actions: tuple[Action, ...] = ()
    dosing: Literal["adult", "children"] = "adult"
    dosing_sources: tuple[str, ...] = ()
    """Citation keys of the doses (children: CARRA-JDM-2010, SHARE-JDM-2017)."""


@value_object
class TisOutcome:
    """The TIS with the visits it compares."""

    result: TisResult
    baseline_date: dt.date | None
    followup_date: dt.date | None
    enzyme: str | None
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()


@value_object
class ResponseJudgement:
    """Inadequate response after 3 months (§6.4)."""

    status: Literal["inadequate", "adequate", "not_yet_due", "no_first_line_treatment",
                    "not_evaluable"]
    reason: str
    first_line_start: dt.date | None
    judged_on: dt.date | None
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()


@value_object
class Response:
    tis: TisOutcome
    imacs_doi: DoiResult
    imacs_doi_citations: tuple[str, ...]
    inadequate_response: ResponseJudgement


@value_object
class Alert:
    id: str
    severity: Literal["info", "warning", "critical"]
    title: str
    message: str
    rule_id: str
    knowledge_version: str
    citations: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    notes: tuple[Note, ...] = ()
    drug: str | None = None
    """The agent an alert is about, for alerts given once per agent (ALERT-DOSE-CHECK, …)."""


@value_object
class NotEvaluatedAlert:
    """An alert whose inputs are missing: it neither fired nor can be said not to apply."""

    id: str
    reason: str


@value_object
class Assessment:
    patient_id: str
    as_of: dt.date
    pack: str
    version: str
    scope: Scope
    phenotype: Phenotype
    workup: tuple[WorkupItem, ...]
    cancer_screening: CancerScreening
    severity: Severity
    treatment_plan: TreatmentPlan
    response: Response
    alerts: tuple[Alert, ...]
    alerts_not_evaluable: tuple[NotEvaluatedAlert, ...]
    settings: Mapping[str, object]
    settings_overridden: tuple[str, ...]
    current_therapy: CurrentTherapy
    safety: tuple[SafetyCheck, ...]


# ---------------------------------------------------------------------------------------------
# Serialisation to the JSON shape of assessment-output.md.

_FIELD_CACHE: dict[type, tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: object) -> Any:
    """JSON-ready form of a result value (dispatch on the exact type first: this is a hot path)."""
    cls = type(value)
    names = _FIELD_CACHE.get(cls)
    if names is not None:
        return {name: plain(getattr(value, name)) for name in names}
    if cls in _SCALARS:
        return value
    if cls is tuple or cls is list:
        return [plain(v) for v in value]  # type: ignore[attr-defined]
    if cls is dt.date:
        return value.isoformat()  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        _FIELD_CACHE[cls] = tuple(f.name for f in fields(value))
        return plain(value)
    msg = f"cannot serialise {cls.__name__}"
    raise TypeError(msg)


def fields_of(value: object, leaf: Callable[[object], Any]) -> dict[str, Any]:
    """The fields of a result dataclass as a ``dict``, each value through ``leaf``."""
    names = _FIELD_CACHE.get(type(value))
    if names is None:
        plain(value)  # fills the cache (and refuses a value that is not a dataclass)
        names = _FIELD_CACHE[type(value)]
    return {name: leaf(getattr(value, name)) for name in names}


def passthrough(value: object) -> object:
    """The ``leaf`` of an encoder that writes result dataclasses itself, field by field in
    declaration order, tuples as arrays and dates as ``YYYY-MM-DD`` (orjson): the values are handed
    over as they are (the encoder must write any other ``Mapping`` as an object)."""
    return value


def _tis_shape(outcome: TisOutcome, leaf: Callable[[object], Any]) -> dict[str, Any]:
    result = outcome.result
    return {
        "status": result.status,
        "score": result.score,
        "range": leaf(result.range),
        "category": result.category,
        "population": result.population,
        "baseline_date": leaf(outcome.baseline_date),
        "followup_date": leaf(outcome.followup_date),
        "enzyme": outcome.enzyme,
        "reason": result.reason,
        "measures": leaf(result.measures),
        "rule_id": outcome.rule_id,
        "knowledge_version": outcome.knowledge_version,
        "citations": leaf(outcome.citations),
        "inputs": leaf(outcome.inputs),
        "notes": leaf(outcome.notes),
    }


def assessment_shape(assessment: Assessment, leaf: Callable[[object], Any]) -> dict[str, Any]:
    """The ``myositis-cds/assessment@1`` JSON object: the one place that defines its shape.

    ``leaf`` makes each result value JSON-ready: :func:`plain` builds the dicts and lists
    (:func:`to_dict`); :func:`passthrough` hands the dataclasses to an encoder that writes them
    directly, without the intermediate dicts (``presentation.assessment_json``). Both give the same
    JSON, byte for byte (tested on every example and the generated patients).
    """
    response = assessment.response
    return {
        "format": ASSESSMENT_FORMAT,
        "patient_id": assessment.patient_id,
        "as_of": assessment.as_of.isoformat(),
        "knowledge": {"pack": assessment.pack, "version": assessment.version},
        "scope": leaf(assessment.scope),
        "phenotype": leaf(assessment.phenotype),
        "workup": leaf(assessment.workup),
        "cancer_screening": leaf(assessment.cancer_screening),
        "severity": leaf(assessment.severity),
        "treatment_plan": leaf(assessment.treatment_plan),
        "response": {
            "tis": _tis_shape(response.tis, leaf),
            "imacs_doi": {
                **fields_of(response.imacs_doi, leaf),
                "rule_id": "RESPONSE-IMACS-DOI",
                "knowledge_version": assessment.version,
                "citations": leaf(response.imacs_doi_citations),
            },
            "inadequate_response": leaf(response.inadequate_response),
        },
        "current_therapy": leaf(assessment.current_therapy),
        "safety": leaf(assessment.safety),
        "alerts": leaf(assessment.alerts),
        "alerts_not_evaluable": leaf(assessment.alerts_not_evaluable),
        "settings": {
            "values": leaf(assessment.settings),
            "overridden": leaf(assessment.settings_overridden),
        },
    }


def to_dict(assessment: Assessment) -> dict[str, Any]:
    """The ``myositis-cds/assessment@1`` JSON object of an assessment (dicts and lists)."""
    return assessment_shape(assessment, plain)
