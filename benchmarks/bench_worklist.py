"""Benchmark: population worklists from a generated FHIR Bulk Data export, per engine.

Run with ``.venv/bin/python benchmarks/bench_worklist.py [--quick] [--sizes 100000,300000]
[--engines duckdb,spark,local]``.

1. Population: a FHIR NDJSON export of N synthetic (not real) patients with about 10 resources
   each (Patient, Condition, Mi-2 antibody, 2 findings, 2 enzymes, weight, 1 treatment, 1
   investigation), streamed to disk under /tmp. 500 distinct clinical templates are built with
   the record exporter (``record_to_bundle``); patient i is template i mod 500 under its own ids,
   so every patient is imported, validated and assessed in full (nothing is cached).
2. Engines: each runs the real CLI (``worklist --as-of … --out …parquet``) in a fresh child
   process; reported: patients/s end to end (start-up, grouping, evaluation, sort and write
   included), the child's own peak RSS (VmHWM of /proc/<pid>/status — ``ru_maxrss`` would survive
   exec) and the peak RSS of its whole process tree (DuckDB's worker processes, Spark's JVM and
   Python workers), sampled every 0.5 s.
3. Profile: where one core's time per patient goes (decode, FHIR import, validation, assessment,
   rows, recheck date, Arrow), measured in this process on 2,000 patients as CPU time of this
   thread (``thread_time``: on a shared machine, other processes count less than in wall time).

``--quick`` (the smoke test): 1,000 patients, local and duckdb engines only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from myositis_cds.adapters.fhir.exporting.record import record_to_bundle
from myositis_cds.adapters.fhir.importing.importer import default_mapping, patient_document
from myositis_cds.adapters.population.arrow import results_batch
from myositis_cds.adapters.population.evaluate import canonical_resources
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.domain.worklist import PatientResult
from myositis_cds.engine import assess
from myositis_cds.services.recheck import content_hash, durations_of, params_fingerprint, recheck_on
from myositis_cds.services.worklist import worklist_items
from synthetic import TODAY, ULN
from targets import largest_part, verdict

TEMPLATES = 500
PLACEHOLDER = "TEMPLATEPATIENT"
FINDINGS = ("gottron_papules", "heliotrope_rash", "dysphagia", "v_sign", "shawl_sign")
DRUGS = ("prednisone", "methotrexate", "azathioprine")
INVESTIGATIONS = ("pulmonary_function_tests", "ct_chest_abdomen_pelvis", "emg", "skin_exam")


def template_record(rng: random.Random) -> dict[str, Any]:
    """One synthetic record that exports to about 10 FHIR resources."""
    diagnosed = TODAY - dt.timedelta(days=rng.randrange(10, 1500))
    birth = diagnosed - dt.timedelta(days=rng.randrange(365 * 20, 365 * 80))
    labs = [{"test": test, "value": round(ULN[test] * rng.uniform(0.3, 20), 1), "unit": "U/L",
             "uln": ULN[test], "date": (diagnosed + dt.timedelta(days=rng.randrange(3))).isoformat()}
            for test in ("CK", "aldolase")]
    start = min(TODAY, diagnosed + dt.timedelta(days=rng.randrange(60)))
    return {
        "format": "myositis-cds/patient-record@1", "id": PLACEHOLDER,
        "sex": rng.choice(["female", "male"]), "birth_date": birth.isoformat(),
        "diagnosis": {"name": "dermatomyositis", "date": diagnosed.isoformat()},
        "body_measurements": [{"date": diagnosed.isoformat(),
                               "weight_kg": round(rng.uniform(45, 110), 1)}],
        "antibodies": [{"target": "Mi-2", "result": "positive", "date": diagnosed.isoformat()}],
        "findings": [{"code": c, "present": rng.random() < 0.6, "date": diagnosed.isoformat()}
                     for c in rng.sample(FINDINGS, 2)],
        "labs": labs,
        "treatments": [{"drug": rng.choice(DRUGS), "start": start.isoformat(),
                        "stop": None if rng.random() < 0.8 else TODAY.isoformat()}],
        "investigations": [{"kind": rng.choice(INVESTIGATIONS),
                            "date": min(TODAY, diagnosed + dt.timedelta(days=rng.randrange(200)))
                            .isoformat(), "abnormal": rng.random() < 0.2}],
    }


def template_lines(rng: random.Random) -> list[tuple[str, str]]:
    """(resource type, NDJSON line with the placeholder id) of one template patient."""
    bundle = record_to_bundle(template_record(rng), today=TODAY)
    patient_url = bundle["entry"][0]["fullUrl"]
    lines = []
    for number, entry in enumerate(bundle["entry"]):
        resource = dict(entry["resource"])
        resource.setdefault("id", f"{PLACEHOLDER}-{number}")
        text = orjson.dumps(resource).decode().replace(f'"{patient_url}"',
                                                      f'"Patient/{PLACEHOLDER}"')
        lines.append((resource["resourceType"], text))
    return lines


def write_export(folder: Path, n: int) -> dict[str, float]:
    """Stream an export of ``n`` patients to ``folder``; returns its size and resource count."""
    rng = random.Random(20261121)
    templates = [template_lines(rng) for _ in range(TEMPLATES)]
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    resources = 0
    try:
        for i in range(n):
            key = f"b{i:07d}"
            for resource_type, line in templates[i % TEMPLATES]:
                out = files.get(resource_type)
                if out is None:
                    out = files[resource_type] = (folder / f"{resource_type}.ndjson").open(
                        "w", encoding="utf-8", buffering=1 << 20)
                out.write(line.replace(PLACEHOLDER, key) + "\n")
                resources += 1
    finally:
        for out in files.values():
            out.close()
    size = sum(p.stat().st_size for p in folder.glob("*.ndjson"))
    return {"patients": n, "resources": resources, "resources_per_patient": resources / n,
            "mib": size / 2**20}


_CHILD = """
import sys
from myositis_cds.entrypoints.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status", encoding="ascii") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
sys.exit(code)
"""


def _tree_rss_kib(pid: int) -> int:
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with Path(f"/proc/{current}/status").open(encoding="ascii") as status:
                total += next((int(line.split()[1]) for line in status
                               if line.startswith("VmRSS:")), 0)
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text(encoding="ascii").split()
                pending.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run_cli(argv: list[str], env: dict[str, str]) -> tuple[float, int, int, str]:
    """The CLI in a fresh child process: (seconds, the child's own peak RSS in KiB, the peak RSS
    of its process tree in KiB sampled every 0.5 s, stderr); a failure raises."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, *argv], env=env,  # noqa: S603
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        while child.poll() is None:
            peak[0] = max(peak[0], _tree_rss_kib(child.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = child.communicate()
    elapsed = time.perf_counter() - started
    sampler.join()
    if child.returncode != 0:
        msg = f"{argv[:2]} failed ({child.returncode}): {stderr[-2000:]}"
        raise RuntimeError(msg)
    return elapsed, int(stdout.strip().splitlines()[-1]), peak[0], stderr


def run_engine(engine: str, folder: Path, workdir: Path) -> dict[str, Any]:
    out = workdir / f"worklist-{engine}.parquet"
    summary = workdir / f"summary-{engine}.json"
    env = {**os.environ, "MYOSITIS_CDS_TODAY": TODAY.isoformat(), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable}
    argv = ["worklist", str(folder), "--as-of", TODAY.isoformat(), "--engine", engine,
            "--out", str(out), "--no-progress", "--summary-json", str(summary),
            "--spark-master", "local[2]", "--work-dir", str(workdir)]
    elapsed, driver, tree, _ = run_cli(argv, env)
    counts = json.loads(summary.read_text(encoding="utf-8"))
    out.unlink()
    return {"engine": engine, "patients": counts["patients"], "rows": counts["rows"],
            "seconds": elapsed, "patients_per_s": counts["patients"] / elapsed,
            "driver_peak_rss_mib": driver / 1024, "tree_peak_rss_mib": tree / 1024}


TARGET_PER_S = 10_000
"""Issue 15: worklist patients per second on 2 cores (generated 10-resource patients, DuckDB)."""


def profile(n: int = 2_000) -> dict[str, float]:
    """CPU microseconds per patient of each step, on one core, in this process."""
    rng = random.Random(7)
    templates = [template_lines(rng) for _ in range(50)]
    params = default_params()
    durations = durations_of(params)
    fingerprint = params_fingerprint(params)
    mapping = default_mapping()
    steps = dict.fromkeys(("decode", "import", "hash", "validate", "assess", "rows", "recheck",
                           "arrow"), 0.0)
    clock = time.thread_time
    results = []
    for i in range(n):
        texts = [line.replace(PLACEHOLDER, f"p{i}") for _, line in templates[i % 50]]
        marks = [clock()]
        resources = canonical_resources(texts)
        marks.append(clock())
        document = patient_document(resources, mapping=mapping).document
        marks.append(clock())
        content = content_hash(document, fingerprint)
        marks.append(clock())
        record = parse_record(document, today=TODAY)
        marks.append(clock())
        assessment = assess(record, TODAY, params)
        marks.append(clock())
        rows = tuple(worklist_items(record.id, assessment))
        marks.append(clock())
        recheck = recheck_on(record, assessment, TODAY, durations)
        marks.append(clock())
        results.append(PatientResult(patient_key=record.id, content_hash=content, as_of=TODAY,
                                     recheck_on=recheck, rows=rows, reused=False, invalid=False))
        for name, before, after in zip(steps, marks, marks[1:], strict=False):
            steps[name] += after - before
    results_batch(results[:1])  # pyarrow's one-off initialisation is not per-patient work
    started = clock()
    for first in range(0, n, 512):  # the engines convert batches of 512 patients
        results_batch(results[first:first + 512])
    steps["arrow"] = clock() - started
    per = {f"{k}_us": v / n * 1e6 for k, v in steps.items()}
    per["total_us"] = sum(per.values())
    per["patients_per_s_one_core"] = 1e6 / per["total_us"]
    # hash and recheck are computed only for incremental runs (--state); the benchmark runs without.
    per["full_run_us"] = per["total_us"] - per["hash_us"] - per["recheck_us"]
    per["patients_per_s_one_core_full_run"] = 1e6 / per["full_run_us"]
    return per


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 patients; local and duckdb")
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results"
                                                / "bench_worklist.json"))
    args = parser.parse_args()
    sizes = [1_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    engines = ["local", "duckdb"] if args.quick else args.engines.split(",")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}; load average at start {os.getloadavg()[0]:.1f}")
    steps = profile(200 if args.quick else 2_000)
    full = steps["full_run_us"]
    print("profile, CPU µs per patient on one core (share of a full run): " + ", ".join(
        f"{k[:-3]} {v:.0f}" + ("" if k in ("hash_us", "recheck_us", "total_us", "full_run_us") else
                               f" ({v / full:.0%})")
        for k, v in steps.items() if k.endswith("_us"))
          + f" → full run (no hash, no recheck) {steps['patients_per_s_one_core_full_run']:,.0f}"
          " patients/s per core")
    runs = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-worklist-", dir="/tmp") as tmp:
            folder = Path(tmp) / "export"
            started = time.perf_counter()
            export = write_export(folder, size)
            export["generate_seconds"] = time.perf_counter() - started
            print(f"{size:,} patients: {export['resources']:,} resources "
                  f"({export['resources_per_patient']:.1f}/patient), {export['mib']:.0f} MiB "
                  f"generated in {export['generate_seconds']:.0f} s")
            for engine in engines:
                row = run_engine(engine, folder, Path(tmp))
                row["export"] = export
                runs.append(row)
                print(f"  {engine:<7} {row['seconds']:8.1f} s  {row['patients_per_s']:8,.0f} "
                      f"patients/s  driver peak {row['driver_peak_rss_mib']:6.0f} MiB  "
                      f"tree peak {row['tree_peak_rss_mib']:6.0f} MiB", flush=True)
                Path(args.output).parent.mkdir(parents=True, exist_ok=True)
                Path(args.output).write_text(json.dumps(
                    {"machine": machine, "quick": args.quick, "profile": steps, "runs": runs},
                    indent=2) + "\n", encoding="utf-8")
    per_patient = {name.removesuffix("_us"): us for name, us in steps.items()
                   if name in ("decode_us", "import_us", "validate_us", "assess_us", "rows_us",
                               "arrow_us")}
    for row in runs:
        if row["engine"] == "duckdb":
            print(verdict(f"≥ {TARGET_PER_S:,} worklist patients/s on 2 cores (DuckDB, "
                          f"{row['patients']:,} patients)", measured=row["patients_per_s"],
                          goal=TARGET_PER_S, unit="patients/s", higher_is_better=True,
                          limit=largest_part(per_patient) + " per patient on one core; the "
                          f"budget is {2e6 / TARGET_PER_S:.0f} µs of one core per patient"))


if __name__ == "__main__":
    main()
