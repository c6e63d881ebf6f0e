"""``myositis-cds worklist``: every open item of every patient of a population, as of a date.

SOURCE is a folder of ``patient-record@1`` files (``*.json``), a folder of FHIR Bundle files
(``*.json``, e.g. Synthea's output), a FHIR Bulk Data export folder (``*.ndjson``), or ``db`` (the
clinic database, read through the audited patient use case as
``system:worklist``; also a SQLAlchemy URL). Engines: ``local`` (plain Python), ``duckdb`` (default;
DuckDB groups, a process pool evaluates) and ``spark`` (PySpark; ``--spark-master``). Every engine
calls the same per-patient function (:class:`~myositis_cds.services.population.WorklistEvaluator`).
Only patients in the population are evaluated (a dermatomyositis diagnosis, an anti-Mi-2 result,
or listed with ``--cohort``); the others are counted in the summary; ``--all`` evaluates everyone.
Output: one row per patient per open item, sorted by severity (``--out`` ``.parquet`` or ``.csv``;
CSV on stdout without it), and a summary on stderr. ``--state FILE.parquet`` makes runs incremental.

Exit codes: 0 success; 2 bad usage or source (nothing written), or some records were invalid (the
worklist is written, each invalid record is a ``RECORD-INVALID`` row and the summary counts them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from myositis_cds import bootstrap
from myositis_cds.adapters.fhir.importing.manifest import MANIFEST
from myositis_cds.adapters.population.arrow import results_batch
from myositis_cds.adapters.population.duck import connect, run_duckdb
from myositis_cds.adapters.population.local import BATCH, run_local
from myositis_cds.adapters.population.records import DatedRecordParser
from myositis_cds.adapters.population.sink import (
    OUTPUT_FORMATS,
    PartWriter,
    SourceCounts,
    Summary,
    finalize,
)
from myositis_cds.bootstrap import SiteConfig
from myositis_cds.entrypoints.cli.common import (
    add_site_argument,
    as_of_from,
    current_date,
    params_from,
    site_from,
    to_json,
)
from myositis_cds.errors import UsageError
from myositis_cds.services.population import (
    PopulationScope,
    WorklistEvaluator,
    iter_stored_documents,
)
from myositis_cds.services.ports import SystemActor

__all__ = ["ENGINES", "WORKLIST_ACTOR", "add_worklist_parser", "cmd_worklist",
           "read_cohort", "source_kind"]

ENGINES = ("local", "duckdb", "spark")
WORKLIST_ACTOR = SystemActor(username="system:worklist")
_DB_PREFIXES = ("sqlite:", "postgresql")


def add_worklist_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worklist = sub.add_parser(
        "worklist", help="every open item (alerts, work-up, screening due/overdue, inadequate "
        "response...) of a population: a records folder, a FHIR NDJSON export or the database")
    worklist.add_argument("source", help="folder of patient-record@1 .json files, folder of FHIR "
                          "Bundle .json files, FHIR Bulk Data export folder (.ndjson), or 'db' "
                          "(the clinic database)")
    worklist.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    worklist.add_argument("--engine", choices=ENGINES, default="duckdb")
    worklist.add_argument("--out", help="write the worklist to FILE.parquet or FILE.csv "
                          "(default: CSV on stdout)")
    worklist.add_argument("--state", help="incremental state FILE.parquet: patients whose inputs "
                          "did not change are not recomputed (created if missing)")
    worklist.add_argument("--settings", help="site settings file (TOML or JSON)")
    add_site_argument(worklist)
    scope = worklist.add_mutually_exclusive_group()
    scope.add_argument("--cohort", help="a file of patient keys (one per line; # comments) "
                       "evaluated in addition to the patients with a dermatomyositis diagnosis or "
                       "an anti-Mi-2 result")
    scope.add_argument("--all", action="store_true", help="evaluate every patient of the source, "
                       "not only those in the population")
    worklist.add_argument("--summary-json", help="also write the summary as JSON to this file")
    worklist.add_argument("--spark-master", default="local[*]",
                          help="Spark master URL for --engine spark (default: local[*]; "
                          "spark://host:7077 for a standalone cluster)")
    worklist.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                          help="a Spark configuration property for --engine spark (repeatable)")
    worklist.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                          help="evaluating processes of the duckdb engine (default: every core)")
    worklist.add_argument("--memory-limit", default="1GB",
                          help="DuckDB memory limit; it spills to the work folder beyond it")
    worklist.add_argument("--work-dir", help="folder for temporary files (default: system temp)")
    worklist.add_argument("--database-url", help="SQLAlchemy URL for SOURCE db (default: "
                          "MYOSITIS_CDS_DATABASE_URL or ./var/myositis-cds.sqlite3)")
    worklist.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    worklist.set_defaults(handler=cmd_worklist)


def _json_kind(first: Path) -> str:
    """``bundles`` when the folder's first ``.json`` file is a FHIR Bundle, else ``records``."""
    try:
        raw = first.read_bytes()  # its size is the readers' to bound; nesting and UTF-8 here
        data = bootstrap.decode_json(raw, max_bytes=len(raw))
    except (OSError, orjson.JSONDecodeError):
        return "records"  # reported as an invalid record, with its file name
    return "bundles" if isinstance(data, dict) and data.get("resourceType") == "Bundle" \
        else "records"


