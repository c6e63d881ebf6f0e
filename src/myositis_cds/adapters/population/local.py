"""The ``local`` engine: plain Python streaming in one process (the reference for the others).

A records folder (or a folder of FHIR Bundles) is read file by file. A FHIR export is read in two
passes, as the importer's
bulk reader does: the first keeps only each patient's (file, byte offset) list, found with the
importer's ``patient_key_of``; the second reads each patient's lines back and evaluates them.
The previous run's state (if any) is loaded into a dict: this engine is meant for small
populations and as the reference the scalable engines are tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow.parquet as pq

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.importing.bulk import ndjson_files
from myositis_cds.adapters.fhir.importing.importer import medication_index, patient_key_of
from myositis_cds.adapters.fhir.importing.manifest import count_lines, files_to_read
from myositis_cds.adapters.fhir.importing.sources import bundle_files
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.adapters.population.arrow import STATE_COLUMNS, results_batch
from myositis_cds.adapters.population.evaluate import (
    evaluate_bundle_file,
    evaluate_fhir_patient,
    evaluate_record_file,
)
from myositis_cds.adapters.population.lines import LineFilter
from myositis_cds.adapters.population.records import record_files
from myositis_cds.adapters.population.sink import PartWriter, SourceCounts
from myositis_cds.domain.worklist import PatientEvaluator, PatientResult
from myositis_cds.errors import UsageError

__all__ = ["BATCH", "load_state", "run_local"]

BATCH = 1024
Progress = Callable[[int], None]


def load_state(state: Path | None) -> dict[str, dict[str, Any]]:
    if state is None or not state.exists():
        return {}
    table = pq.read_table(state, columns=list(STATE_COLUMNS))
    return {row["patient_key"]: row for row in table.to_pylist()}


def _index(folder: Path, counts: SourceCounts, lines: LineFilter) -> tuple[
        list[Path], dict[str, list[tuple[int, int]]], list[Mapping[str, Any]]]:
    """Pass 1: (file number, byte offset) of each patient's lines read; Medication resources.
    Lines not read (:mod:`.lines`) are counted without being decoded."""
    files, skipped = files_to_read(folder, ndjson_files(folder))
    counts.not_read += sum(count_lines(path) for path in skipped)
    places: dict[str, list[tuple[int, int]]] = {}
    medications: list[Mapping[str, Any]] = []
    for number, path in enumerate(files):
        with path.open("rb") as stream:
            offset = 0
            for line_number, line in enumerate(stream, start=1):
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                if not lines.reads(line):
                    counts.not_read += 1
                    continue
                try:
                    resource = json_edge.loads(line)
                except orjson.JSONDecodeError as exc:
                    msg = (f"{path}:{line_number}: got a line that is not valid JSON ({exc}); "
                           "expected one FHIR resource (a JSON object) per line")
                    raise UsageError(msg) from None
                if not isinstance(resource, dict):
                    msg = (f"{path}:{line_number}: got {type(resource).__name__}; expected a "
                           "FHIR resource (a JSON object)")
                    raise UsageError(msg)
                if resource.get("resourceType") == "Medication":
                    medications.append(resource)
                    continue
                key = patient_key_of(resource)
                if key is None:
                    counts.unattributed += 1
                else:
                    places.setdefault(key, []).append((number, start))
    return files, places, medications


def _fhir_results(folder: Path, evaluator: PatientEvaluator, previous: dict[str, dict[str, Any]],
                  counts: SourceCounts, mapping: FhirMapping) -> Iterator[PatientResult]:
    lines = LineFilter.of(mapping)
    files, places, medications = _index(folder, counts, lines)
    index = medication_index(medications)
    streams: dict[int, IO[bytes]] = {}
    try:
        for key, where in places.items():
            texts = []
            for number, offset in where:
                stream = streams.get(number)
                if stream is None:
                    stream = streams[number] = files[number].open("rb")
                stream.seek(offset)
                texts.append(stream.readline())
            yield evaluate_fhir_patient(evaluator, key, texts, mapping=mapping, medications=index,
                                        state=previous.get(key), lines=lines)
    finally:
        for stream in streams.values():
            stream.close()


def _record_results(folder: Path, evaluator: PatientEvaluator,
                    previous: dict[str, dict[str, Any]]) -> Iterator[PatientResult]:
    for path in record_files(folder):
        yield from evaluate_record_file(evaluator, path.name, path.read_bytes(), previous.get)


def _bundle_results(folder: Path, evaluator: PatientEvaluator, previous: dict[str, dict[str, Any]],
                    mapping: FhirMapping) -> Iterator[PatientResult]:
    for path in bundle_files(folder):
        yield from evaluate_bundle_file(evaluator, path.name, path.read_bytes(), mapping=mapping,
                                        lookup=previous.get)


def run_local(kind: str, folder: Path, evaluator: PatientEvaluator, *, mapping: FhirMapping,
              state: Path | None, parts: Path, progress: Progress) -> SourceCounts:
    """Evaluate every patient of ``folder`` (``kind`` ``records``, ``fhir`` (NDJSON) or
    ``bundles``); returns the counts of FHIR lines not read and of no patient."""
    previous = load_state(state)
    counts = SourceCounts()
    if kind == "fhir":
        results = _fhir_results(folder, evaluator, previous, counts, mapping)
    elif kind == "bundles":
        results = _bundle_results(folder, evaluator, previous, mapping)
    else:
        results = _record_results(folder, evaluator, previous)
    writer = PartWriter(parts)
    try:
        pending: list[PatientResult] = []
        for result in results:
            pending.append(result)
            if len(pending) >= BATCH:
                writer.write(results_batch(pending))
                progress(len(pending))
                pending = []
        if pending:
            writer.write(results_batch(pending))
            progress(len(pending))
    finally:
        writer.close()
    return counts
