"""Who the patient is, in the first line of the act-now summary: age, sex, diagnosis, the positive
antibodies and the latest weight on the assessment date, each in words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from myositis_cds.domain.dates import completed_years
from myositis_cds.domain.record import PatientRecord
from myositis_cds.domain.vocabulary import MI2_TARGETS, MSA_TARGETS
from myositis_cds.presentation.labels import EMPTY, clean, fmt_date, fmt_number, label

__all__ = ["Who", "who_is"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Who:
    name: str
    facts: tuple[str, ...]
    """Age, sex, diagnosis, antibodies, weight: each already in words ("52 years", …)."""



def _age(record: PatientRecord, as_of: dt.date) -> str | None:
    if record.birth_date is None:
        return None
    return f"{completed_years(record.birth_date, as_of)} years"


def _antibodies(record: PatientRecord, as_of: dt.date) -> str:
    latest: dict[str, tuple[dt.date, str]] = {}
    for result in record.antibodies:
        if result.date <= as_of:
            target = "Mi-2" if result.target in MI2_TARGETS else result.target
            if target not in latest or result.date >= latest[target][0]:
                latest[target] = (result.date, result.result)
    positive = [t for t in (*MSA_TARGETS, *sorted(latest)) if latest.get(t, (None, ""))[1] == "positive"]
    shown = list(dict.fromkeys(positive))
    if not latest:
        return "no antibody result"
    if not shown:
        return "no antibody positive"
    return "anti-" + ", anti-".join(shown) + " positive"


def _weight(record: PatientRecord, as_of: dt.date) -> str | None:
    measured = [m for m in record.body_measurements if m.weight_kg is not None and m.date <= as_of]
    if not measured:
        return None
    last = max(measured, key=lambda m: m.date)
    return f"{fmt_number(last.weight_kg)} kg ({fmt_date(last.date)})"


def who_is(record: PatientRecord, name: str | None, as_of: dt.date) -> Who:
    """Who the patient is on ``as_of``: the name (or the record's id) and the facts in words."""
    diagnosis = record.diagnosis
    facts = [
        _age(record, as_of) or "age unknown",
        label("sex", record.sex or "unknown"),
        EMPTY if diagnosis is None else (
            label("diagnosis", diagnosis.name)
            + (f", diagnosed {fmt_date(diagnosis.date)}" if diagnosis.date else "")),
        _antibodies(record, as_of),
        _weight(record, as_of) or "weight not recorded",
    ]
    return Who(name=clean(name or record.id), facts=tuple(facts))