def source_kind(source: str) -> str:
    """``db``, ``fhir`` (NDJSON), ``bundles`` or ``records`` (a usage error naming the source
    otherwise)."""
    if source == "db" or source.startswith(_DB_PREFIXES):
        return "db"
    path = Path(source)
    if not path.is_dir():
        msg = (f"SOURCE: got {source!r}, which is not a folder; expected a folder of "
               "patient-record@1 .json files, of FHIR Bundle .json files, a FHIR Bulk Data export "
               "folder of .ndjson files, or 'db'")
        raise UsageError(msg)
    ndjson = any(p.name.endswith(".ndjson") for p in path.iterdir())
    records = sorted(p for p in path.iterdir() if p.suffix == ".json" and p.is_file()
                     and not (ndjson and p.name == MANIFEST))  # a Bulk Data export's manifest
    if ndjson and records:
        msg = (f"SOURCE: the folder {source} holds both .json and .ndjson files; expected either "
               "patient-record@1 files, FHIR Bundle files or a FHIR Bulk Data export, not a mix")
        raise UsageError(msg)
    if not ndjson and not records:
        msg = (f"SOURCE: the folder {source} holds no .json or .ndjson file; expected "
               "patient-record@1 files, FHIR Bundle files or a FHIR Bulk Data export")
        raise UsageError(msg)
    return "fhir" if ndjson else _json_kind(records[0])


def read_cohort(path: str) -> list[str]:
    """The patient keys of a cohort file: one per line, blank lines and ``#`` comments ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"--cohort: cannot read {path!r} ({exc}); expected a UTF-8 text file of patient keys"
        raise UsageError(msg) from None
    keys = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return [key for key in keys if key]


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
    for item in args.spark_conf:
        key, equals, _ = item.partition("=")
        if not equals or not key.strip().startswith("spark."):
            msg = f"--spark-conf: got {item!r}; expected KEY=VALUE with a key spark.*"
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


def _run(args: argparse.Namespace, kind: str, evaluator: WorklistEvaluator, site: SiteConfig, *,
         work: Path, bar: tqdm[Any]) -> tuple[Summary, Path]:
    def progress(patients: int) -> None:
        bar.update(patients)

    parts = work / "results"
    state = Path(args.state) if args.state else None
    out_format = _format_of(args.out)
    out = Path(args.out) if args.out else work / "worklist.csv"
    con = connect(work, memory_limit=args.memory_limit, threads=max(1, os.cpu_count() or 1))
    try:
        counts = SourceCounts()
        if kind == "db":
            _run_db(args, evaluator, parts, progress)
        elif args.engine == "local":
            counts = run_local(kind, Path(args.source), evaluator, mapping=site.mapping,
                                     state=state, parts=parts, progress=progress)
        elif args.engine == "duckdb":
            counts = run_duckdb(kind, Path(args.source), evaluator, mapping=site.mapping,
                                      state=state, parts=parts, progress=progress, con=con,
                                      workers=args.workers)
        else:
            counts = _run_spark(args, kind, evaluator, site, state=state, parts=parts, bar=bar)
        summary = finalize(parts, con=con, as_of=evaluator.as_of, engine=args.engine, out=out,
                           out_format=out_format, state=state, counts=counts)
    finally:
        con.close()
    return summary, out


def _run_spark(args: argparse.Namespace, kind: str, evaluator: WorklistEvaluator,
               site: SiteConfig, *, state: Path | None, parts: Path,
               bar: tqdm[Any]) -> SourceCounts:
    from myositis_cds.adapters.population.spark import run_spark, spark_session  # noqa: PLC0415

    def tasks(done: int, total: int) -> None:
        # Spark reports tasks, not patients: the bar counts the running stages' tasks.
        bar.unit, bar.total, bar.n = " tasks", total, done
        bar.refresh()

    conf = dict(item.split("=", 1) for item in args.spark_conf)
    spark = spark_session(args.spark_master, conf=conf)
    return run_spark(kind, Path(args.source), evaluator, mapping=site.mapping, state=state,
                     parts=parts, spark=spark, partitioning=site.spark, progress=tasks)


def summary_text(summary: Summary, seconds: float) -> str:
    rate = summary.patients / seconds if seconds > 0 else 0.0
    lines = [
        f"worklist as of {summary.as_of} (engine {summary.engine}): {summary.patients} patients, "
        f"{summary.patients_with_items} with open items, {summary.rows} rows; "
        f"{seconds:.1f} s ({rate:,.0f} patients/s)",
        f"population: {summary.patients - summary.outside} evaluated, {summary.outside} outside "
        f"(no dermatomyositis diagnosis, no anti-Mi-2 result, not in the cohort: not evaluated)",
        f"recomputed {summary.recomputed}, reused {summary.reused} (unchanged since the last "
        f"run), invalid records {summary.invalid}, unmapped FHIR elements {summary.unmapped}, "
        f"FHIR resources of no patient {summary.unattributed}, FHIR resources not read (type or "
        f"codes outside the code tables) {summary.not_read}",
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
    site = site_from(args)
    scope = PopulationScope.of(everyone=args.all,
                               cohort=read_cohort(args.cohort) if args.cohort else ())
    evaluator = WorklistEvaluator(as_of=as_of, params=params_from(args),
                                  parse=DatedRecordParser(today), incremental=args.state is not None,
                                  scope=scope)
    started = time.perf_counter()
    bar = tqdm(unit=" patients", file=sys.stderr, dynamic_ncols=True,
               disable=args.no_progress or not sys.stderr.isatty())
    with tempfile.TemporaryDirectory(prefix="myositis-worklist-", dir=args.work_dir) as tmp:
        try:
            summary, out = _run(args, kind, evaluator, site, work=Path(tmp), bar=bar)
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
