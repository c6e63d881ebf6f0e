"""``myositis-cds worklist``: every open item of every patient of a population, as of a date.

SOURCE is a folder of ``patient-record@1`` files (``*.json``), a FHIR Bulk Data export folder
(``*.ndjson``), or ``db`` (the clinic database, read through the audited patient use case as
``system:worklist``; also a SQLAlchemy URL). Engines: ``local`` (plain Python), ``duckdb`` (default;
DuckDB groups, a process pool evaluates) and ``spark`` (PySpark; ``--spark-master``). Every engine
calls the same per-patient function (:class:`~myositis_cds.services.population.WorklistEvaluator`).
Output: one row per patient per open item, sorted by severity (``--out`` ``.parquet`` or ``.csv``;
CSV on stdout without it), and a summary on stderr. ``--state FILE.parquet`` makes runs incremental.

Exit codes: 0 success; 2 bad usage or source (nothing written), or some records were invalid (the
worklist is written, each invalid record is a ``RECORD-INVALID`` row and the summary counts them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from myositis_cds import bootstrap
from myositis_cds.adapters.population.arrow import results_batch
from myositis_cds.adapters.population.duck import connect, run_duckdb
from myositis_cds.adapters.population.local import BATCH, run_local
from myositis_cds.adapters.population.sink import OUTPUT_FORMATS, PartWriter, Summary, finalize
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.domain.record import PatientRecord
from myositis_cds.entrypoints.cli.common import as_of_from, current_date, params_from, to_json
from myositis_cds.errors import UsageError
from myositis_cds.services.population import WorklistEvaluator, iter_stored_documents
from myositis_cds.services.ports import SystemActor

__all__ = ["ENGINES", "WORKLIST_ACTOR", "RecordParser", "add_worklist_parser", "cmd_worklist", "source_kind"]

ENGINES = ("local", "duckdb", "spark")
WORKLIST_ACTOR = SystemActor(username="system:worklist")
_DB_PREFIXES = ("sqlite:", "postgresql")


class RecordParser:
    """``parse_record`` with today's date: picklable (unlike a closure), so that the DuckDB
    engine's worker processes and Spark executors receive it."""

    def __init__(self, today: dt.date) -> None:
        self.today = today

    def __call__(self, data: object, *, prefix: str, source: str) -> PatientRecord:
        return parse_record(data, today=self.today, prefix=prefix, source=source)


def add_worklist_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worklist = sub.add_parser(
        "worklist", help="every open item (alerts, work-up, screening due/overdue, inadequate "
        "response...) of a population: a records folder, a FHIR NDJSON export or the database")
    worklist.add_argument("source", help="folder of patient-record@1 .json files, FHIR Bulk Data "
                          "export folder (.ndjson), or 'db' (the clinic database)")
    worklist.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    worklist.add_argument("--engine", choices=ENGINES, default="duckdb")
    worklist.add_argument("--out", help="write the worklist to FILE.parquet or FILE.csv "
                          "(default: CSV on stdout)")
    worklist.add_argument("--state", help="incremental state FILE.parquet: patients whose inputs "
                          "did not change are not recomputed (created if missing)")
    worklist.add_argument("--settings", help="site settings file (TOML or JSON)")
    worklist.add_argument("--summary-json", help="also write the summary as JSON to this file")
    worklist.add_argument("--spark-master", default="local[*]",
                          help="Spark master URL for --engine spark (default: local[*])")
    worklist.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                          help="evaluating processes of the duckdb engine (default: every core)")
    worklist.add_argument("--memory-limit", default="1GB",
                          help="DuckDB memory limit; it spills to the work folder beyond it")
    worklist.add_argument("--work-dir", help="folder for temporary files (default: system temp)")
    worklist.add_argument("--database-url", help="SQLAlchemy URL for SOURCE db (default: "
                          "MYOSITIS_CDS_DATABASE_URL or ./var/myositis-cds.sqlite3)")
    worklist.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    worklist.set_defaults(handler=cmd_worklist)


def source_kind(source: str) -> str:
    """``db``, ``fhir`` or ``records`` (a usage error naming the source otherwise)."""
    if source == "db" or source.startswith(_DB_PREFIXES):
        return "db"
    path = Path(source)
    if not path.is_dir():
        msg = (f"SOURCE: got {source!r}, which is not a folder; expected a folder of "
               "patient-record@1 .json files, a FHIR Bulk Data export folder of .ndjson files, "
               "or 'db'")
        raise UsageError(msg)
    ndjson = any(p.name.endswith(".ndjson") for p in path.iterdir())
    records = any(p.suffix == ".json" for p in path.iterdir())
    if ndjson and records:
        msg = (f"SOURCE: the folder {source} holds both .json and .ndjson files; expected either "
               "patient-record@1 files or a FHIR Bulk Data export, not both")
        raise UsageError(msg)
    if not ndjson and not records:
        msg = (f"SOURCE: the folder {source} holds no .json or .ndjson file; expected "
               "patient-record@1 files or a FHIR Bulk Data export")
        raise UsageError(msg)
    return "fhir" if ndjson else "records"


def _format_of(out: str | None) -> str:
    if out is None:
        return "csv"
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in OUTPUT_FORMATS:
        msg = f"--out: got {out!r}; expected a file name ending in .parquet or .csv"
        raise UsageError(msg)
    return suffix


