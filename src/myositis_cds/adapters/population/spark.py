"""The ``spark`` engine (PySpark): Spark reads and groups, the same Python function evaluates.

A FHIR export: ``spark.read.text`` reads the NDJSON lines, the patient key is extracted with Spark
SQL (the same rule as the DuckDB engine's — grouping only), ``groupBy(key).agg(collect_list)``
gathers each patient's resources, the previous run's state is left-joined, and ``mapInArrow``
calls the per-patient function on each partition's Arrow batches. A records folder: ``binaryFile``
reads the files, joined to the state on their top-level ``id``. Medication resources (shared by all
patients) are collected once and shipped with the function. Results are written as Parquet parts
into the run's work folder (on a cluster it must be on storage the driver and executors share).

Runs on a cluster with ``master`` (e.g. ``spark://host:7077``); tests use ``local[2]``.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.importing.bulk import ndjson_files
from myositis_cds.adapters.fhir.importing.importer import default_codes, medication_index
from myositis_cds.adapters.population.arrow import results_batch
from myositis_cds.adapters.population.evaluate import evaluate_fhir_patient, evaluate_record_file
from myositis_cds.adapters.population.records import record_files
from myositis_cds.domain.worklist import PatientEvaluator
from myositis_cds.errors import UsageError

__all__ = ["KEY_SQL", "MASTER_CONNECT_TIMEOUT", "RESULT_DDL", "SparkJobError", "TaskProgress",
           "run_spark", "spark_errors", "spark_session"]

_ROW_DDL = ("patient_key: string, severity: string, rule_id: string, item: string, kind: string, "
            "status: string, due: date, values: string, scope: string")
RESULT_DDL = (f"patient_key string, content_hash string, as_of date, recheck_on date, "
              f"reused boolean, invalid boolean, unmapped int, rows array<struct<{_ROW_DDL}>>")
_REFERENCE = r"(?:^|/)([A-Za-z]+)/([A-Za-z0-9\\-.]{1,64})(?:/_history/[^/]+)?$"


def _reference_key(path: str) -> str:
    ref = f"get_json_object(value, '{path}')"
    return (f"CASE WHEN regexp_extract({ref}, '{_REFERENCE}', 1) = 'Patient' "
            f"THEN nullif(regexp_extract({ref}, '{_REFERENCE}', 2), '') END")


KEY_SQL = (
    "CASE WHEN get_json_object(value, '$.resourceType') = 'Patient' THEN "
    "nullif(get_json_object(value, '$.id'), '') "
    f"ELSE coalesce({_reference_key('$.subject.reference')}, "
    f"{_reference_key('$.patient.reference')}) END"
)


@contextmanager
def _quiet() -> Iterator[None]:
    """PySpark 4 warns that it does not fully support pandas 3 (pandas is installed for another
    feature); this engine uses Arrow only, never pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        yield


MASTER_CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a standalone master (``spark://host:port``) to accept a connection."""


def _check_master(master: str) -> None:
    """A standalone master that does not answer is a usage error at once (Spark itself would
    retry for minutes, then fail in the middle of the job)."""
    if not master.startswith("spark://"):
        return
    reason = "no address"
    for address in master.removeprefix("spark://").split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)),
                                          timeout=MASTER_CONNECT_TIMEOUT):
                return
        except (OSError, ValueError) as exc:
            problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            reason = f"{address.strip()}: {problem or type(exc).__name__}"
    msg = (f"--spark-master: got {master!r}, which does not answer ({reason}); expected a running "
           "Spark master (spark://HOST:PORT), or local[N]")
    raise UsageError(msg)


class SparkJobError(UsageError):
    """The Spark job failed (a master or executor lost, the cluster refused the job)."""


@contextmanager
def spark_errors(master: str) -> Iterator[None]:
    """Spark and Py4J failures as a :class:`SparkJobError` naming the master (no Java trace)."""
    try:
        yield
    except Exception as exc:
        module = type(exc).__module__
        if not module.startswith(("py4j", "pyspark")):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        msg = (f"--engine spark: the Spark job on {master!r} failed ({type(exc).__name__}: "
               f"{first}); nothing was written")
        raise SparkJobError(msg) from None


