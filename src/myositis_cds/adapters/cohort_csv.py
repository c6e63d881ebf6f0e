"""Per-patient cohort CSV files: one row per patient, a header row, empty cells are missing.

The reader returns a :class:`~myositis_cds.stats.table1.CohortData` of text values (typing the
columns is the statistics' job). A file is marked synthetic when its identifier column
(:data:`ID_COLUMN`) is present and every identifier starts with :data:`SYNTHETIC_PREFIX`, which is
how ``myositis-cds cohort synthesize`` names its patients; every output made from it then says
"synthetic".
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Final, TextIO

from myositis_cds.errors import UsageError
from myositis_cds.stats.cohort_features import cohort_csv_text, write_cohort_csv
from myositis_cds.stats.cohort_features import feature_text as cell_text
from myositis_cds.stats.synthetic_cohort import SYNTHETIC_PREFIX, is_synthetic
from myositis_cds.stats.table1 import CohortData

__all__ = ["ID_COLUMN", "SYNTHETIC_PREFIX", "cell_text", "cohort_csv_text", "is_synthetic",
           "read_cohort_csv", "write_cohort_csv"]

ID_COLUMN: Final = "patient"


def read_cohort_csv(path: Path, *, id_column: str = ID_COLUMN) -> CohortData:
    """Read a per-patient CSV (UTF-8, optional BOM, comma-separated, quoted as in RFC 4180)."""
    if not path.is_file():
        msg = f"{path}: no such file"
        raise UsageError(msg)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _read(handle, source=str(path), id_column=id_column)
    except UnicodeDecodeError as exc:
        msg = f"{path}: byte {exc.start} is not UTF-8; expected a UTF-8 CSV file"
        raise UsageError(msg) from None


def _read(handle: TextIO, *, source: str, id_column: str) -> CohortData:
    reader = csv.reader(handle, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            msg = f"{source}: the file is empty; expected a header row and one row per patient"
            raise UsageError(msg)
        names = [h.strip() for h in header]
        blank = [i + 1 for i, name in enumerate(names) if not name]
        if blank:
            msg = f"{source}: line 1, column {blank[0]}: got an empty column name; expected a name"
            raise UsageError(msg)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            msg = f"{source}: line 1: got the column {duplicates[0]!r} twice; expected unique names"
            raise UsageError(msg)
        rows = list(reader)
    except csv.Error as exc:
        msg = f"{source}: line {reader.line_num}: {exc}; expected a valid CSV file"
        raise UsageError(msg) from None
    width = len(names)
    for number, row in enumerate(rows, start=2):
        if len(row) != width and any(row):
            msg = (f"{source}: line {number}: got {len(row)} field(s); expected {width} "
                   f"(one per column of the header)")
            raise UsageError(msg)
    rows = [row for row in rows if any(row)]  # blank lines are not patients
    if not rows:
        msg = f"{source}: no patient rows; expected one row per patient after the header"
        raise UsageError(msg)
    columns: dict[str, list[str | None]] = {
        name: [v if v.strip() else None for v in values]
        for name, values in zip(names, zip(*rows, strict=True), strict=True)}
    synthetic = id_column in columns and is_synthetic(columns[id_column])
    return CohortData(source=source, columns=columns, synthetic=synthetic)


