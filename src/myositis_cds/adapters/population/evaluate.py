"""What every engine does with one group of input: decode, import, evaluate (shared code).

The engines (local, DuckDB, Spark) read and group their input differently, then hand each group to
one of these functions, which call the per-patient :class:`~myositis_cds.domain.worklist.PatientEvaluator`.

FHIR resources of one patient are put in a canonical order — resource type, id, then the JSON text —
before :func:`~myositis_cds.adapters.fhir.importing.importer.patient_document` maps them: an NDJSON export's
line order is not something SQL engines keep, and FHIR Bulk Data servers may order and split their
files arbitrarily, so the canonical order makes every engine (and every re-export) build the same
document.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.codes import FhirCodes
from myositis_cds.adapters.fhir.importing.importer import patient_document
from myositis_cds.adapters.population.arrow import cached_from
from myositis_cds.adapters.population.records import decode_file
from myositis_cds.domain.worklist import PatientEvaluator, PatientResult

__all__ = ["StateLookup", "canonical_resources", "evaluate_fhir_patient", "evaluate_record_file"]

StateLookup = Callable[[str], Mapping[str, Any] | None]


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
                          codes: FhirCodes, medications: Mapping[str, Mapping[str, Any]],
                          state: Mapping[str, Any] | None = None) -> PatientResult:
    """The result of one patient of a FHIR export, from the JSON texts of its resources."""
    try:
        resources = canonical_resources(texts)
    except orjson.JSONDecodeError as exc:
        return evaluator.invalid(key, [{"path": "$", "value": f"a resource line of patient "
                                        f"{key} is not JSON ({exc.msg})",
                                        "expected": "one FHIR resource (a JSON object) per line"}])
    try:
        imported = patient_document(resources, codes=codes, medications=medications)
    except ValueError as exc:  # no resource names the patient as the importer reads it
        return evaluator.invalid(key, [{"path": "$", "value": f"resources of patient {key}",
                                        "expected": str(exc)}])
    previous = cached_from(state) if state else None
    result = evaluator(key, imported.document, previous)
    unmapped = sum(group.count for group in imported.unmapped.groups.values())
    return dataclasses.replace(result, unmapped=unmapped)