def _check(args: argparse.Namespace) -> None:
    if args.state is not None and not args.state.endswith(".parquet"):
        msg = f"--state: got {args.state!r}; expected a file name ending in .parquet"
        raise UsageError(msg)
    if args.workers < 1:
        msg = f"--workers: got {args.workers}; expected 1 or more"
        raise UsageError(msg)


def _run_db(args: argparse.Namespace, evaluator: WorklistEvaluator, parts: Path,
            progress: Any) -> None:
    if args.engine == "spark":
        msg = ("--engine: got 'spark' for SOURCE db; expected local or duckdb: stored patients "
               "are read one page at a time through the audited use case")
        raise UsageError(msg)
    url = args.database_url or (args.source if args.source != "db" else None)
    database = bootstrap.make_unit_of_work(url)
    writer = PartWriter(parts)
    try:
        pending = []
        for key, document in iter_stored_documents(database, WORKLIST_ACTOR):
            pending.append(evaluator(key, document))
            if len(pending) >= BATCH:
                writer.write(results_batch(pending))
                progress(len(pending))
                pending = []
        writer.write(results_batch(pending))
        progress(len(pending))
    finally:
        writer.close()
        database.dispose()


def _run(args: argparse.Namespace, kind: str, evaluator: WorklistEvaluator, work: Path,
         bar: tqdm[Any]) -> tuple[Summary, Path]:
    def progress(patients: int) -> None:
        bar.update(patients)

    parts = work / "results"
    state = Path(args.state) if args.state else None
    out_format = _format_of(args.out)
    out = Path(args.out) if args.out else work / "worklist.csv"
    con = connect(work, memory_limit=args.memory_limit, threads=max(1, os.cpu_count() or 1))
    try:
        unattributed = 0
        if kind == "db":
            _run_db(args, evaluator, parts, progress)
        elif args.engine == "local":
            unattributed = run_local(kind, Path(args.source), evaluator, state=state, parts=parts,
                                     progress=progress)
        elif args.engine == "duckdb":
            unattributed = run_duckdb(kind, Path(args.source), evaluator, state=state,
                                      parts=parts, progress=progress, con=con,
                                      workers=args.workers)
        else:
            unattributed = _run_spark(args, kind, evaluator, state=state, parts=parts, bar=bar)
        summary = finalize(parts, con=con, as_of=evaluator.as_of, engine=args.engine, out=out,
                           out_format=out_format, state=state, unattributed=unattributed)
    finally:
        con.close()
    return summary, out


def _run_spark(args: argparse.Namespace, kind: str, evaluator: WorklistEvaluator, *,
               state: Path | None, parts: Path, bar: tqdm[Any]) -> int:
    from myositis_cds.adapters.population.spark import (  # noqa: PLC0415
        run_spark,
        spark_errors,
        spark_session,
    )

    def tasks(done: int, total: int) -> None:
        # Spark reports tasks, not patients: the bar counts the running stages' tasks.
        bar.unit, bar.total, bar.n = " tasks", total, done
        bar.refresh()

    spark = spark_session(args.spark_master)
    with spark_errors(args.spark_master):
        return run_spark(kind, Path(args.source), evaluator, state=state, parts=parts, spark=spark,
                         progress=tasks)


def summary_text(summary: Summary, seconds: float) -> str:
    rate = summary.patients / seconds if seconds > 0 else 0.0
    lines = [
        f"worklist as of {summary.as_of} (engine {summary.engine}): {summary.patients} patients, "
        f"{summary.patients_with_items} with open items, {summary.rows} rows; "
        f"{seconds:.1f} s ({rate:,.0f} patients/s)",
        f"recomputed {summary.recomputed}, reused {summary.reused} (unchanged since the last "
        f"run), invalid records {summary.invalid}, unmapped FHIR elements {summary.unmapped}, "
        f"FHIR resources of no patient {summary.unattributed}",
    ]
    lines += [f"  {severity:<8} {rule_id:<34} {status:<14} {count}"
              for severity, rule_id, status, count in summary.items]
    return "\n".join(lines) + "\n"


def cmd_worklist(args: argparse.Namespace) -> int:
    today = current_date()
    as_of = as_of_from(args, today)
    _check(args)
    _format_of(args.out)
    kind = source_kind(args.source)
    evaluator = WorklistEvaluator(as_of=as_of, params=params_from(args),
                                  parse=RecordParser(today), incremental=args.state is not None)
    started = time.perf_counter()
    bar = tqdm(unit=" patients", file=sys.stderr, dynamic_ncols=True,
               disable=args.no_progress or not sys.stderr.isatty())
    with tempfile.TemporaryDirectory(prefix="myositis-worklist-", dir=args.work_dir) as tmp:
        try:
            summary, out = _run(args, kind, evaluator, Path(tmp), bar)
        finally:
            bar.close()
        if args.out is None:
            with out.open(encoding="utf-8") as text:
                shutil.copyfileobj(text, sys.stdout)
    sys.stderr.write(summary_text(summary, time.perf_counter() - started))
    if args.summary_json:
        Path(args.summary_json).write_text(to_json(summary.to_dict(), indent=True) + "\n",
                                           encoding="utf-8")
    if summary.invalid:
        where = args.out or "the worklist above"
        sys.stderr.write(f"error: {args.source}: {summary.invalid} invalid record(s), each listed "
                         f"as a RECORD-INVALID row (with its errors) in {where}\n")
        return 2
    return 0