def spark_session(master: str) -> Any:
    """A session on ``master`` (UI off; executors use this interpreter unless PYSPARK_PYTHON is
    set)."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 - optional dependency
    except ImportError:
        msg = ("--engine spark: pyspark is not installed; expected `pip install "
               "'myositis-cds[spark]'` (and Java 17+)")
        raise UsageError(msg) from None
    _check_master(master)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    with _quiet(), spark_errors(master):
        return (SparkSession.builder.master(master).appName("myositis-cds worklist")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.shuffle.partitions", "8")
                .config("spark.sql.execution.arrow.maxRecordsPerBatch", "512")
                .getOrCreate())


def _with_state(spark: Any, frame: Any, state: Path | None, key: str) -> Any:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    if state is None or not state.exists():
        return frame.withColumn("state", F.lit(None).cast(
            f"struct<patient_key: string, content_hash: string, as_of: date, recheck_on: date, "
            f"rows: array<struct<{_ROW_DDL}>>>"))
    previous = spark.read.parquet(str(state)).select(
        F.col("patient_key").alias("_state_key"),
        F.struct("patient_key", "content_hash", "as_of", "recheck_on", "rows").alias("state"))
    return frame.join(previous, frame[key] == previous["_state_key"], "left").drop("_state_key")


def _fhir_frame(spark: Any, folder: Path, state: Path | None) -> tuple[Any, dict[str, Any], int]:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    lines = spark.read.text([str(p) for p in ndjson_files(folder)])
    lines = lines.where(F.trim("value") != "").selectExpr(
        "value", "get_json_object(value, '$.resourceType') AS rt", f"{KEY_SQL} AS k")
    medications = medication_index(
        [json_edge.loads(r.value) for r in lines.where("rt = 'Medication'").select("value").collect()])
    unattributed = lines.where("k IS NULL AND (rt IS NULL OR rt != 'Medication')").count()
    groups = (lines.where("k IS NOT NULL").groupBy("k")
              .agg(F.collect_list("value").alias("resources"))
              .withColumnRenamed("k", "patient_key"))
    return _with_state(spark, groups, state, "patient_key"), medications, int(unattributed)


def _records_frame(spark: Any, folder: Path, state: Path | None) -> Any:
    files = [str(p) for p in record_files(folder)]
    if not files:
        return None
    frame = spark.read.format("binaryFile").load(files).selectExpr(
        "path AS filename", "content", "get_json_object(CAST(content AS STRING), '$.id') AS _id")
    return _with_state(spark, frame, state, "_id").drop("_id")


def _mapper(kind: str, evaluator: PatientEvaluator,
            medications: Mapping[str, Any]) -> Any:
    def evaluate(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        codes = default_codes()
        for batch in batches:
            results = []
            for row in batch.to_pylist():
                state = row["state"]
                if kind == "fhir":
                    results.append(evaluate_fhir_patient(
                        evaluator, row["patient_key"], row["resources"], codes=codes,
                        medications=medications, state=state))
                else:
                    def lookup(key: str, state: Any = state) -> Any:
                        return state if state and state.get("patient_key") == key else None

                    results.extend(evaluate_record_file(
                        evaluator, Path(str(row["filename"]).removeprefix("file:")).name,
                        bytes(row["content"]), lookup))
            yield results_batch(results)

    return evaluate


TaskProgress = Callable[[int, int], None]
"""Called with (tasks done, tasks in all) of the stages Spark is running."""


@contextmanager
def _watch(spark: Any, progress: TaskProgress | None) -> Iterator[None]:
    """Poll Spark's status tracker twice a second while the job runs (the progress bar)."""
    if progress is None:
        yield
        return
    stop = threading.Event()
    tracker = spark.sparkContext.statusTracker()

    def poll() -> None:
        while not stop.wait(0.5):
            stages = [tracker.getStageInfo(i) for i in tracker.getActiveStageIds()]
            stages = [s for s in stages if s is not None]
            if stages:
                progress(sum(s.numCompletedTasks for s in stages),
                         sum(s.numTasks for s in stages))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_spark(kind: str, folder: Path, evaluator: PatientEvaluator, *, state: Path | None,
              parts: Path, spark: Any, progress: TaskProgress | None = None) -> int:
    """Evaluate every patient with Spark; results go to ``parts`` (Parquet). Returns the count of
    FHIR resources of no patient."""
    with _quiet(), _watch(spark, progress):
        if kind == "fhir":
            frame, medications, unattributed = _fhir_frame(spark, folder, state)
        else:
            frame, medications, unattributed = _records_frame(spark, folder, state), {}, 0
        if frame is None:
            return 0
        results = frame.mapInArrow(_mapper(kind, evaluator, medications), RESULT_DDL)
        results.write.mode("overwrite").parquet(str(parts))
    return unattributed
