"""``recheck_on``: a cached worklist result stays right until its recheck date (property test)."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import assess
from myositis_cds.services.recheck import content_hash, durations_of, params_fingerprint, recheck_on
from myositis_cds.services.worklist import worklist_items
from tests.conftest import TODAY
from tests.worklist_population import generate_record


def _rows(document: dict[str, object], as_of: dt.date) -> list[object]:
    record = parse_record(document, today=TODAY)
    return [r.to_dict() for r in worklist_items("p", assess(record, as_of, default_params()))]


def test_durations_are_the_pack_time_thresholds_and_settings() -> None:
    assert durations_of(default_params()) == (
        (0, "year"), (1, "day"), (1, "month"), (1, "year"), (2, "day"), (2, "week"), (2, "year"),
        (3, "day"), (3, "month"), (3, "year"), (4, "week"), (5, "day"), (6, "month"), (6, "week"),
        (7, "day"), (12, "month"), (12, "year"), (14, "day"), (15, "day"), (16, "year"),
        (18, "year"), (28, "day"), (30, "day"), (35, "day"), (40, "year"), (42, "day"),
        (55, "year"), (84, "day"), (90, "day"), (180, "day"))


def test_recheck_on_is_the_next_candidate_date() -> None:
    # A prednisone start 2026-11-01 alone: day 28 after it (and its neighbour days) is a candidate.
    document = {"format": "myositis-cds/patient-record@1", "id": "p",
                "diagnosis": {"name": "dermatomyositis", "date": "2026-11-01"},
                "treatments": [{"drug": "prednisone", "start": "2026-11-01"}]}
    params = default_params()
    record = parse_record(document, today=TODAY)
    as_of = dt.date(2026, 11, 10)
    result = recheck_on(record, assess(record, as_of, params), as_of, durations_of(params))
    assert result == dt.date(2026, 11, 14)  # 2026-11-01 + 14 days - 1 day (lab window setting)


def test_content_hash_changes_with_document_and_settings() -> None:
    fingerprint = params_fingerprint(default_params())
    a = content_hash({"id": "p", "sex": "female"}, fingerprint)
    assert a == content_hash({"sex": "female", "id": "p"}, fingerprint)  # key order is irrelevant
    assert a != content_hash({"id": "p", "sex": "male"}, fingerprint)
    assert a != content_hash({"id": "p", "sex": "female"}, fingerprint + "x")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**9), first=st.integers(0, 1000),
       fraction=st.floats(0, 1))
def test_rows_do_not_change_before_recheck_on(seed: int, first: int, fraction: float) -> None:
    document = generate_record(random.Random(seed), 0, TODAY)
    params = default_params()
    record = parse_record(document, today=TODAY)
    as_of = TODAY - dt.timedelta(days=first)
    recheck = recheck_on(record, assess(record, as_of, params), as_of, durations_of(params))
    last = TODAY if recheck is None else min(TODAY, recheck - dt.timedelta(days=1))
    assert recheck is None or recheck > as_of
    later = as_of + dt.timedelta(days=int(fraction * (last - as_of).days))
    assert _rows(document, later) == _rows(document, as_of)
    if recheck is not None and recheck <= TODAY:
        # Every day up to the day before recheck_on gives the same rows.
        assert _rows(document, last) == _rows(document, as_of)
