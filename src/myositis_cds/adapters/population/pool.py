"""Evaluating batches of grouped input in this process and in helper processes (``duckdb`` engine).

A batch is an Arrow record batch as the engine's query yields it: ``patient_key``, ``resources``
and ``state`` for a FHIR export, ``filename``, ``content`` and ``state`` for a folder of records
or of Bundles. :func:`evaluate_batch` gives the :class:`PatientResult`s of its rows.

With ``workers`` N, this process and N - 1 spawned helpers evaluate: this process takes a batch
whenever each helper already has two queued. A helper starts a fresh interpreter and imports the
package (seconds of CPU), so one helper fewer is that much less work, and this process works
while the helpers start. A helper receives Arrow batches (cheap to send) and turns them into Python
rows itself, and returns plain results: it never builds an Arrow array from Python objects (Arrow's
first such conversion imports pandas, ≈ 0.5 s of CPU) and never imports DuckDB; this process
builds the Arrow results.
"""

from __future__ import annotations

import copyreg
import multiprocessing
import types
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import pyarrow as pa

from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.adapters.population.evaluate import (
    evaluate_bundle_file,
    evaluate_fhir_patient,
    evaluate_record_file,
)
from myositis_cds.adapters.population.lines import LineFilter
from myositis_cds.domain.worklist import PatientEvaluator, PatientResult

__all__ = ["Rows", "evaluate_batch", "evaluate_in_pool", "evaluate_rows", "set_up"]

Rows = list[dict[str, Any]]
"""One batch of the engine's query, as Python rows."""


def _mapping_proxy(data: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(data)


def _reduce_mapping_proxy(proxy: types.MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return (_mapping_proxy, (dict(proxy),))


# The knowledge pack keeps read-only mappings; the helper processes receive it pickled.
copyreg.pickle(types.MappingProxyType, _reduce_mapping_proxy)
ForkingPickler.register(types.MappingProxyType, _reduce_mapping_proxy)

# Per-process globals, set once per process by set_up.
_EVALUATOR: list[Any] = []


def set_up(evaluator: PatientEvaluator, medications: Mapping[str, Mapping[str, Any]],
           mapping: FhirMapping) -> None:
    _EVALUATOR[:] = [evaluator, medications, mapping, LineFilter.of(mapping)]


def evaluate_rows(kind: str, rows: Rows) -> list[PatientResult]:
    """The results of one batch (:func:`set_up` first)."""
    evaluator, medications, mapping, lines = _EVALUATOR
    results: list[PatientResult] = []
    for row in rows:
        state = row["state"]
        if kind == "fhir":
            results.append(evaluate_fhir_patient(evaluator, row["patient_key"], row["resources"],
                                                 mapping=mapping, medications=medications,
                                                 state=state, lines=lines))
            continue

        def lookup(key: str, state: Mapping[str, Any] | None = state) -> Any:
            return state if state and state.get("patient_key") == key else None

        name, data = Path(row["filename"]).name, row["content"].encode()
        if kind == "bundles":
            results.extend(evaluate_bundle_file(evaluator, name, data, mapping=mapping,
                                                lookup=lookup))
        else:
            results.extend(evaluate_record_file(evaluator, name, data, lookup))
    return results


def evaluate_batch(kind: str, batch: pa.RecordBatch) -> list[PatientResult]:
    """The results of one Arrow batch (:func:`set_up` first)."""
    return evaluate_rows(kind, batch.to_pylist())


def evaluate_in_pool(kind: str, batches: Iterable[pa.RecordBatch], *, evaluator: PatientEvaluator,
                     medications: Mapping[str, Mapping[str, Any]], mapping: FhirMapping,
                     done: Callable[[list[PatientResult]], None], workers: int) -> None:
    """Evaluate every batch in this process and ``workers - 1`` helpers (module docstring);
    ``done`` receives each batch's results (in no particular order)."""
    set_up(evaluator, medications, mapping)
    if workers <= 1:
        for batch in batches:
            done(evaluate_batch(kind, batch))
        return
    helpers = workers - 1
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(helpers, mp_context=context, initializer=set_up,
                             initargs=(evaluator, medications, mapping)) as pool:
        pending: deque[Future[list[PatientResult]]] = deque()
        for batch in batches:
            while pending and pending[0].done():
                done(pending.popleft().result())
            if len(pending) < 2 * helpers:
                pending.append(pool.submit(evaluate_batch, kind, batch))
            else:
                done(evaluate_batch(kind, batch))
        while pending:
            done(pending.popleft().result())
