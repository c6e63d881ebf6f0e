"""Synthetic (not real) patient data shared by the benchmarks and the golden-output test: seeded generators
of visits and of whole patient-record@1 documents."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from myositis_cds.domain.vocabulary import ALL_FINDINGS, INVESTIGATION_KINDS, MSA_TARGETS

__all__ = ["TODAY", "ULN", "generate_patient", "visit_labs", "visit_measures"]

TODAY = dt.date(2026, 11, 21)
ULN = {"CK": 200.0, "aldolase": 7.6, "AST": 40.0, "ALT": 41.0, "LDH": 250.0}
"""Typical laboratory upper limits of normal, U/L (illustrative values for generated data)."""


def visit_measures(rng: random.Random, date: dt.date) -> dict[str, Any]:
    """The core set measures of one generated visit, each within its valid range."""
    return {
        "date": date.isoformat(),
        "physician_global": round(rng.uniform(0, 10), 1),
        "patient_global": round(rng.uniform(0, 10), 1),
        "extramuscular_global": round(rng.uniform(0, 10), 1),
        "mmt8": rng.randint(40, 80), "mmt8_max": 80,
        "haq": rng.randrange(0, 25) * 0.125,
        "cdasi_activity": rng.randint(0, 40),
    }


def visit_labs(rng: random.Random, date: dt.date, *, spread_days: int = 1) -> list[dict[str, Any]]:
    """2-5 muscle enzymes around a visit date (0.3-30 × ULN), within ``spread_days`` after it."""
    return [
        {"test": test, "value": round(ULN[test] * rng.uniform(0.3, 30), 1), "unit": "U/L",
         "uln": ULN[test],
         "date": min(TODAY, date + dt.timedelta(days=rng.randrange(spread_days))).isoformat()}
        for test in rng.sample(list(ULN), rng.randint(2, 5))
    ]


_DRUGS = ["prednisone", "methotrexate", "azathioprine", "mycophenolate_mofetil", "ivig", "rituximab"]


def _day(rng: random.Random, start: dt.date, span_days: int) -> dt.date:
    return min(TODAY, start + dt.timedelta(days=rng.randrange(max(span_days, 1))))


def generate_patient(rng: random.Random, index: int) -> dict[str, Any]:
    """One synthetic patient-record@1 document (not a real patient)."""
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 70))
    diagnosed = _day(rng, max(birth + dt.timedelta(days=365 * 5), dt.date(2018, 1, 1)), 2500)
    visits = []
    labs = []
    for v in range(rng.randint(2, 4)):
        date = min(TODAY, diagnosed + dt.timedelta(days=90 * v + rng.randrange(14)))
        visits.append(visit_measures(rng, date))
        labs += visit_labs(rng, date)
    panel = ["Mi-2", *rng.sample(MSA_TARGETS[1:], rng.randint(2, len(MSA_TARGETS) - 1))]
    antibodies = [{"target": t, "result": "positive" if t == "Mi-2" or rng.random() < 0.05
                   else "negative", "date": diagnosed.isoformat()} for t in panel]
    findings = [{"code": c, "present": rng.random() < 0.5, "date": diagnosed.isoformat()}
                for c in rng.sample(ALL_FINDINGS, rng.randint(4, 10))]
    treatments = []
    for drug in rng.sample(_DRUGS, rng.randint(1, 3)):
        start = _day(rng, diagnosed, 60)
        stop = None if rng.random() < 0.7 else _day(rng, start, 400).isoformat()
        treatments.append({"drug": drug, "start": start.isoformat(), "stop": stop})
    investigations = [{"kind": k, "date": _day(rng, diagnosed, 120).isoformat(),
                       "abnormal": rng.random() < 0.2}
                      for k in rng.sample(INVESTIGATION_KINDS, rng.randint(2, 6))]
    return {
        "format": "myositis-cds/patient-record@1", "id": f"bench-{index:07d}",
        "sex": rng.choice(["female", "male"]), "birth_date": birth.isoformat(),
        "diagnosis": {"name": "dermatomyositis", "date": diagnosed.isoformat()},
        "body_measurements": [{"date": diagnosed.isoformat(),
                               "weight_kg": round(rng.uniform(45, 110), 1),
                               "height_cm": round(rng.uniform(150, 195), 1)}],
        "antibodies": antibodies, "findings": findings, "labs": labs, "assessments": visits,
        "treatments": treatments, "investigations": investigations,
    }
