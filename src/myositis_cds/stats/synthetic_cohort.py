"""A synthetic cohort in PF2019's proportions, as ``patient-record@1`` documents (for demos and tests).

Every patient's id starts with :data:`SYNTHETIC_PREFIX`, so every output made from the cohort says
"synthetic". Only numbers stated in PF2019's abstract (clinical-reference §8, seed
``000_e01f0566207c8441.txt``) set group sizes and feature frequencies; a frequency that is not
published is **not generated** (the finding is absent from those records, so it is missing in any
table, never a made-up value):

- Group sizes 58 : 143 : 162 : 170 (anti-Mi-2-positive DM, anti-Mi-2-negative DM, antisynthetase
  syndrome, IMNM), scaled to ``n`` by largest remainder.
- Anti-Mi-2-positive DM: weakness at onset 60 %, during follow-up 98 %; calcinosis 5/58, ILD
  3/58, fever 4/58. Anti-Mi-2-negative DM: weakness during follow-up 85 %; calcinosis 40/143, ILD
  23/143, fever 30/143 (weakness at onset not published: not generated). Antisynthetase syndrome
  and IMNM: no feature frequency published: no finding generated.
- Long titer course: 10 of 58 anti-Mi-2-positive patients with titers over ≥ 4 years, declining in
  all, normalising in 3, of whom 2 stopped treatment and did not restart it.

Each frequency is applied as an exact count (``round(n × published share)`` patients, chosen at
random), so a 533-patient synthetic cohort reproduces the published counts exactly.

CK, MMT-8 and titer values are **illustrative** (PF2019 publishes no magnitudes): every group
follows one latent disease activity that decays after diagnosis, with the constants below, the
same for all groups. The synthetic figure therefore shows no group difference, and the synthetic
titer model shows the machinery working, not PF2019's effect size.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Sequence
from typing import Any, Final

from myositis_cds.stats.cohort_features import (
    COHORT_GROUPS,
    GROUP_AS,
    GROUP_IMNM,
    GROUP_MI2_NEGATIVE,
    GROUP_MI2_POSITIVE,
)

__all__ = [
    "PF2019_GROUP_SIZES",
    "SYNTHETIC_PREFIX",
    "is_synthetic",
    "scaled_sizes",
    "synthesize",
]

SYNTHETIC_PREFIX: Final = "synthetic-"
PF2019_GROUP_SIZES: Final = {GROUP_MI2_POSITIVE: 58, GROUP_MI2_NEGATIVE: 143, GROUP_AS: 162, GROUP_IMNM: 170}
# (feature, share of the group) — PF2019 abstract; "onset" ones are recorded at the first visit.
_PUBLISHED: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    GROUP_MI2_POSITIVE: (("calcinosis", 5 / 58), ("ild", 3 / 58), ("fever", 4 / 58)),
    GROUP_MI2_NEGATIVE: (("calcinosis", 40 / 143), ("ild", 23 / 143), ("fever", 30 / 143)),
}
_WEAKNESS_ONSET: Final = {GROUP_MI2_POSITIVE: 0.60}
_WEAKNESS_EVER: Final = {GROUP_MI2_POSITIVE: 0.98, GROUP_MI2_NEGATIVE: 0.85}
_LONG_COURSE: Final = 10 / 58
_NORMALISED: Final = 3 / 10
_STOPPED: Final = 2 / 3
_DIAGNOSES: Final = {GROUP_MI2_POSITIVE: "dermatomyositis", GROUP_MI2_NEGATIVE: "dermatomyositis",
                     GROUP_AS: "antisynthetase_syndrome", GROUP_IMNM: "imnm"}
# Illustrative constants (not clinical numbers, not from PF2019): see the module docstring.
ILLUSTRATIVE_CK_ULN: Final = 200.0
ILLUSTRATIVE_TITER_CUTOFF: Final = 20.0
_VISIT_DAYS: Final = 182
_LATER_FINDING_DAYS: Final = 90


def scaled_sizes(n: int) -> dict[str, int]:
    """PF2019's group sizes scaled to ``n`` patients by largest remainder (ties: PF2019 order)."""
    if n < len(COHORT_GROUPS):
        msg = f"--n: got {n}; expected at least {len(COHORT_GROUPS)} (one patient per group)"
        raise ValueError(msg)
    total = sum(PF2019_GROUP_SIZES.values())
    exact = {g: n * PF2019_GROUP_SIZES[g] / total for g in COHORT_GROUPS}
    sizes = {g: math.floor(v) for g, v in exact.items()}
    by_remainder = sorted(COHORT_GROUPS, key=lambda g: (-(exact[g] - sizes[g]), COHORT_GROUPS.index(g)))
    for g in by_remainder[: n - sum(sizes.values())]:
        sizes[g] += 1
    return sizes


def is_synthetic(identifiers: Iterable[str | None]) -> bool:
    """Every identifier is present and starts with :data:`SYNTHETIC_PREFIX` (and there is one)."""
    seen = False
    for identifier in identifiers:
        if identifier is None or not identifier.startswith(SYNTHETIC_PREFIX):
            return False
        seen = True
    return seen


def _count(n: int, share: float) -> int:
    return math.floor(n * share + 0.5)


