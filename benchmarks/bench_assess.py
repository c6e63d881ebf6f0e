"""Benchmark: where the time of one assessment goes (the floor), and streamed-batch memory.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_assess.py [--quick]``).

1. Stages: 10,000 generated patients (``--quick``: 1,000) as JSON bytes, taken through every step
   of JSON in → JSON out one stage at a time, all on one core in this process: decode (a bare
   ``orjson.loads``, the yardstick), validation (msgspec structs and the record checks; the pydantic
   models that name the errors of a refused record are timed apart), conversion to the domain
   record, ``parse_record`` of the bytes and of a decoded ``dict`` as the CLI and the services call
   it (it re-encodes to JSON first), ``assess``, the output written straight from
   the result objects (``assessment_json``, what the CLI writes) and, for comparison, the same bytes
   through a dict (``to_dict``, then ``orjson.dumps``), then the whole chain per patient. Each figure is the
   median CPU time of one patient (``thread_time``, so other processes on the machine count less
   than in wall time) and its ratio to the decode median of the same run: the absolute figures
   move with the machine and its load, the ratios much less.
2. Memory: a ``patient-records@1`` batch of N patients is written to a temporary file and assessed
   by the real CLI in a child process (``assess --format json``, streamed to /dev/null); the child's
   peak RSS is read from ``/proc/self/status``. Run at 10,000 and 100,000 patients to show that
   memory does not grow with the batch size.

The generator is deterministic (seeded) and produces patients of realistic size: 2-4 visits with
enzymes at each, a partial or full antibody panel, 4-10 findings, 1-3 treatments, 2-6 investigations.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

# The validation and conversion steps are private to the adapter; they are timed apart here only.
from myositis_cds.adapters.record_file import iter_raw_records
from myositis_cds.adapters.record_json import PatientRecordModel, _nul_errors, parse_record
from myositis_cds.adapters.record_json.checks import check_record, parts_of
from myositis_cds.adapters.record_json.convert import to_domain
from myositis_cds.adapters.record_json.structs import PatientRecordStruct, decode_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import assess, to_dict
from myositis_cds.knowledge.plausibility import default_plausibility
from myositis_cds.presentation import assessment_json
from synthetic import TODAY, generate_patient
from targets import largest_part, verdict

LIMITS = default_plausibility()
"""The plausibility ranges the record validator applies (the embedded pack's)."""
TARGET_PER_S = 10_000
"""Issue 15: validated assessments per second on one core."""


def _timed(function: Callable[[Any], Any], inputs: Sequence[Any]) -> tuple[list[Any], list[int]]:
    """``function`` applied to each input: the results and each call's CPU time (ns)."""
    clock = time.thread_time_ns
    results: list[Any] = []
    times: list[int] = []
    for item in inputs:
        t0 = clock()
        result = function(item)
        times.append(clock() - t0)
        results.append(result)
    return results, times


def _validated(raw: bytes) -> PatientRecordStruct:
    """The fast path of the record validator: msgspec structs, then the cross-field checks."""
    structs = decode_record(raw)
    if structs is None:
        raise AssertionError(raw)
    errors = _nul_errors(raw, None, "$") + check_record(parts_of(structs), "$", TODAY, LIMITS)
    if errors:
        raise AssertionError(errors)
    return structs


def _validated_by_models(raw: bytes) -> PatientRecordModel:
    """The path of a refused record: the pydantic models, then the same checks."""
    model = PatientRecordModel.model_validate_json(raw)
    errors = _nul_errors(raw, None, "$") + check_record(parts_of(model), "$", TODAY, LIMITS)
    if errors:
        raise AssertionError(errors)
    return model


def _batch_read(raws: Sequence[bytes]) -> list[int]:
    """CPU ns per record of the CLI's streaming batch reader (ijson) over the same records."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.json"
        head = b'{"format": "myositis-cds/patient-records@1", "records": ['
        path.write_bytes(head + b",".join(raws) + b"]}")
        records = iter_raw_records(path)
        clock = time.thread_time_ns
        times = []
        for _ in raws:
            t0 = clock()
            next(records)
            times.append(clock() - t0)
        return times


def stages(n: int) -> dict[str, Any]:
    """Each stage of JSON in → JSON out over the same ``n`` records; CPU µs per patient."""
    rng = random.Random(20261121)
    raws = [orjson.dumps(generate_patient(rng, i)) for i in range(n)]
    params = default_params()

    def whole(raw: bytes) -> bytes:  # JSON in → JSON out through the library's API
        return assessment_json(assess(parse_record(raw, today=TODAY), TODAY, params))

    def as_cli(raw: bytes) -> bytes:  # what the CLI does after reading a record (ijson aside)
        return assessment_json(assess(parse_record(orjson.loads(raw), today=TODAY), TODAY, params))

    gc.collect()
    gc.freeze()  # the generated input is not part of the measured work: keep it out of GC scans
    timings: dict[str, list[int]] = {}
    documents, timings["decode"] = _timed(orjson.loads, raws)
    models, timings["validation"] = _timed(_validated, raws)
    _, timings["conversion"] = _timed(to_domain, models)
    del models
    _, timings["validation (models)"] = _timed(_validated_by_models, raws)
    _, timings["parse_record(bytes)"] = _timed(lambda b: parse_record(b, today=TODAY), raws)
    records, timings["parse_record(dict)"] = _timed(lambda d: parse_record(d, today=TODAY), documents)
    assessments, timings["assess"] = _timed(lambda r: assess(r, TODAY, params), records)
    del records
    _, timings["assessment_json"] = _timed(assessment_json, assessments)
    outputs, timings["to_dict"] = _timed(to_dict, assessments)
    del assessments
    _, timings["encode"] = _timed(orjson.dumps, outputs)
    del outputs, documents
    _, timings["total"] = _timed(whole, raws)
    _, timings["total (as the CLI)"] = _timed(as_cli, raws)
    timings["read (CLI batch)"] = _batch_read(raws)
    gc.unfreeze()
    decode = statistics.median(timings["decode"])
    rows = {name: {"median_us": statistics.median(ns) / 1e3, "mean_us": statistics.fmean(ns) / 1e3,
                   "x_decode": statistics.median(ns) / decode}
            for name, ns in timings.items()}
    return {"patients": n, "mean_json_bytes": sum(map(len, raws)) / n, "stages": rows,
            "patients_per_s_total": n / (sum(timings["total"]) / 1e9),
            "patients_per_s_cli": n / (sum(timings["total (as the CLI)"]) / 1e9)}


STAGE_NOTES = {
    "decode": "orjson.loads of the record's bytes (the yardstick)",
    "validation": "msgspec structs (accepting path) + date/item checks",
    "conversion": "validated structs → domain PatientRecord",
    "validation (models)": "pydantic models + checks: the path of a record msgspec refuses",
    "parse_record(bytes)": "the record validator on JSON bytes: validation + conversion",
    "parse_record(dict)": "as CLI/services call it: json.dumps of the dict first",
    "assess": "the engine",
    "assessment_json": "output: the result objects straight to JSON bytes (what the CLI writes)",
    "to_dict": "the same output as a dict first (web API, reports)",
    "encode": "orjson.dumps of that dict (to_dict + encode = assessment_json's bytes)",
    "total": "bytes in → bytes out: parse_record(bytes), assess, assessment_json",
    "total (as the CLI)": "decode, parse_record(dict), assess, assessment_json",
    "read (CLI batch)": "the CLI's streaming batch reader (ijson) instead of decode",
}


def print_stages(result: dict[str, Any]) -> None:
    print(f"stages over {result['patients']:,} generated patients "
          f"({result['mean_json_bytes']:,.0f} JSON bytes each), one core, CPU µs per patient:")
    print(f"  {'stage':20} {'median µs':>10} {'mean µs':>9} {'× decode':>9}")
    for name, row in result["stages"].items():
        print(f"  {name:20} {row['median_us']:10.1f} {row['mean_us']:9.1f} {row['x_decode']:9.1f}"
              f"   {STAGE_NOTES[name]}")
    rate = result["patients_per_s_total"]
    print(f"  → {rate:,.0f} validated assessments/s (JSON in → JSON out) on one core: "
          f"{rate / TARGET_PER_S:.0%} of the {TARGET_PER_S:,}/s target; at the target a patient has "
          f"{1e6 / TARGET_PER_S:.0f} µs = {1e6 / TARGET_PER_S / result['stages']['decode']['median_us']:.0f}"
          f" × decode")
    print(f"  → {result['patients_per_s_cli']:,.0f}/s as the CLI takes a record (decoded dict; its "
          f"ijson batch reader not counted)")
    stages = result["stages"]
    print(verdict(f"≥ {TARGET_PER_S:,} validated assessments/s per core", measured=rate,
                  goal=TARGET_PER_S, unit="assessments/s", higher_is_better=True,
                  limit=largest_part({name: stages[name]["median_us"] for name in
                                      ("parse_record(bytes)", "assess", "assessment_json")})
                  + f"; the budget per patient is {1e6 / TARGET_PER_S:.0f} µs"))


def batch_memory(n: int, workdir: Path) -> dict[str, float]:
    path = workdir / f"batch-{n}.json"
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"format": "myositis-cds/patient-records@1", "records": [\n')
        for i in range(n):
            out.write(("," if i else "") + json.dumps(generate_patient(rng, i)) + "\n")
        out.write("]}\n")
    env = {**os.environ, "MYOSITIS_CDS_TODAY": TODAY.isoformat()}
    argv = ["assess", str(path), "--format", "json", "--as-of", TODAY.isoformat(), "--out", os.devnull]
    started = time.perf_counter()
    child = subprocess.run([sys.executable, "-c", _CHILD, *argv], check=True, env=env,  # noqa: S603
                           capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    peak_kib = int(child.stdout.strip().splitlines()[-1])
    size_mib = path.stat().st_size / 2**20
    path.unlink()
    return {"patients": n, "peak_rss_mib": peak_kib / 1024, "seconds": elapsed,
            "patients_per_s_end_to_end": n / elapsed, "file_mib": size_mib}


# Runs the real CLI in a fresh interpreter and prints that process's own peak RSS (KiB). The peak
# is VmHWM of /proc/self/status: getrusage's ru_maxrss is kept across exec and would report the
# benchmark parent's peak instead.
_CHILD = """
import sys
from myositis_cds.entrypoints.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status", encoding="ascii") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
sys.exit(code)
"""


def _cpu() -> str:
    try:
        with Path("/proc/cpuinfo").open(encoding="utf-8") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def _load() -> str:
    """The 1, 5 and 15 minute load averages: the machine is shared, figures move with them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 patients; batches 1k and 5k")
    args = parser.parse_args()
    n = 1_000 if args.quick else 10_000
    sizes = (1_000, 5_000) if args.quick else (10_000, 100_000)
    machine = f"{_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}; {platform.platform()}")
    print(f"load (uptime): {_load()}")
    result = stages(n)
    print_stages(result)
    memory = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            # Each size runs in a fresh child so ru_maxrss is that child's own peak.
            row = batch_memory(size, Path(tmp))
            memory.append(row)
            print(f"  streamed batch of {size:,}: peak RSS {row['peak_rss_mib']:.0f} MiB, "
                  f"{row['patients_per_s_end_to_end']:,.0f} patients/s end to end (CLI, JSON lines; "
                  f"{row['file_mib']:.0f} MiB file)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_assess.json").write_text(json.dumps(
        {"machine": machine, "load": _load(), "stages": result, "batch_memory": memory}, indent=2) + "\n")


if __name__ == "__main__":
    main()
