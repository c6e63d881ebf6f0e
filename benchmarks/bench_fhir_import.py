"""Benchmark: FHIR Bulk Data import throughput (NDJSON export → patient-record@1 documents).

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_fhir_import.py [--quick]``). One core,
one process. A synthetic export (not real patients; seeded) of 100,000 resources (``--quick``:
5,000) is written to a temporary folder, one file per resource type with the large types split in
two, in the shape of a real export (``meta``, identifiers, categories, encounter references, unmapped
vital signs, encounters and claims). Timed:

a. map: ``iter_bulk_patients`` (index pass + patient pass: two decodes per line) — resources/s;
b. map + validate: (a) then ``validate_import`` (``parse_record``) per patient — resources/s;
c. for comparison, the ``fhir.resources`` R4B models (``model_validate``) on a sample — resources/s.

Rates are per CPU second of this process (``time.process_time``), so that a busy machine does not
lower them; the wall-clock rate of (b) is printed too. The issue's target is ≥ 20,000 resources/s
per core for the import (b).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from myositis_cds.adapters.fhir import UnmappedReport, iter_bulk_patients, validate_import

TARGET_RESOURCES_PER_S = 20_000
TODAY = dt.date(2026, 11, 21)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
LABS = {"2157-6": (40, 12_000, 200), "1742-6": (8, 400, 45), "1920-8": (8, 500, 40),
        "2532-0": (100, 1500, 250), "1761-6": (2, 40, 7.6)}
VITALS = {"8867-4": ("Heart rate", "/min"), "9279-1": ("Respiratory rate", "/min"),
          "8310-5": ("Body temperature", "Cel"), "39156-5": ("Body mass index", "kg/m2")}


def _meta(rng: random.Random) -> dict[str, Any]:
    return {"versionId": "1", "lastUpdated": f"2026-11-{rng.randint(1, 20):02d}T10:00:00Z"}


def _observation(rng: random.Random, index: int, patient: str, *, code: str, display: str,
                 value: float, unit: str, day: dt.date, high: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation", "id": f"obs-{index}", "meta": _meta(rng), "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-"
                                  "category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{patient}"},
        "encounter": {"reference": f"Encounter/enc-{index // 10}"},
        "effectiveDateTime": f"{day.isoformat()}T09:{rng.randint(0, 59):02d}:00+01:00",
        "issued": f"{day.isoformat()}T15:00:00+01:00",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}
    if high is not None:
        out["referenceRange"] = [{"high": {"value": high, "unit": unit, "system": UCUM, "code": unit}}]
    return out


def patient_resources(rng: random.Random, number: int, per_patient: int) -> list[dict[str, Any]]:
    """About ``per_patient`` resources of one synthetic patient."""
    key = f"pat-{number}"
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(25_000))
    out: list[dict[str, Any]] = [{
        "resourceType": "Patient", "id": key, "meta": _meta(rng),
        "identifier": [{"system": "urn:oid:1.2.3.4", "value": f"MRN{number:07d}"}],
        "gender": rng.choice(["female", "male"]), "birthDate": birth.isoformat()}]
    out.append({"resourceType": "Condition", "id": f"{key}-dx", "meta": _meta(rng),
                "code": {"coding": [{"system": SNOMED, "code": "396230008"}]},
                "subject": {"reference": f"Patient/{key}"}, "onsetDateTime": "2025-11-01",
                "recordedDate": "2026-01-12"})
    out.append({"resourceType": "MedicationRequest", "id": f"{key}-rx", "status": "active",
                "intent": "order", "subject": {"reference": f"Patient/{key}"},
                "medicationCodeableConcept": {"coding": [
                    {"system": "urn:myositis-cds:codes:drug", "code": "prednisone"}]},
                "authoredOn": "2026-01-13", "dosageInstruction": [{
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 60, "unit": "mg"}}]}]})
    day = dt.date(2026, 1, 12)
    index = number * per_patient
    while len(out) < per_patient:
        index += 1
        day += dt.timedelta(days=rng.randint(1, 6))
        kind = rng.random()
        if kind < 0.45:
            code = rng.choice(list(LABS))
            low, high, uln = LABS[code]
            out.append(_observation(rng, index, key, code=code, display="enzyme", unit="U/L",
                                    value=round(rng.uniform(low, high), 1), day=day, high=uln))
        elif kind < 0.75:
            code = rng.choice(list(VITALS))
            display, unit = VITALS[code]
            out.append(_observation(rng, index, key, code=code, display=display, unit=unit,
                                    value=round(rng.uniform(10, 90), 1), day=day, high=None))
        elif kind < 0.85:
            out.append(_observation(rng, index, key, code="29463-7", display="Body weight",
                                    unit="kg", value=round(rng.uniform(45, 110), 1), day=day,
                                    high=None))
        else:
            out.append({"resourceType": "Encounter", "id": f"enc-{index}", "meta": _meta(rng),
                        "status": "finished", "class": {"code": "AMB"},
                        "subject": {"reference": f"Patient/{key}"},
                        "period": {"start": day.isoformat(), "end": day.isoformat()}})
    return out


def write_export(folder: Path, resources: int, per_patient: int = 50) -> int:
    """The synthetic export: one file per type, the big types split in two; returns bytes written."""
    rng = random.Random(20261121)
    by_type: dict[str, list[bytes]] = {}
    count = 0
    number = 0
    while count < resources:
        batch = patient_resources(rng, number, min(per_patient, resources - count))
        number += 1
        count += len(batch)
        for resource in batch:
            by_type.setdefault(resource["resourceType"], []).append(orjson.dumps(resource))
    size = 0
    for resource_type, lines in by_type.items():
        half = len(lines) // 2 if len(lines) > 10_000 else len(lines)
        for part, chunk in enumerate((lines[:half], lines[half:]), start=1):
            if chunk:
                data = b"\n".join(chunk) + b"\n"
                (folder / f"{resource_type}.{part:03d}.ndjson").write_bytes(data)
                size += len(data)
    return size


def run_import(folder: Path, *, validate: bool) -> tuple[float, float, int, int]:
    """CPU seconds, wall seconds, patients, unmapped total."""
    gc.collect()
    report = UnmappedReport()
    patients = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for item in iter_bulk_patients(folder, unassigned=report):
        patients += 1
        if validate:
            result = validate_import(item, today=TODAY)
            report.merge(result.unmapped)
        else:
            report.merge(item.unmapped)
    return time.process_time() - cpu, time.perf_counter() - wall, patients, report.total


def r4b_models(folder: Path, sample: int) -> float:
    """Resources/s of the fhir.resources R4B models (model_validate) on the first lines."""
    from fhir.resources.R4B import get_fhir_model_class  # noqa: PLC0415 - only here

    resources: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.ndjson")):
        with path.open("rb") as stream:
            resources += [orjson.loads(line) for _, line in zip(range(sample // 4), stream, strict=False)]
    start = time.process_time()
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return len(resources) / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 resources, one repeat")
    args = parser.parse_args()
    resources = 5_000 if args.quick else 100_000
    repeats = 1 if args.quick else 3
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"machine: {machine}; {platform.platform()}; one core, one process")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        size = write_export(folder, resources)
        print(f"export: {resources:,} resources, {size / 1e6:.1f} MB in "
              f"{len(list(folder.glob('*.ndjson')))} files")
        mapped = min(run_import(folder, validate=False) for _ in range(repeats))
        full = min(run_import(folder, validate=True) for _ in range(repeats))
        models = r4b_models(folder, 400 if args.quick else 4_000)
    rows = {
        "a. map (index + patient pass)": resources / mapped[0],
        "b. map + validate (import)": resources / full[0],
        "c. fhir.resources R4B models": models,
    }
    for name, rate in rows.items():
        print(f"{name:32} {rate:>10,.0f} resources/s")
    print(f"(CPU time of this process; wall clock for (b): {resources / full[1]:,.0f} resources/s)")
    print(f"patients: {full[2]:,}; unmapped items: {full[3]:,}")
    verdict = "meets" if rows["b. map + validate (import)"] >= TARGET_RESOURCES_PER_S else "misses"
    print(f"\nthe import {verdict} the target of {TARGET_RESOURCES_PER_S:,} resources/s per core")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_fhir_import.json").write_text(json.dumps(
        {"machine": machine, "quick": args.quick, "resources": resources, "bytes": size,
         "patients": full[2], "unmapped": full[3], "resources_per_s_map": rows[
             "a. map (index + patient pass)"], "resources_per_s_import": rows[
             "b. map + validate (import)"], "wall_resources_per_s_import": resources / full[1],
         "resources_per_s_r4b_models": models}, indent=2) + "\n")


if __name__ == "__main__":
    main()
