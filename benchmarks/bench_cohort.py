"""Benchmark: Table 1 of a 100,000-patient × 30-variable CSV, and the titer mixed model on
5,000 patients × 10 visits (issue 6). One core: BLAS threads are limited to 1 before numpy loads.

    python benchmarks/bench_cohort.py           # full sizes
    python benchmarks/bench_cohort.py --quick   # small sizes (smoke test)

The data are generated (seeded), not patients. Reported: wall-clock seconds of reading the CSV
plus computing Table 1 (all tests under the "fisher" policy), and of fitting one mixed model
(log CK ~ titer), with the process CPU time next to it (the machine is shared: wall time alone
overstates the cost under contention).
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402 - the thread limits above must precede numpy
import math  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from myositis_cds.adapters.cohort_csv import read_cohort_csv  # noqa: E402
from myositis_cds.csv_writer import CsvWriter  # noqa: E402
from myositis_cds.stats.association import fit_random_intercept  # noqa: E402
from myositis_cds.stats.table1 import table1  # noqa: E402

GROUPS = ("anti-Mi-2-positive DM", "anti-Mi-2-negative DM", "antisynthetase syndrome", "IMNM")


def write_csv(path: Path, n: int, rng: random.Random) -> None:
    """20 binary (yes/no, 5 % missing), 5 numeric, 5 three-level categorical columns."""
    header = ["patient", "group", *(f"b{i}" for i in range(20)), *(f"x{i}" for i in range(5)),
              *(f"c{i}" for i in range(5))]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = CsvWriter(handle, line_terminator="\r\n")
        writer.writerow(header)
        for k in range(n):
            g = rng.randrange(4)
            row = [f"bench-{k}", GROUPS[g]]
            row += ["" if rng.random() < 0.05 else
                    "yes" if rng.random() < 0.1 + 0.05 * g + 0.02 * i else "no" for i in range(20)]
            row += [f"{rng.lognormvariate(2 + 0.1 * g, 0.8):.2f}" for _ in range(5)]
            row += [rng.choice("xyz") for _ in range(5)]
            writer.writerow(row)


def bench_table1(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.csv"
        write_csv(path, n, random.Random(1))
        start, cpu = time.perf_counter(), time.process_time()
        result = table1(read_cohort_csv(path), group="group", policy="fisher", id_column="patient")
        elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    assert len(result.rows) == 20 + 5 + 15
    return elapsed, cpu_used


def bench_mixed_model(patients: int, visits: int) -> tuple[float, float]:
    rng = random.Random(2)
    outcome, titer, groups = [], [], []
    for p in range(patients):
        intercept = rng.gauss(0, 0.5)
        for v in range(visits):
            t = 100 * math.exp(-v / 4) * math.exp(rng.gauss(0, 0.2))
            titer.append(t)
            outcome.append(0.5 + intercept + 0.02 * t + rng.gauss(0, 0.3))
            groups.append(f"p{p}")
    start, cpu = time.perf_counter(), time.process_time()
    fit = fit_random_intercept(outcome, titer, groups, outcome_name="log(CK × ULN)",
                               formula="log(CK × ULN) ~ 1 + titer + (1 | patient)")
    elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
    assert fit.status == "fitted", fit.reason
    return elapsed, cpu_used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = parser.parse_args()
    n, patients, visits = (2_000, 200, 10) if args.quick else (100_000, 5_000, 10)
    wall, cpu = bench_table1(n)
    print(f"table1: {n} patients × 30 variables (CSV read + Table 1, policy fisher): "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU")
    wall, cpu = bench_mixed_model(patients, visits)
    print(f"mixed model: {patients} patients × {visits} visits ({patients * visits} observations): "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU")


if __name__ == "__main__":
    main()
