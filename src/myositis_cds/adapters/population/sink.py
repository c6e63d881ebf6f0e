"""Per-patient results → the worklist file, the state file and the summary (every engine).

Engines write per-patient results (:data:`~myositis_cds.adapters.population.arrow.RESULT_SCHEMA`)
as Parquet parts into one folder; :func:`finalize` then lets DuckDB unnest, sort (out of core, so
memory stays bounded however many rows there are) and write the worklist, write the state file
for the next incremental run, and count the summary. CSV goes through the package's one CSV writer
(:mod:`myositis_cds.csv_writer`): a patient key like ``=HYPERLINK(...)`` is not run by a
spreadsheet. Files are written under a temporary name and
renamed into place only when complete.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from myositis_cds.adapters.population.arrow import RESULT_SCHEMA, STATE_COLUMNS
from myositis_cds.csv_writer import CsvWriter
from myositis_cds.domain.worklist import ROW_FIELDS, SEVERITY_ORDER

__all__ = ["OUTPUT_FORMATS", "PartWriter", "SourceCounts", "Summary", "finalize", "quote_path"]

OUTPUT_FORMATS = ("parquet", "csv")
_CSV_BATCH_ROWS = 10_000


def quote_path(path: Path) -> str:
    """A path as an SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


class PartWriter:
    """Streams result batches into ``folder/part-local.parquet``."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "part-local.parquet"
        self._writer = pq.ParquetWriter(self.path, RESULT_SCHEMA)
        self.patients = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)
        self.patients += batch.num_rows

    def close(self) -> None:
        self._writer.close()


@dataclass(slots=True)
class SourceCounts:
    """What an engine counted of a FHIR export without evaluating it."""

    unattributed: int = 0
    """Resources read that reference no patient (not evaluated)."""
    not_read: int = 0
    """NDJSON lines not read: a resource type the importer does not map, or no code of the code
    tables (see :mod:`myositis_cds.adapters.population.lines`); counted, never decoded."""
    engine: dict[str, Any] = field(default_factory=dict)
    """What the engine says of its run (Spark: its parallelism and evaluation partitions), shown
    in the summary JSON."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Counts of one run (no patient data)."""

    as_of: dt.date
    engine: str
    patients: int
    patients_with_items: int
    rows: int
    recomputed: int
    reused: int
    invalid: int
    unmapped: int
    """FHIR elements or resources that could not be mapped (summed over patients)."""
    unattributed: int
    """FHIR resources that reference no patient (not evaluated, counted here)."""
    not_read: int = 0
    """FHIR resources not read (:class:`SourceCounts`)."""
    outside: int = 0
    """Patients outside the population (no DM diagnosis, no Mi-2 result, not in the cohort): not
    evaluated, no rows."""
    items: tuple[tuple[str, str, str, int], ...]
    """(severity, rule ID, status, rows) in worklist order."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": "myositis-cds/worklist-summary@1", "as_of": self.as_of.isoformat(),
                "engine": self.engine, "patients": self.patients,
                "patients_with_items": self.patients_with_items, "rows": self.rows,
                "outside_population": self.outside,
                "recomputed": self.recomputed, "reused": self.reused, "invalid": self.invalid,
                "unmapped": self.unmapped, "unattributed": self.unattributed,
                "not_read": self.not_read,
                "items": [{"severity": s, "rule_id": r, "status": st, "rows": n}
                          for s, r, st, n in self.items], **self.extra}


def _rank_sql() -> str:
    cases = " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(SEVERITY_ORDER))
    return f"CASE severity {cases} ELSE {len(SEVERITY_ORDER)} END"


def _ensure_parts(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.glob("*.parquet")):
        pq.write_table(RESULT_SCHEMA.empty_table(), folder / "part-empty.parquet")
    return quote_path(folder / "*.parquet")


def _write_csv(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """The query's rows through the package's CSV writer (formulas neutralised, CR/LF quoted),
    streamed in Arrow batches so that memory stays bounded."""
    relation = con.sql(query)
    # DuckDB 2 names it to_arrow_reader; 1.x fetch_record_batch.
    reader = (getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch)(_CSV_BATCH_ROWS)
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = CsvWriter(handle)
        writer.writerow(reader.schema.names)
        for batch in reader:
            columns = [column.to_pylist() for column in batch.columns]
            writer.writerows(zip(*columns, strict=True))


def _copy(con: duckdb.DuckDBPyConnection, query: str, target: Path, fmt: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        if fmt == "parquet":
            con.execute(f"COPY ({query}) TO {quote_path(partial)} (FORMAT parquet)")
        else:  # DuckDB's CSV writer would leave formulas as they are
            _write_csv(con, query, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def finalize(parts: Path, *, con: duckdb.DuckDBPyConnection, as_of: dt.date, engine: str,
             out: Path, out_format: str, state: Path | None,
             counts: SourceCounts | None = None) -> Summary:
    """Write the sorted worklist to ``out`` and the state file; return the summary."""
    # Every query below is built from constants and quote_path()-quoted paths (S608 does not apply).
    source = f"read_parquet({_ensure_parts(parts)})"
    columns = ", ".join(f'"{name}"' for name in ROW_FIELDS)
    rows = f"(SELECT unnest(rows, recursive := true) FROM {source})"  # noqa: S608
    worklist = f"SELECT {columns} FROM {rows} ORDER BY {_rank_sql()}, patient_key, rule_id, item"  # noqa: S608
    _copy(con, worklist, out, out_format)
    if state is not None:
        _copy(con, f"SELECT {', '.join(STATE_COLUMNS)} FROM {source} WHERE in_population "  # noqa: S608
                   "ORDER BY patient_key", state, "parquet")
    query = ("SELECT count(*), count(*) FILTER (WHERE len(rows) > 0), coalesce(sum(len(rows)), 0), "
             "count(*) FILTER (WHERE NOT reused AND in_population), count(*) FILTER (WHERE reused), "
             "count(*) FILTER (WHERE invalid), coalesce(sum(unmapped), 0), "
             "count(*) FILTER (WHERE NOT in_population) FROM ")
    totals = con.execute(query + source).fetchall()[0]
    items = con.execute(
        f"SELECT severity, rule_id, status, count(*) FROM {rows} "  # noqa: S608
        f"GROUP BY severity, rule_id, status ORDER BY {_rank_sql()}, rule_id, status").fetchall()
    return Summary(as_of=as_of, engine=engine, patients=int(totals[0]),
                   patients_with_items=int(totals[1]), rows=int(totals[2]),
                   recomputed=int(totals[3]), reused=int(totals[4]), invalid=int(totals[5]),
                   unmapped=int(totals[6]), unattributed=(counts or SourceCounts()).unattributed,
                   not_read=(counts or SourceCounts()).not_read, outside=int(totals[7]),
                   extra={"engine_details": counts.engine} if counts and counts.engine else {},
                   items=tuple((str(s), str(r), str(st), int(n)) for s, r, st, n in items))
