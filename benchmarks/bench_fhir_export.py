"""Benchmark: FHIR export per patient (record Bundle, assessment Bundle, R4B validation).

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_fhir_export.py [--quick]``).
Generated patients (``bench_assess.generate_patient``: deterministic, not real patients), already
decoded and validated, on one core in this process. Per patient, µs for: the record Bundle
(``record_entries`` + ``bundle``), assess + the assessment Bundle (``assessment_bundle``), and the
check of each Bundle against the ``fhir.resources`` R4B models (``validate_bundle``), with the
mean number of resources and JSON bytes per Bundle. ``--quick``: 20 patients (the smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from myositis_cds.adapters.fhir.codes import load_codes
from myositis_cds.adapters.fhir.exporting.assessment import assessment_bundle
from myositis_cds.adapters.fhir.exporting.common import bundle, validate_bundle
from myositis_cds.adapters.fhir.exporting.record import record_entries
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import assess, to_dict
from synthetic import TODAY, generate_patient


def measure(n: int) -> dict[str, Any]:
    rng = random.Random(20261121)
    records = [parse_record(generate_patient(rng, i), today=TODAY) for i in range(n)]
    params = default_params()
    codes = load_codes()
    titles = {rule.id: rule.title for rule in params.pack.rules.values()}
    validate_bundle({"resourceType": "Bundle", "type": "collection"})  # import the models first
    clock = time.perf_counter
    totals = {"record_us": 0.0, "assessment_us": 0.0, "validate_record_us": 0.0,
              "validate_assessment_us": 0.0}
    resources = size = problems = 0
    for record in records:
        t0 = clock()
        entries, _ = record_entries(record, codes=codes)
        record_bundle = bundle(entries, bundle_type="collection")
        t1 = clock()
        document = to_dict(assess(record, TODAY, params))
        plan_bundle = assessment_bundle(document, citations=params.pack.citations, codes=codes,
                                        rule_titles=titles)
        t2 = clock()
        problems += len(validate_bundle(record_bundle))
        t3 = clock()
        problems += len(validate_bundle(plan_bundle))
        t4 = clock()
        totals["record_us"] += t1 - t0
        totals["assessment_us"] += t2 - t1
        totals["validate_record_us"] += t3 - t2
        totals["validate_assessment_us"] += t4 - t3
        resources += len(record_bundle["entry"]) + len(plan_bundle["entry"])
        size += len(orjson.dumps(record_bundle)) + len(orjson.dumps(plan_bundle))
    if problems:
        msg = f"{problems} validation problem(s) in the exported Bundles"
        raise SystemExit(msg)
    result: dict[str, Any] = {key: value / n * 1e6 for key, value in totals.items()}
    result.update(patients=n, resources_per_patient=resources / n, bytes_per_patient=size / n)
    return result


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 patients (smoke test)")
    args = parser.parse_args(argv)
    n = 20 if args.quick else 2_000
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}; {platform.platform()}")
    result = measure(n)
    print(f"FHIR export of {n:,} generated patients ({result['resources_per_patient']:.0f} resources, "
          f"{result['bytes_per_patient'] / 1024:.0f} KiB of JSON per patient in two Bundles), one core:")
    print(f"  record Bundle {result['record_us']:.0f} µs; assess + assessment Bundle "
          f"{result['assessment_us']:.0f} µs; R4B validation {result['validate_record_us']:.0f} µs "
          f"(record) + {result['validate_assessment_us']:.0f} µs (assessment) per patient")
    if not args.quick:
        out = Path(__file__).parent / "results"
        out.mkdir(exist_ok=True)
        (out / "bench_fhir_export.json").write_text(
            json.dumps({"machine": machine, "result": result}, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
