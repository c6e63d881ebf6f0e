"""Benchmark: timelines (a TIS and an IMACS DOI per visit) and raw TIS computations per second.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_timeline.py [--quick] [--profile]``).
Everything runs on one core in this process; records are generated deterministically (seeded) and
decoded from JSON (``dict``) before timing starts.

a. One patient with 200 visits: ``build_timeline`` (199 TIS against the baseline), ms per timeline
   and TIS computations/s, plus ``timeline_to_dict``.
b. 10,000 patients × 10 visits: validation (``parse_record``) + ``build_timeline``; patients/s, and
   TIS computations/s over all visits after the baseline.
c. ``myositis_cds.scores.tis.total_improvement_score`` on pre-built inputs (six measures each):
   calls/s. The issue's target is ≥ 50,000 TIS computations/s per core.

``--profile`` adds a cProfile of (c) and of (a): where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import json
import os
import platform
import pstats
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import build_timeline, timeline_to_dict
from myositis_cds.scores.tis import MeasureInput, total_improvement_score
from synthetic import TODAY, visit_labs, visit_measures

TARGET_TIS_PER_S = 50_000


def generate_patient(rng: random.Random, index: int, visits: int) -> dict[str, Any]:
    """One synthetic patient-record@1 document (not a real patient) with ``visits`` visits.

    Visits are 4-8 weeks apart and end before ``TODAY``; each has the core set measures and two to
    five enzymes taken within a few days of it; anti-Mi-2 titers every fifth visit; a prednisone
    taper (consecutive periods), methotrexate, and sometimes a second-line agent.
    """
    first = TODAY - dt.timedelta(days=visits * 56 + 4 + rng.randrange(60))
    birth = first - dt.timedelta(days=365 * rng.randint(8, 70) + rng.randrange(365))
    assessments: list[dict[str, Any]] = []
    labs: list[dict[str, Any]] = []
    antibodies: list[dict[str, Any]] = []
    date = first
    for v in range(visits):
        assessments.append(visit_measures(rng, date))
        labs += visit_labs(rng, date, spread_days=4)
        if v % 5 == 0:
            titer = round(rng.uniform(5, 150), 1)
            antibodies.append({"target": "Mi-2", "result": "positive" if titer >= 20 else "negative",
                               "titer": titer, "cutoff": 20.0, "unit": "U/mL",
                               "date": date.isoformat()})
        date += dt.timedelta(days=rng.randint(28, 56))
    start = first + dt.timedelta(days=1)
    treatments: list[dict[str, Any]] = []
    for dose in (60, 40, 20, 10):  # a prednisone taper, three months a step
        stop = start + dt.timedelta(days=90)
        treatments.append({"drug": "prednisone", "dose": dose, "unit": "mg",
                           "start": start.isoformat(), "stop": min(stop, TODAY).isoformat()})
        start = stop + dt.timedelta(days=1)
    treatments.append({"drug": "methotrexate", "dose": 15, "unit": "mg",
                       "start": (first + dt.timedelta(days=1)).isoformat(), "stop": None})
    if rng.random() < 0.3:
        treatments.append({"drug": rng.choice(["ivig", "rituximab"]),
                           "start": (first + dt.timedelta(days=200)).isoformat(), "stop": None})
    return {
        "format": "myositis-cds/patient-record@1", "id": f"bench-{index:07d}",
        "sex": rng.choice(["female", "male"]), "birth_date": birth.isoformat(),
        "diagnosis": {"name": "dermatomyositis", "date": first.isoformat()},
        "antibodies": antibodies, "labs": labs, "assessments": assessments,
        "treatments": treatments,
    }


def _scored(timeline: Any) -> int:
    return sum(1 for v in timeline.visits if v.tis is not None)


def one_long_patient(visits: int, repeats: int) -> dict[str, float]:
    params = default_params()
    record = parse_record(generate_patient(random.Random(200), 0, visits), today=TODAY)
    timeline = build_timeline(record, TODAY, params)  # warm-up
    best_build = best_dict = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        timeline = build_timeline(record, TODAY, params)
        t1 = time.perf_counter()
        timeline_to_dict(timeline)
        t2 = time.perf_counter()
        best_build, best_dict = min(best_build, t1 - t0), min(best_dict, t2 - t1)
    tis = _scored(timeline)
    return {"visits": visits, "labs": len(record.labs), "tis_per_timeline": tis,
            "ms_per_timeline": best_build * 1e3, "ms_to_dict": best_dict * 1e3,
            "tis_per_s": tis / best_build}


def many_patients(n: int, visits: int) -> dict[str, float]:
    rng = random.Random(20261121)
    documents = [generate_patient(rng, i, visits) for i in range(n)]
    params = default_params()
    gc.collect()
    gc.freeze()  # the generated input is not part of the measured work: keep it out of GC scans
    validate = build = 0.0
    tis = 0
    for document in documents:
        t0 = time.perf_counter()
        record = parse_record(document, today=TODAY)
        t1 = time.perf_counter()
        timeline = build_timeline(record, TODAY, params)
        t2 = time.perf_counter()
        validate += t1 - t0
        build += t2 - t1
        tis += _scored(timeline)
    gc.unfreeze()
    return {"patients": n, "visits_per_patient": visits, "tis_computations": tis,
            "validate_us": validate / n * 1e6, "timeline_us": build / n * 1e6,
            "patients_per_s_timeline": n / build,
            "patients_per_s_validate_timeline": n / (validate + build),
            "tis_per_s_timeline": tis / build}


def _tis_inputs(n: int) -> list[tuple[MeasureInput, ...]]:
    rng = random.Random(50_000)

    def vas(name: str) -> MeasureInput:
        return MeasureInput(measure=name, baseline=round(rng.uniform(0, 10), 1),
                            followup=round(rng.uniform(0, 10), 1))

    return [(vas("physician_global"), vas("patient_global"),
             MeasureInput(measure="mmt", baseline=float(rng.randint(40, 80)),
                          followup=float(rng.randint(40, 80)), scale=80.0),
             MeasureInput(measure="haq", baseline=rng.randrange(25) * 0.125,
                          followup=rng.randrange(25) * 0.125),
             MeasureInput(measure="enzyme", baseline=round(rng.uniform(60, 6000), 1),
                          followup=round(rng.uniform(60, 6000), 1), scale=200.0),
             vas("extramuscular"))
            for _ in range(n)]


def raw_tis(n: int, rounds: int) -> dict[str, float]:
    tables = default_params().tis_tables
    inputs = _tis_inputs(n)
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for measures in inputs:
            total_improvement_score(measures, tables=tables, population="adult")
        best = min(best, time.perf_counter() - t0)
    return {"calls": n, "us_per_call": best / n * 1e6, "tis_per_s": n / best,
            "target_tis_per_s": TARGET_TIS_PER_S}


def _profile(label: str, work: Callable[[], object], lines: int = 14) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(work)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(lines)
    print(f"\n--- cProfile: {label} (sorted by own time) ---")
    print("\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip()))


def profile(long_visits: int) -> None:
    tables = default_params().tis_tables
    inputs = _tis_inputs(20_000)

    def tis_loop() -> None:
        for measures in inputs:
            total_improvement_score(measures, tables=tables, population="adult")

    record: PatientRecord = parse_record(generate_patient(random.Random(200), 0, long_visits),
                                         today=TODAY)
    _profile("20,000 raw TIS computations", tis_loop)
    _profile(f"build_timeline, one patient with {long_visits} visits",
             lambda: build_timeline(record, TODAY, default_params()))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 1,000 patients")
    parser.add_argument("--profile", action="store_true", help="print cProfile of (a) and (c)")
    args = parser.parse_args()
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}; {platform.platform()}; one core, one process")
    long = one_long_patient(200, 3 if args.quick else 10)
    many = many_patients(1_000 if args.quick else 10_000, 10)
    raw = raw_tis(20_000 if args.quick else 100_000, 3)
    rows = [
        ("a. 1 patient × 200 visits", f"{long['ms_per_timeline']:.1f} ms/timeline "
         f"(+{long['ms_to_dict']:.1f} ms to_dict)", f"{long['tis_per_s']:,.0f}"),
        (f"b. {many['patients']:,} patients × 10 visits",
         f"{many['patients_per_s_timeline']:,.0f} patients/s timeline "
         f"({many['patients_per_s_validate_timeline']:,.0f}/s with validation)",
         f"{many['tis_per_s_timeline']:,.0f}"),
        (f"c. raw TIS × {raw['calls']:,}", f"{raw['us_per_call']:.1f} µs/call",
         f"{raw['tis_per_s']:,.0f}"),
    ]
    print(f"\n{'workload':30} {'time':55} {'TIS/s':>10}")
    for name, timing, rate in rows:
        print(f"{name:30} {timing:55} {rate:>10}")
    verdict = "meets" if raw["tis_per_s"] >= TARGET_TIS_PER_S else "misses"
    print(f"\nraw TIS {verdict} the target of {TARGET_TIS_PER_S:,} computations/s per core")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_timeline.json").write_text(json.dumps(
        {"machine": machine, "quick": args.quick, "one_patient_200_visits": long,
         "patients_10_visits": many, "raw_tis": raw}, indent=2) + "\n")
    if args.profile:
        profile(200)


if __name__ == "__main__":
    main()
