"""PatientContext: the date-bounded view of a record that every rule reads."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from myositis_cds.domain.record import LabResult, PatientRecord
from myositis_cds.engine.context import PatientContext

START = dt.date(2026, 1, 1)


def naive_lab_near(labs: list[LabResult], test: str, day: dt.date, window: int) -> LabResult | None:
    """§10 as written: the closest result within the window; ties go to the earlier, then the first."""
    candidates = [lab for lab in labs if lab.test == test and abs((lab.date - day).days) <= window]
    if not candidates:
        return None
    return min(candidates, key=lambda lab: (abs((lab.date - day).days), lab.date, lab.index))


@given(
    offsets=st.lists(st.tuples(st.integers(0, 60), st.sampled_from(["CK", "LDH"])), max_size=12),
    visit=st.integers(0, 60),
    window=st.integers(0, 20),
)
def test_lab_near_matches_the_definition(offsets: list[tuple[int, str]], visit: int,
                                         window: int) -> None:
    labs = tuple(LabResult(index=i, test=test, value=float(i), unit="U/L",
                           date=START + dt.timedelta(days=offset))
                 for i, (offset, test) in enumerate(offsets))
    ctx = PatientContext(PatientRecord(id="p", labs=labs), START + dt.timedelta(days=60))
    day = START + dt.timedelta(days=visit)
    assert ctx.lab_near("CK", day, window) == naive_lab_near(list(labs), "CK", day, window)


def test_labs_after_the_as_of_date_are_not_seen() -> None:
    labs = (LabResult(index=0, test="CK", value=1.0, unit="U/L", date=START),
            LabResult(index=1, test="CK", value=2.0, unit="U/L", date=START + dt.timedelta(days=2)))
    ctx = PatientContext(PatientRecord(id="p", labs=labs), START + dt.timedelta(days=1))
    assert [lab.index for lab in ctx.labs_of("CK")] == [0]
    assert ctx.lab_near("CK", START + dt.timedelta(days=2), 14) == labs[0]
