"""The ``duckdb`` engine (the embedded default): DuckDB reads and groups, Python evaluates.

A FHIR export: DuckDB reads every ``*.ndjson`` file (``read_ndjson_objects``), sorts the lines it
reads from those it does not by their text (:mod:`.lines`: counted, never decoded), extracts the
patient key of each line it reads in SQL (the Patient's ``id``, else the ``Patient/<id>`` of
``subject`` or ``patient`` — grouping only, no clinical logic in SQL), groups them by patient
(spilling to disk past its memory limit), joins the previous run's state and streams the groups to
Python in Arrow batches. A records folder (or a folder of Bundle files): DuckDB streams the files
(``read_text``) joined to the state on the patient's ``id``. Each batch is evaluated by the
per-patient function in this process and ``workers - 1`` helper processes (:mod:`.pool`), so the
engine uses every core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.importing.bulk import ndjson_files
from myositis_cds.adapters.fhir.importing.importer import medication_index
from myositis_cds.adapters.fhir.importing.manifest import count_lines, files_to_read
from myositis_cds.adapters.fhir.importing.sources import bundle_files
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.adapters.population.arrow import results_batch
from myositis_cds.adapters.population.lines import LineFilter
from myositis_cds.adapters.population.pool import evaluate_in_pool
from myositis_cds.adapters.population.records import record_files
from myositis_cds.adapters.population.sink import PartWriter, SourceCounts, quote_path
from myositis_cds.domain.worklist import PatientEvaluator, PatientResult
from myositis_cds.errors import UsageError

__all__ = ["BATCH", "BATCHES_PER_WORKER", "PATIENT_KEY_SQL", "batch_size", "connect", "run_duckdb"]

BATCH = 64
"""Patients per Arrow batch handed to a worker at most (a Synthea-sized patient's lines read weigh
about 250 KB, so a batch stays near 16 MB)."""
BATCHES_PER_WORKER = 8
"""A small export is cut into about this many batches per evaluating process, so that none waits
for another's last batch (64 Synthea-sized patients are about a second of work)."""
_REFERENCE = r"(?:^|/)([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$"


def _reference_key(path: str) -> str:
    ref = f"json_extract_string(json, '{path}')"
    return (f"CASE WHEN regexp_extract({ref}, '{_REFERENCE}', 1) = 'Patient' "
            f"THEN regexp_extract({ref}, '{_REFERENCE}', 2) END")


PATIENT_KEY_SQL = (
    "CASE WHEN json_extract_string(json, '$.resourceType') = 'Patient' THEN "
    "CASE WHEN json_type(json, '$.id') = 'VARCHAR' THEN nullif(json_extract_string(json, '$.id'), '') END "
    f"ELSE coalesce({_reference_key('$.subject.reference')}, {_reference_key('$.patient.reference')}) END"
)
"""The patient key of a resource column ``json``, as the importer's ``patient_key_of`` finds it."""

Progress = Callable[[int], None]


