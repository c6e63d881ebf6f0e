"""Generated (not real) patient-record@1 documents for the worklist tests.

Dates cluster within the last three years before the pinned 'today', so that screening occasions,
28-day and 3-month windows and 40th birthdays fall on both sides of the as-of dates under test.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

from myositis_cds.domain.vocabulary import ALL_FINDINGS, INVESTIGATION_KINDS, MSA_TARGETS

__all__ = ["bulk_resources", "generate_record", "write_folder", "write_ndjson"]

_DRUGS = ("prednisone", "methotrexate", "azathioprine", "mycophenolate_mofetil", "ivig", "rituximab")
_ULN = {"CK": 200.0, "aldolase": 7.6, "AST": 40.0, "ALT": 41.0, "LDH": 250.0}


def _day(rng: random.Random, start: dt.date, span: int, today: dt.date) -> dt.date:
    return min(today, start + dt.timedelta(days=rng.randrange(max(span, 1))))


def generate_record(rng: random.Random, index: int, today: dt.date) -> dict[str, Any]:
    """One synthetic record; some fields are left out at random (missing data is normal)."""
    diagnosed = today - dt.timedelta(days=rng.randrange(5, 1100))
    birth = diagnosed - dt.timedelta(days=rng.randrange(365 * 10, 365 * 75))
    visits, labs = [], []
    for v in range(rng.randint(0, 4)):
        date = _day(rng, diagnosed + dt.timedelta(days=91 * v), 20, today)
        visits.append({"date": date.isoformat(), "physician_global": round(rng.uniform(0, 10), 1),
                       "patient_global": round(rng.uniform(0, 10), 1),
                       "extramuscular_global": round(rng.uniform(0, 10), 1),
                       "mmt8": rng.randint(40, 80), "mmt8_max": 80,
                       "haq": rng.randrange(0, 25) * 0.125, "cdasi_activity": rng.randint(0, 40)})
        labs += [{"test": t, "value": round(_ULN[t] * rng.uniform(0.3, 20), 1), "unit": "U/L",
                  "uln": _ULN[t], "date": date.isoformat()}
                 for t in rng.sample(list(_ULN), rng.randint(1, 5))]
    panel = ["Mi-2", *rng.sample(MSA_TARGETS[1:], rng.randint(0, len(MSA_TARGETS) - 1))]
    antibodies = [{"target": t, "result": "positive" if t == "Mi-2" or rng.random() < 0.05
                   else "negative", "date": diagnosed.isoformat()} for t in panel]
    findings = [{"code": c, "present": rng.random() < 0.5,
                 "date": _day(rng, diagnosed, 200, today).isoformat()}
                for c in rng.sample(ALL_FINDINGS, rng.randint(0, 10))]
    treatments = []
    for drug in rng.sample(_DRUGS, rng.randint(0, 3)):
        start = _day(rng, diagnosed, 90, today)
        stop = None if rng.random() < 0.7 else _day(rng, start, 200, today).isoformat()
        treatments.append({"drug": drug, "dose": 20 if drug == "prednisone" else 1,
                           "unit": "mg", "frequency": "daily", "route": "oral",
                           "start": start.isoformat(), "stop": stop})
    investigations = [{"kind": k, "date": _day(rng, diagnosed - dt.timedelta(days=60), 500,
                                               today).isoformat(),
                       "result": "normal", "abnormal": rng.random() < 0.2}
                      for k in rng.sample(INVESTIGATION_KINDS, rng.randint(0, 6))]
    record: dict[str, Any] = {
        "format": "myositis-cds/patient-record@1", "id": f"gen-{index:05d}",
        "sex": rng.choice(["female", "male"]),
        "diagnosis": {"name": rng.choice(["dermatomyositis", "dermatomyositis",
                                          "juvenile_dermatomyositis", "polymyositis"]),
                      "date": diagnosed.isoformat()},
        "antibodies": antibodies, "findings": findings, "labs": labs, "assessments": visits,
        "treatments": treatments, "investigations": investigations,
    }
    if rng.random() < 0.9:
        record["birth_date"] = birth.isoformat()
    if rng.random() < 0.8:
        record["body_measurements"] = [{"date": diagnosed.isoformat(),
                                        "weight_kg": round(rng.uniform(45, 110), 1),
                                        "height_cm": round(rng.uniform(150, 195), 1)}]
    return record


def write_folder(folder: Path, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


def bulk_resources(record: dict[str, Any], today: dt.date) -> list[dict[str, Any]]:
    """The record as the resources of a FHIR Bulk Data export: the exporter's Bundle entries with
    ids, and references to the patient as ``Patient/<id>`` (an export has no Bundle fullUrls)."""
    from myositis_cds.adapters.fhir.exporting.record import record_to_bundle  # noqa: PLC0415

    bundle = record_to_bundle(record, today=today)
    patient_url = bundle["entry"][0]["fullUrl"]
    text = json.dumps([e["resource"] | {"id": e["resource"].get("id") or e["fullUrl"][9:]}
                       for e in bundle["entry"]])
    resources: list[dict[str, Any]] = json.loads(
        text.replace(f'"{patient_url}"', f'"Patient/{record["id"]}"'))
    return resources


def write_ndjson(folder: Path, records: list[dict[str, Any]], today: dt.date) -> Path:
    """An export folder: one ``<ResourceType>.ndjson`` file per type, lines in reverse record
    order (engines must not depend on line order)."""
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    for record in reversed(records):
        for resource in bulk_resources(record, today):
            by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for resource_type, lines in by_type.items():
        (folder / f"{resource_type}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
