"""Synthetic (not real) patient data shared by the benchmarks: one seeded generator of visits."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

__all__ = ["TODAY", "ULN", "visit_labs", "visit_measures"]

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
