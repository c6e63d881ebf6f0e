"""The ``spark`` engine (PySpark): Spark reads and groups, the same Python function evaluates.

A FHIR export: ``spark.read.text`` reads the NDJSON lines, sorts those it reads from those it does
not by their text (:mod:`.lines`, the same test as the other engines), extracts the patient key of
the lines it reads with Spark SQL (the same rule as the DuckDB engine's — grouping only),
``groupBy(key).agg(collect_list)`` gathers each patient's resources, the previous run's state is
left-joined, and ``mapInArrow`` calls the per-patient function on each partition's Arrow batches. A
records folder (or a folder of Bundle files): ``binaryFile`` reads the files, joined to the state on
the patient's ``id``. Medication resources (shared by all patients) are collected once and shipped
with the function. Results are written as Parquet parts into the run's work folder (on a cluster it
must be on storage the driver and executors share).

Evaluation partitions: the grouped patients are repartitioned into
:meth:`~myositis_cds.adapters.site.SparkPartitioning.count` partitions — the site's fixed number,
else one per ``bytes_per_partition`` of input and never fewer than the executors' cores — so that a
cluster's every core evaluates (adaptive execution would otherwise coalesce the small grouped data
into a few partitions: the evaluation is CPU-bound, not bytes-bound). Spark's own shuffle settings
are left as the site configured them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from myositis_cds.adapters import json_edge
from myositis_cds.adapters.fhir.importing.bulk import ndjson_files
from myositis_cds.adapters.fhir.importing.importer import medication_index
from myositis_cds.adapters.fhir.importing.manifest import count_lines, files_to_read
from myositis_cds.adapters.fhir.importing.sources import bundle_files
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.adapters.population.arrow import results_batch
from myositis_cds.adapters.population.evaluate import (
    evaluate_bundle_file,
    evaluate_fhir_patient,
    evaluate_record_file,
)
from myositis_cds.adapters.population.lines import TYPE_PATTERN, LineFilter
from myositis_cds.adapters.population.records import record_files
from myositis_cds.adapters.population.sink import SourceCounts
from myositis_cds.adapters.population.spark_session import (
    SparkUnavailableError,
    quiet,
    spark_error,
    spark_session,
)
from myositis_cds.adapters.site import SparkPartitioning
from myositis_cds.domain.worklist import PatientEvaluator

__all__ = ["KEY_SQL", "RESULT_DDL", "TaskProgress", "evaluation_partitions", "run_spark",
           "spark_session"]

_ROW_DDL = ("patient_key: string, severity: string, rule_id: string, item: string, kind: string, "
            "status: string, due: date, values: string, scope: string")
RESULT_DDL = (f"patient_key string, content_hash string, as_of date, recheck_on date, "
              f"reused boolean, invalid boolean, unmapped int, in_population boolean, "
              f"rows array<struct<{_ROW_DDL}>>")
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


def _fhir_frame(spark: Any, folder: Path, state: Path | None,
                lines: LineFilter) -> tuple[Any, dict[str, Any], SourceCounts]:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    files, skipped = files_to_read(folder, ndjson_files(folder))
    counts = SourceCounts(not_read=sum(count_lines(path) for path in skipped))
    if not files:
        return None, {}, counts
    text = spark.read.text([str(p) for p in files])
    value = F.col("value")
    read = value.rlike(TYPE_PATTERN) & value.rlike(lines.wanted)
    text = text.where(F.trim("value") != "").withColumn("read", read)
    counts.not_read += int(text.where(~F.col("read")).count())
    read_lines = text.where("read").selectExpr(
        "value", "get_json_object(value, '$.resourceType') AS rt", f"{KEY_SQL} AS k")
    medications = medication_index([json_edge.loads(r.value) for r in read_lines.where(
        "rt = 'Medication'").select("value").collect()])
    counts.unattributed = int(read_lines.where(
        "k IS NULL AND (rt IS NULL OR rt != 'Medication')").count())
    groups = (read_lines.where("k IS NOT NULL").groupBy("k")
              .agg(F.collect_list("value").alias("resources"))
              .withColumnRenamed("k", "patient_key"))
    return _with_state(spark, groups, state, "patient_key"), medications, counts


def _records_frame(spark: Any, folder: Path, state: Path | None, kind: str) -> Any:
    files = [str(p) for p in (bundle_files(folder) if kind == "bundles" else record_files(folder))]
    if not files:
        return None
    key = ("CASE WHEN get_json_object(CAST(content AS STRING), '$.entry[0].resource.resourceType')"
           " = 'Patient' THEN get_json_object(CAST(content AS STRING), '$.entry[0].resource.id') END"
           if kind == "bundles" else "get_json_object(CAST(content AS STRING), '$.id')")
    frame = spark.read.format("binaryFile").load(files).selectExpr(
        "path AS filename", "content", f"{key} AS _id")
    return _with_state(spark, frame, state, "_id").drop("_id")


def _mapper(kind: str, evaluator: PatientEvaluator, medications: Mapping[str, Any],
            mapping: FhirMapping) -> Any:
    def evaluate(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        lines = LineFilter.of(mapping)
        for batch in batches:
            results = []
            for row in batch.to_pylist():
                state = row["state"]
                if kind == "fhir":
                    results.append(evaluate_fhir_patient(
                        evaluator, row["patient_key"], row["resources"], mapping=mapping,
                        medications=medications, state=state, lines=lines))
                    continue

                def lookup(key: str, state: Any = state) -> Any:
                    return state if state and state.get("patient_key") == key else None

                name = Path(str(row["filename"]).removeprefix("file:")).name
                if kind == "bundles":
                    results.extend(evaluate_bundle_file(evaluator, name, bytes(row["content"]),
                                                        mapping=mapping, lookup=lookup))
                else:
                    results.extend(evaluate_record_file(evaluator, name, bytes(row["content"]),
                                                        lookup))
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


def evaluation_partitions(spark: Any, files: list[Path], partitioning: SparkPartitioning) -> int:
    """How many partitions evaluate: the site's number, else from the input's size and the
    executors' cores (``defaultParallelism``: the cores of ``local[N]`` or of the cluster)."""
    size = sum(path.stat().st_size for path in files)
    return partitioning.count(input_bytes=size, cores=int(spark.sparkContext.defaultParallelism))


