"""The ``duckdb`` engine (the embedded default): DuckDB reads and groups, Python evaluates.

A FHIR export: DuckDB reads every ``*.ndjson`` file (``read_ndjson_objects``), extracts each
resource's patient key in SQL (the Patient's ``id``, else the ``Patient/<id>`` of ``subject`` or
``patient`` — grouping only, no clinical logic in SQL), groups the resources by patient (spilling to
disk past its memory limit), joins the previous run's state and streams the groups to Python in
Arrow batches. A records folder: DuckDB streams the files (``read_text``) joined to the state on
their top-level ``id``. Each batch is evaluated by the per-patient function in a pool of worker
processes (``workers``; 1 evaluates in this process), so the engine uses every core.
"""

from __future__ import annotations

import copyreg
import multiprocessing
import types
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.importing.bulk import ndjson_files
from myositis_cds.adapters.fhir.importing.importer import default_codes, medication_index
from myositis_cds.adapters.population.arrow import results_batch
from myositis_cds.adapters.population.evaluate import evaluate_fhir_patient, evaluate_record_file
from myositis_cds.adapters.population.records import record_files
from myositis_cds.adapters.population.sink import PartWriter, quote_path
from myositis_cds.domain.worklist import PatientEvaluator
from myositis_cds.errors import UsageError

__all__ = ["PATIENT_KEY_SQL", "connect", "run_duckdb"]

BATCH = 512
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


def _mapping_proxy(data: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(data)


def _reduce_mapping_proxy(proxy: types.MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return (_mapping_proxy, (dict(proxy),))


# The knowledge pack keeps read-only mappings; the worker processes receive it pickled.
copyreg.pickle(types.MappingProxyType, _reduce_mapping_proxy)
ForkingPickler.register(types.MappingProxyType, _reduce_mapping_proxy)

# Worker-process globals, set once per process by _init.
_EVALUATOR: list[Any] = []


def _init(evaluator: PatientEvaluator, medications: Mapping[str, Mapping[str, Any]]) -> None:
    _EVALUATOR[:] = [evaluator, medications]


def _evaluate(kind: str, batch: pa.RecordBatch) -> pa.RecordBatch:
    evaluator, medications = _EVALUATOR
    results = []
    codes = default_codes()
    for row in batch.to_pylist():
        state = row["state"]
        if kind == "fhir":
            results.append(evaluate_fhir_patient(evaluator, row["patient_key"], row["resources"],
                                                 codes=codes, medications=medications,
                                                 state=state))
        else:
            def lookup(key: str, state: Mapping[str, Any] | None = state) -> Any:
                return state if state and state.get("patient_key") == key else None

            results.extend(evaluate_record_file(evaluator, Path(row["filename"]).name,
                                                row["content"].encode(), lookup))
    return results_batch(results)


def _state_join(state: Path | None, key: str) -> tuple[str, str]:
    if state is None or not state.exists():
        return "NULL AS state", ""
    return ("CASE WHEN s.patient_key IS NULL THEN NULL ELSE struct_pack(patient_key := s.patient_key, "
            "content_hash := s.content_hash, as_of := s.as_of, recheck_on := s.recheck_on, "
            "rows := s.rows) END AS state",
            f"LEFT JOIN read_parquet({quote_path(state)}) s ON s.patient_key = {key}")


def _fhir_query(con: duckdb.DuckDBPyConnection, folder: Path,
                state: Path | None) -> tuple[str, dict[str, Mapping[str, Any]], int]:
    files = ", ".join(quote_path(p) for p in ndjson_files(folder))
    con.execute(f"CREATE OR REPLACE TEMP VIEW resources AS SELECT json, "  # noqa: S608 - quoted paths
                f"json_extract_string(json, '$.resourceType') AS rt, {PATIENT_KEY_SQL} AS k "
                f"FROM read_ndjson_objects([{files}])")
    medications = [row[0] for row in con.execute(
        "SELECT json FROM resources WHERE rt = 'Medication'").fetchall()]
    index = medication_index([json_edge.loads(text) for text in medications])
    counted = con.execute(
        "SELECT count(*) FROM resources WHERE k IS NULL AND rt IS DISTINCT FROM 'Medication'"
    ).fetchall()
    unattributed = int(counted[0][0])
    select, join = _state_join(state, "g.patient_key")
    query = (f"SELECT g.patient_key, g.resources, {select} FROM (SELECT k AS patient_key, "  # noqa: S608
             f"list(json) AS resources FROM resources WHERE k IS NOT NULL GROUP BY k) g {join}")
    return query, index, unattributed


def _records_query(folder: Path, state: Path | None) -> str:
    files = record_files(folder)
    listing = ", ".join(quote_path(p) for p in files) if files else ""
    key = "(CASE WHEN json_valid(t.content) THEN json_extract_string(t.content, '$.id') END)"
    select, join = _state_join(state, key)
    if not files:
        return f"SELECT NULL::VARCHAR AS filename, NULL::VARCHAR AS content, {select} WHERE false"
    return (f"SELECT t.filename, t.content, {select} FROM read_text([{listing}]) t {join}")  # noqa: S608


def _batches(con: duckdb.DuckDBPyConnection, query: str) -> Iterator[pa.RecordBatch]:
    relation = con.sql(query)
    # DuckDB 2 names it to_arrow_reader; 1.x fetch_record_batch.
    reader = (getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch)(BATCH)
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def run_duckdb(kind: str, folder: Path, evaluator: PatientEvaluator, *, state: Path | None,
               parts: Path, progress: Progress, con: duckdb.DuckDBPyConnection,
               workers: int) -> int:
    """Evaluate every patient of ``folder``; returns the count of FHIR resources of no patient."""
    try:
        if kind == "fhir":
            query, medications, unattributed = _fhir_query(con, folder, state)
        else:
            query, medications, unattributed = _records_query(folder, state), {}, 0
        writer = PartWriter(parts)
        try:
            if workers <= 1:
                _init(evaluator, medications)
                for batch in _batches(con, query):
                    result = _evaluate(kind, batch)
                    writer.write(result)
                    progress(result.num_rows)
            else:
                _pooled(kind, con, query, evaluator=evaluator, medications=medications,
                        writer=writer, progress=progress, workers=workers)
        finally:
            writer.close()
    except duckdb.Error as exc:
        msg = f"{folder}: DuckDB could not read the {kind} source: {exc}"
        raise UsageError(msg) from None
    return unattributed


def _pooled(kind: str, con: duckdb.DuckDBPyConnection, query: str, *, evaluator: PatientEvaluator,
            medications: Mapping[str, Mapping[str, Any]], writer: PartWriter, progress: Progress,
            workers: int) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init,
                             initargs=(evaluator, medications)) as pool:
        pending: list[Future[pa.RecordBatch]] = []

        def drain(limit: int) -> None:
            while len(pending) > limit:
                result = pending.pop(0).result()
                writer.write(result)
                progress(result.num_rows)

        for batch in _batches(con, query):
            pending.append(pool.submit(_evaluate, kind, batch))
            drain(2 * workers)
        drain(0)

