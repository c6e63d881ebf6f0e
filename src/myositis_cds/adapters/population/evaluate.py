"""What every engine does with one group of input: decode, import, evaluate (shared code).

The engines (local, DuckDB, Spark) read and group their input differently, then hand each group to
one of these functions, which call the per-patient :class:`~myositis_cds.domain.worklist.PatientEvaluator`.

FHIR resources of one patient are put in a canonical order — resource type, id, then the JSON text —
before :func:`~myositis_cds.adapters.fhir.importing.importer.patient_document` maps them: an NDJSON export's
line order is not something SQL engines keep, and FHIR Bulk Data servers may order and split their
files arbitrarily, so the canonical order makes every engine (and every re-export) build the same
document. A Bundle file's resources are put in the same order, so that a folder of Bundles and the
NDJSON export of the same data give the same worklist.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.importing.importer import (
    PatientImport,
    iter_bundle_patients,
    patient_document,
)
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.adapters.population.lines import LineFilter
from myositis_cds.adapters.population.records import decode_file
from myositis_cds.domain.worklist import (
    ROW_FIELDS,
    CachedResult,
    PatientEvaluator,
    PatientResult,
    WorklistItem,
)

__all__ = ["StateLookup", "cached_from", "canonical_order", "canonical_resources", "evaluate_bundle_file",
           "evaluate_fhir_patient", "evaluate_record_file"]

StateLookup = Callable[[str], Mapping[str, Any] | None]


def cached_from(state: Mapping[str, Any]) -> CachedResult | None:
    """A :class:`CachedResult` from one state row as a dict (``None`` when the row is empty,
    i.e. the patient was not in the previous run)."""
    content = state.get("content_hash")
    as_of = state.get("as_of")
    if not content or not isinstance(as_of, dt.date):
        return None
    rows = tuple(WorklistItem(**{name: row[name] for name in ROW_FIELDS})
                 for row in state.get("rows") or ())
    return CachedResult(content_hash=str(content), as_of=as_of, recheck_on=state.get("recheck_on"),
                        rows=rows)


def _no_state(key: str) -> None:  # noqa: ARG001 - a StateLookup that finds nothing
    return None


def evaluate_record_file(evaluator: PatientEvaluator, name: str, data: bytes,
                         lookup: StateLookup = _no_state) -> Iterator[PatientResult]:
    """The results of one file of a records folder; ``lookup(key)`` is the previous run's state
    row of a patient (consulted only when the file holds one record, as every engine can join
    state to a file only through its top-level ``id``)."""
    decoded = list(decode_file(name, data))
    for key, document, errors in decoded:
        if document is None:
            yield evaluator.invalid(key, errors)
            continue
        state = lookup(key) if len(decoded) == 1 else None
        yield evaluator(key, document, cached_from(state) if state else None)


def canonical_order(resources: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Decoded resources in the canonical order of :func:`canonical_resources` (resource type,
    id, then the JSON text — computed only for resources that share a type and id)."""
    def pair(resource: Mapping[str, Any]) -> tuple[str, str]:
        return str(resource.get("resourceType")), str(resource.get("id") or "")

    pairs = [pair(r) for r in resources]
    if len(set(pairs)) == len(pairs):
        return [r for _, r in sorted(zip(pairs, resources, strict=True), key=lambda x: x[0])]
    return sorted(resources, key=lambda r: (*pair(r), orjson.dumps(r).decode()))


def canonical_resources(texts: Iterable[str | bytes]) -> list[Mapping[str, Any]]:
    decoded = []
    for text in texts:
        resource = json_edge.loads(text)
        raw = text if isinstance(text, str) else text.decode()
        decoded.append((str(resource.get("resourceType")), str(resource.get("id") or ""), raw,
                        resource))
    decoded.sort(key=lambda item: item[:3])
    return [item[3] for item in decoded]


def evaluate_fhir_patient(evaluator: PatientEvaluator, key: str, texts: Sequence[str | bytes], *,
                          mapping: FhirMapping, medications: Mapping[str, Mapping[str, Any]],
                          state: Mapping[str, Any] | None = None,
                          lines: LineFilter | None = None) -> PatientResult:
    """The result of one patient of a FHIR export, from the JSON texts of its resources.

    With ``lines`` (the engines' line filter), a patient whose texts name no code that can put
    it in the population — and not listed in the cohort — is outside without being decoded (the
    same answer the evaluator gives after the import, only sooner)."""
    if lines is not None and not evaluator.admits_key(key) and not lines.may_be_in_population(texts):
        return evaluator.outside(key)
    try:
        resources = canonical_resources(texts)
    except orjson.JSONDecodeError as exc:
        return evaluator.invalid(key, [{"path": "$", "value": f"a resource line of patient "
                                        f"{key} is not JSON ({exc.msg})",
                                        "expected": "one FHIR resource (a JSON object) per line"}])
    try:
        imported = patient_document(resources, mapping=mapping, medications=medications)
    except ValueError as exc:  # no resource names the patient as the importer reads it
        return evaluator.invalid(key, [{"path": "$", "value": f"resources of patient {key}",
                                        "expected": str(exc)}])
    return _evaluate_import(evaluator, imported, state)


def _evaluate_import(evaluator: PatientEvaluator, imported: PatientImport,
                     state: Mapping[str, Any] | None) -> PatientResult:
    previous = cached_from(state) if state else None
    result = evaluator(imported.patient_key, imported.document, previous)
    return dataclasses.replace(result, unmapped=imported.unmapped.total)


def evaluate_bundle_file(evaluator: PatientEvaluator, name: str, data: bytes, *,
                         mapping: FhirMapping, lookup: StateLookup = _no_state,
                         unassigned: UnmappedReport | None = None) -> Iterator[PatientResult]:
    """The results of the patients of one Bundle file of a Bundle folder (usually one: Synthea
    writes a file per patient); a file that is not a JSON Bundle is one invalid "patient" keyed by
    its name. Resources of no patient are counted in ``unassigned``."""
    try:
        bundle = json_edge.loads(data)
    except orjson.JSONDecodeError as exc:
        yield evaluator.invalid(name, [{"path": "$", "value": f"{name} (not JSON: {exc.msg})",
                                        "expected": "a FHIR Bundle (JSON object)"}])
        return
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        yield evaluator.invalid(name, [{"path": "$.resourceType", "value": found,
                                        "expected": "'Bundle'"}])
        return
    for imported in iter_bundle_patients(bundle, mapping=mapping, unassigned=unassigned,
                                         order=canonical_order):
        yield _evaluate_import(evaluator, imported, lookup(imported.patient_key))