def connect(workdir: Path, *, memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    spill = workdir / "duckdb-spill"
    spill.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = {quote_path(spill)}")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def _state_join(state: Path | None, key: str) -> tuple[str, str]:
    if state is None or not state.exists():
        return "NULL AS state", ""
    return ("CASE WHEN s.patient_key IS NULL THEN NULL ELSE struct_pack(patient_key := s.patient_key, "
            "content_hash := s.content_hash, as_of := s.as_of, recheck_on := s.recheck_on, "
            "rows := s.rows) END AS state",
            f"LEFT JOIN read_parquet({quote_path(state)}) s ON s.patient_key = {key}")


def _fhir_query(con: duckdb.DuckDBPyConnection, folder: Path, state: Path | None,
                lines: LineFilter, counts: SourceCounts) -> tuple[str, dict[str, Mapping[str, Any]], int]:
    """One pass over the export: each line sorted read / not read, the lines read keyed and
    grouped by patient into a temporary table (a small part of the export); the group of no
    patient gives the Medications and the counts; returns the query of the patients' groups,
    the Medications and the number of patients."""
    read, skipped = files_to_read(folder, ndjson_files(folder))
    counts.not_read += sum(count_lines(path) for path in skipped)
    if not read:  # only types the importer does not map: no patient to evaluate
        return ("SELECT NULL::VARCHAR AS patient_key, NULL::VARCHAR[] AS resources, "
                "NULL AS state WHERE false"), {}, 0
    files = ", ".join(quote_path(p) for p in read)
    sql = (  # quoted paths and constant SQL only
        "CREATE OR REPLACE TEMP TABLE read_groups AS "  # noqa: S608
        f"WITH l AS (SELECT json, {lines.duckdb_sql('json')} AS read "
        f"FROM read_ndjson_objects([{files}])), "
        "r AS (SELECT json, read, CASE WHEN read THEN json_extract_string(json, '$.resourceType') "
        f"END AS rt, CASE WHEN read THEN {PATIENT_KEY_SQL} END AS k FROM l) "
        "SELECT k AS patient_key, list(json) FILTER (WHERE read) AS resources, "
        "count(*) FILTER (WHERE NOT read) AS not_read, "
        "count(*) FILTER (WHERE read AND rt IS DISTINCT FROM 'Medication') AS unattributed "
        "FROM r GROUP BY k")
    con.execute(sql)
    totals = con.execute("SELECT coalesce(sum(not_read), 0), count(patient_key) "
                         "FROM read_groups").fetchall()
    counts.not_read += int(totals[0][0])
    keyless = con.execute(
        "SELECT resources, unattributed FROM read_groups WHERE patient_key IS NULL").fetchall()
    found = [json_edge.loads(text) for texts, _ in keyless for text in texts or ()]
    counts.unattributed += sum(int(n) for _, n in keyless)
    medications = medication_index([r for r in found if isinstance(r, dict)
                                    and r.get("resourceType") == "Medication"])
    select, join = _state_join(state, "g.patient_key")
    query = (f"SELECT g.patient_key, g.resources, {select} FROM read_groups g {join} "  # noqa: S608
             "WHERE g.patient_key IS NOT NULL")
    return query, medications, int(totals[0][1])


_BUNDLE_KEY = ("(CASE WHEN json_valid(t.content) AND json_extract_string(t.content, "
               "'$.entry[0].resource.resourceType') = 'Patient' THEN "
               "json_extract_string(t.content, '$.entry[0].resource.id') END)")
"""A Bundle file's patient key for the state join: the id of its first entry when that is the
Patient (as Synthea writes them); otherwise the file's patients are recomputed."""


def _records_query(folder: Path, state: Path | None, kind: str) -> str:
    files = bundle_files(folder) if kind == "bundles" else record_files(folder)
    listing = ", ".join(quote_path(p) for p in files) if files else ""
    key = (_BUNDLE_KEY if kind == "bundles" else
           "(CASE WHEN json_valid(t.content) THEN json_extract_string(t.content, '$.id') END)")
    select, join = _state_join(state, key)
    if not files:
        return f"SELECT NULL::VARCHAR AS filename, NULL::VARCHAR AS content, {select} WHERE false"
    return (f"SELECT t.filename, t.content, {select} FROM read_text([{listing}]) t {join}")  # noqa: S608


def batch_size(patients: int, workers: int) -> int:
    """Patients per batch: :data:`BATCH`, fewer for a small export (:data:`BATCHES_PER_WORKER`)."""
    return max(1, min(BATCH, patients // (BATCHES_PER_WORKER * workers)))


def _batches(con: duckdb.DuckDBPyConnection, query: str,
             size: int = BATCH) -> Iterator[pa.RecordBatch]:
    relation = con.sql(query)
    # DuckDB 2 names it to_arrow_reader; 1.x fetch_record_batch.
    reader = (getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch)(size)
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def run_duckdb(kind: str, folder: Path, evaluator: PatientEvaluator, *, mapping: FhirMapping,
               state: Path | None, parts: Path, progress: Progress,
               con: duckdb.DuckDBPyConnection, workers: int) -> SourceCounts:
    """Evaluate every patient of ``folder``; returns the counts of FHIR lines not read and of no
    patient."""
    counts = SourceCounts()
    try:
        if kind == "fhir":
            query, medications, patients = _fhir_query(con, folder, state, LineFilter.of(mapping),
                                                       counts)
            size = batch_size(patients, workers)
        else:
            query, medications, size = _records_query(folder, state, kind), {}, BATCH
        writer = PartWriter(parts)

        def write(results: list[PatientResult]) -> None:
            writer.write(results_batch(results))
            progress(len(results))

        try:
            evaluate_in_pool(kind, _batches(con, query, size), evaluator=evaluator,
                             medications=medications, mapping=mapping, done=write,
                             workers=workers)
        finally:
            writer.close()
    except duckdb.Error as exc:
        msg = f"{folder}: DuckDB could not read the {kind} source: {exc}"
        raise UsageError(msg) from None
    return counts
