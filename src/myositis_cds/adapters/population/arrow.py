"""Arrow form of per-patient worklist results, and of the cached state of a previous run.

One record batch row per patient: key, content hash, as-of, recheck-on, reused/invalid flags and
its worklist rows as a list of structs. The state file of an incremental run is the same table
without the flags (Parquet), so every engine reads and writes it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from myositis_cds.domain.worklist import ROW_FIELDS, PatientResult

__all__ = [
    "RESULT_SCHEMA",
    "ROW_TYPE",
    "STATE_COLUMNS",
    "results_batch",
]

ROW_TYPE = pa.struct([
    ("patient_key", pa.string()), ("severity", pa.string()), ("rule_id", pa.string()),
    ("item", pa.string()), ("kind", pa.string()), ("status", pa.string()),
    ("due", pa.date32()), ("values", pa.string()), ("scope", pa.string()),
])
RESULT_SCHEMA = pa.schema([
    ("patient_key", pa.string()), ("content_hash", pa.string()), ("as_of", pa.date32()),
    ("recheck_on", pa.date32()), ("reused", pa.bool_()), ("invalid", pa.bool_()),
    ("unmapped", pa.int32()), ("in_population", pa.bool_()), ("rows", pa.list_(ROW_TYPE)),
])
STATE_COLUMNS = ("patient_key", "content_hash", "as_of", "recheck_on", "rows")
"""Columns of the state file (a projection of :data:`RESULT_SCHEMA`)."""


def results_batch(results: Sequence[PatientResult]) -> pa.RecordBatch:
    """One Arrow batch of per-patient results, built column by column (the hot path)."""
    fields: dict[str, list[Any]] = {name: [] for name in ROW_FIELDS}
    offsets = [0]
    for result in results:
        for row in result.rows:
            for name in ROW_FIELDS:
                fields[name].append(getattr(row, name))
        offsets.append(len(fields["patient_key"]))
    rows = pa.StructArray.from_arrays(
        [pa.array(fields[f.name], type=f.type) for f in ROW_TYPE], fields=list(ROW_TYPE))
    return pa.RecordBatch.from_arrays([
        pa.array([r.patient_key for r in results], pa.string()),
        pa.array([r.content_hash for r in results], pa.string()),
        pa.array([r.as_of for r in results], pa.date32()),
        pa.array([r.recheck_on for r in results], pa.date32()),
        pa.array([r.reused for r in results], pa.bool_()),
        pa.array([r.invalid for r in results], pa.bool_()),
        pa.array([r.unmapped for r in results], pa.int32()),
        pa.array([r.in_population for r in results], pa.bool_()),
        pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), rows),
    ], schema=RESULT_SCHEMA)
