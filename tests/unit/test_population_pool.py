"""The duckdb engine's evaluation: this process beside ``workers - 1`` helper processes."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from myositis_cds.adapters.fhir.importing.importer import default_mapping
from myositis_cds.adapters.population.duck import BATCH, batch_size
from myositis_cds.adapters.population.pool import Rows, evaluate_in_pool
from myositis_cds.domain.worklist import CachedResult, PatientResult

AS_OF = dt.date(2026, 1, 1)


class PidEvaluator:
    """A picklable evaluator whose result says which process evaluated the patient."""

    def __call__(self, key: str, document: Mapping[str, object],
                 previous: CachedResult | None = None) -> PatientResult:
        return PatientResult(patient_key=key, content_hash=str(os.getpid()), as_of=AS_OF,
                             recheck_on=None, rows=(), reused=False, invalid=False,
                             unmapped=len(document))

    def invalid(self, key: str, errors: list[dict[str, Any]]) -> PatientResult:
        raise AssertionError(errors)

    def admits_key(self, key: str) -> bool:
        return True

    def outside(self, key: str) -> PatientResult:
        raise AssertionError(key)


def _batches(patients: int, size: int) -> list[pa.RecordBatch]:
    rows: Rows = [{"filename": f"/x/p{n}.json", "content": json.dumps({"id": f"p{n}", "n": n}),
             "state": None} for n in range(patients)]
    return [pa.RecordBatch.from_pylist(rows[i:i + size]) for i in range(0, patients, size)]


def _run(batches: list[pa.RecordBatch], workers: int) -> list[list[PatientResult]]:
    done: list[list[PatientResult]] = []
    evaluate_in_pool("records", iter(batches), evaluator=PidEvaluator(), medications={},
                     mapping=default_mapping(), done=done.append, workers=workers)
    return done


def test_this_process_and_a_helper_evaluate_every_patient_once() -> None:
    batches = _batches(40, 2)
    done = _run(batches, workers=2)
    assert len(done) == len(batches)  # one call of `done` per batch
    results = [r for batch in done for r in batch]
    assert sorted(r.patient_key for r in results) == sorted(f"p{n}" for n in range(40))
    assert {r.unmapped for r in results} == {2}
    # The helper takes two batches at a time; this process evaluates the others itself.
    assert str(os.getpid()) in {r.content_hash for r in results}
    assert len({r.content_hash for r in results}) == 2


def test_one_worker_evaluates_in_this_process() -> None:
    results = [r for batch in _run(_batches(5, 2), workers=1) for r in batch]
    assert {r.content_hash for r in results} == {str(os.getpid())}
    assert len(results) == 5


def test_a_small_export_is_cut_into_about_eight_batches_per_process() -> None:
    assert batch_size(200, 2) == 12
    assert batch_size(3, 2) == 1
    assert batch_size(0, 1) == 1
    assert batch_size(1_000_000, 2) == BATCH