def _chosen(rng: random.Random, members: Sequence[int], k: int) -> set[int]:
    return set(rng.sample(list(members), k))


def _record(rng: random.Random, key: str, group: str, today: dt.date, *, long_course: bool,
            normalises: bool, stops: bool) -> dict[str, Any]:
    years = rng.uniform(4.6, 6.0) if long_course else rng.uniform(1.0, 3.5)
    diagnosis = today - dt.timedelta(days=int(years * 365.25) + rng.randint(30, 365))
    a0, tau = rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.5)
    record: dict[str, Any] = {
        "format": "myositis-cds/patient-record@1", "id": key,
        "diagnosis": {"name": _DIAGNOSES[group], "date": diagnosis.isoformat()},
        "antibodies": [], "findings": [], "labs": [], "assessments": [],
        "treatments": [{"drug": "prednisone", "dose": 40, "unit": "mg", "frequency": "daily",
                        "route": "oral", "start": (diagnosis + dt.timedelta(days=1)).isoformat(),
                        "stop": None}],
    }
    if group == GROUP_MI2_NEGATIVE:
        record["antibodies"].append({"target": "Mi-2", "result": "negative", "date": diagnosis.isoformat()})
    visits = [diagnosis + dt.timedelta(days=k * _VISIT_DAYS + (rng.randint(-10, 10) if k else 0))
              for k in range(int(years * 365.25) // _VISIT_DAYS + 1)]
    visits = [v for v in visits if v <= today]
    floor = 0.3 if normalises else 1.3  # titer at zero activity, in multiples of the cut-off
    for day in visits:
        t = (day - diagnosis).days / 365.25
        activity = a0 * math.exp(-t / tau)
        ck = ILLUSTRATIVE_CK_ULN * (1 + 20 * activity) * math.exp(rng.gauss(0, 0.25))
        mmt8 = max(0, min(80, round(80 - 30 * activity + rng.gauss(0, 2))))
        record["labs"].append({"test": "CK", "value": round(ck), "unit": "U/L",
                               "uln": ILLUSTRATIVE_CK_ULN, "date": day.isoformat()})
        record["assessments"].append({"date": day.isoformat(), "mmt8": mmt8, "mmt8_max": 80})
        if group == GROUP_MI2_POSITIVE:
            titer = ILLUSTRATIVE_TITER_CUTOFF * (floor + 6 * activity) * math.exp(rng.gauss(0, 0.1))
            record["antibodies"].append({
                "target": "Mi-2", "date": day.isoformat(), "titer": round(titer, 1), "unit": "U/mL",
                "cutoff": ILLUSTRATIVE_TITER_CUTOFF, "method": "ELISA",
                "result": "positive" if titer >= ILLUSTRATIVE_TITER_CUTOFF else "negative"})
    if stops:
        stop = visits[-2] if len(visits) > 1 else visits[-1]
        record["treatments"][0]["stop"] = stop.isoformat()
    return record


def _finding(record: dict[str, Any], code: str, present: bool, day: dt.date) -> None:
    record["findings"].append({"code": code, "present": present, "date": day.isoformat()})


def synthesize(n: int, *, seed: int, today: dt.date) -> list[dict[str, Any]]:
    """``n`` synthetic ``patient-record@1`` documents (module docstring); deterministic per seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not a secret
    sizes = scaled_sizes(n)
    width = len(str(n))
    records: list[dict[str, Any]] = []
    start = 0
    for group in COHORT_GROUPS:
        members = list(range(start, start + sizes[group]))
        start += sizes[group]
        size = len(members)
        long = _chosen(rng, members, _count(size, _LONG_COURSE)) if group == GROUP_MI2_POSITIVE else set()
        normalised = _chosen(rng, sorted(long), _count(len(long), _NORMALISED))
        stopped = _chosen(rng, sorted(normalised), _count(len(normalised), _STOPPED))
        group_records = {i: _record(rng, f"{SYNTHETIC_PREFIX}{i + 1:0{width}d}", group, today,
                                    long_course=i in long, normalises=i in normalised,
                                    stops=i in stopped)
                         for i in members}

        first_day = {i: dt.date.fromisoformat(r["diagnosis"]["date"]) for i, r in group_records.items()}
        later_day = {i: min(d + dt.timedelta(days=_LATER_FINDING_DAYS), today) for i, d in first_day.items()}
        for code, share in _PUBLISHED.get(group, ()):
            present = _chosen(rng, members, _count(size, share))
            for i in members:
                _finding(group_records[i], code, i in present, later_day[i])
        if group in _WEAKNESS_EVER:
            ever = _count(size, _WEAKNESS_EVER[group])
            onset_share = _WEAKNESS_ONSET.get(group)
            order = rng.sample(members, size)
            if onset_share is not None:
                onset = set(order[: _count(size, onset_share)])
                for i in members:
                    _finding(group_records[i], "proximal_weakness", i in onset, first_day[i])
            for rank, i in enumerate(order):
                if onset_share is None or i not in onset:
                    _finding(group_records[i], "proximal_weakness", rank < ever, later_day[i])
        records += [group_records[i] for i in members]
    return records
