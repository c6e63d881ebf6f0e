"""Benchmark: assessments per second and streamed-batch memory.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_assess.py [--quick]``).

1. Throughput: 10,000 generated patients, already decoded from JSON (``dict``), each validated
   (``parse_record``) and assessed (``assess``) on one core in this process. Reports patients/s for
   validation + assessment, and each phase separately, plus serialisation (``to_dict``).
2. Memory: a ``patient-records@1`` batch of N patients is written to a temporary file and assessed
   by the real CLI in a child process (``assess --format json``, streamed to /dev/null); the child's
   peak RSS is read from ``getrusage``. Run at 10,000 and 100,000 patients to show that memory does
   not grow with the batch size.

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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import assess, to_dict
from synthetic import TODAY, generate_patient


def throughput(n: int) -> dict[str, float]:
    """Validate + assess each decoded document in turn, as a streaming run does (nothing kept)."""
    rng = random.Random(20261121)
    documents = [generate_patient(rng, i) for i in range(n)]
    params = default_params()
    gc.collect()
    gc.freeze()  # the generated input is not part of the measured work: keep it out of GC scans
    clock = time.perf_counter
    validate = assess_time = serialise = 0.0
    for document in documents:
        t0 = clock()
        record = parse_record(document, today=TODAY)
        t1 = clock()
        result = assess(record, TODAY, params)
        t2 = clock()
        to_dict(result)
        t3 = clock()
        validate += t1 - t0
        assess_time += t2 - t1
        serialise += t3 - t2
    gc.unfreeze()
    items = sum(sum(len(v) for v in d.values() if isinstance(v, list)) for d in documents)
    return {
        "patients": n,
        "mean_items_per_record": items / n,
        "validate_us": validate / n * 1e6,
        "assess_us": assess_time / n * 1e6,
        "to_dict_us": serialise / n * 1e6,
        "patients_per_s_validate_assess": n / (validate + assess_time),
        "patients_per_s_with_to_dict": n / (validate + assess_time + serialise),
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 patients; batches 1k and 5k")
    args = parser.parse_args()
    n = 1_000 if args.quick else 10_000
    sizes = (1_000, 5_000) if args.quick else (10_000, 100_000)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}; {platform.platform()}")
    result = throughput(n)
    print(f"throughput over {n:,} generated patients "
          f"({result['mean_items_per_record']:.0f} list items per record), one core:")
    print(f"  validate {result['validate_us']:.0f} µs + assess {result['assess_us']:.0f} µs per patient"
          f" = {result['patients_per_s_validate_assess']:,.0f} patients/s"
          f" (with to_dict: {result['patients_per_s_with_to_dict']:,.0f}/s)")
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
        {"machine": machine, "throughput": result, "batch_memory": memory}, indent=2) + "\n")


if __name__ == "__main__":
    main()