def _input_files(kind: str, folder: Path) -> list[Path]:
    if kind == "fhir":
        return ndjson_files(folder)
    return bundle_files(folder) if kind == "bundles" else record_files(folder)


def run_spark(kind: str, folder: Path, evaluator: PatientEvaluator, *, mapping: FhirMapping,
              state: Path | None, parts: Path, spark: Any,
              partitioning: SparkPartitioning | None = None,
              progress: TaskProgress | None = None) -> SourceCounts:
    """Evaluate every patient with Spark; results go to ``parts`` (Parquet). Returns the counts
    of FHIR lines not read and of no patient. A failing job is a :class:`SparkUnavailableError`
    naming Spark's reason (one line, no Java stack)."""
    counts = SourceCounts()
    try:
        with quiet(), _watch(spark, progress):
            if kind == "fhir":
                frame, medications, counts = _fhir_frame(spark, folder, state,
                                                         LineFilter.of(mapping))
            else:
                frame, medications = _records_frame(spark, folder, state, kind), {}
            if frame is None:
                return counts
            partitions = evaluation_partitions(spark, _input_files(kind, folder),
                                               partitioning or SparkPartitioning())
            counts.engine = {"master": str(spark.sparkContext.master),
                             "default_parallelism": int(spark.sparkContext.defaultParallelism),
                             "evaluation_partitions": partitions}
            results = frame.repartition(partitions).mapInArrow(
                _mapper(kind, evaluator, medications, mapping), RESULT_DDL)
            results.write.mode("overwrite").parquet(str(parts))
            counts.engine["result_files"] = len(list(parts.glob("part-*.parquet")))
    except SparkUnavailableError:
        raise
    except Exception as exc:  # Py4J and Spark errors: one line, never a Java traceback
        if type(exc).__module__.split(".")[0] not in {"py4j", "pyspark"}:
            raise
        msg = f"Spark could not run the worklist job ({spark_error(exc)})"
        raise SparkUnavailableError(msg) from None
    return counts
