"""The engine's timeline (clinical-reference §6, §10): TIS per visit against the baseline, treatments.

The per-visit TIS of the small record below is worked out by hand from the §6.1 table, so these
tests check the timeline against the reference, not against the code that computes it.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import assess, build_timeline, plain, to_dict
from myositis_cds.engine.timeline import Timeline, TimelineVisit, drug_role, timeline_to_dict
from myositis_cds.scores.tis import categorise
from tests.conftest import TODAY, load_example

D = dt.date.fromisoformat

# Baseline = the visit on or closest before first-line treatment (prednisone and methotrexate from
# 2026-01-06): the 2026-01-05 visit. The 2025-12-01 visit comes before it. CK is 10× its ULN at
# baseline, aldolase 2×: the TIS follows CK (the labs within 14 days of each visit).
HAND_MADE: dict[str, Any] = {
    "format": "myositis-cds/patient-record@1", "id": "hand-made", "sex": "female",
    "birth_date": "1980-05-01",
    "diagnosis": {"name": "dermatomyositis", "date": "2026-01-05",
                  "symptom_onset_date": "2025-11-01"},
    "antibodies": [
        {"target": "Mi-2", "result": "positive", "date": "2026-01-05", "titer": 80.0,
         "cutoff": 20.0, "unit": "U/mL"},
        {"target": "Mi-2", "result": "positive", "date": "2026-07-06", "titer": 12.0,
         "cutoff": 20.0, "unit": "U/mL"},
    ],
    "labs": [
        {"test": "CK", "value": 2000, "unit": "U/L", "uln": 200, "date": "2026-01-05"},
        {"test": "aldolase", "value": 15.2, "unit": "U/L", "uln": 7.6, "date": "2026-01-05"},
        {"test": "CK", "value": 1500, "unit": "U/L", "uln": 200, "date": "2026-04-07"},
        {"test": "CK", "value": 400, "unit": "U/L", "uln": 200, "date": "2026-07-06"},
    ],
    "assessments": [
        {"date": "2025-12-01", "physician_global": 5.0, "mmt8": 62},
        {"date": "2026-01-05", "physician_global": 6.0, "patient_global": 5.0,
         "extramuscular_global": 4.0, "mmt8": 60, "mmt8_max": 80, "haq": 1.5,
         "cdasi_activity": 20},
        {"date": "2026-04-06", "physician_global": 4.5, "patient_global": 4.6,
         "extramuscular_global": 4.2, "mmt8": 68, "mmt8_max": 80, "haq": 1.2,
         "cdasi_activity": 12},
        # No HAQ at this visit: the TIS is incomplete.
        {"date": "2026-07-06", "physician_global": 2.0, "patient_global": 3.0,
         "extramuscular_global": 0.0, "mmt8": 76, "mmt8_max": 80, "cdasi_activity": 4},
    ],
    "treatments": [
        {"drug": "prednisone", "start": "2026-01-06", "stop": "2026-05-31"},
        {"drug": "methotrexate", "start": "2026-01-06", "stop": None},
        {"drug": "ivig", "start": "2026-06-15", "stop": "2026-06-19"},
    ],
}


def timeline_of(data: dict[str, Any], as_of: dt.date = TODAY) -> Timeline:
    return build_timeline(parse_record(data, today=TODAY), as_of, default_params())


def visit_on(timeline: Timeline, day: str) -> TimelineVisit:
    return next(v for v in timeline.visits if v.date == D(day))


def juvenile_record() -> dict[str, Any]:
    data = copy.deepcopy(HAND_MADE)
    data["id"] = "hand-made-juvenile"
    data["birth_date"] = "2012-05-01"  # 13 years old at symptom onset 2025-11-01
    return data


# -- agreement with the assessment ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["non-severe", "drug-free-remission"])
def test_latest_visit_tis_equals_the_assessment_tis(name: str) -> None:
    record = parse_record(load_example(name), today=TODAY)
    params = default_params()
    expected = to_dict(assess(record, TODAY, params))["response"]["tis"]
    timeline = build_timeline(record, TODAY, params)
    latest = timeline.visits[-1]
    assert latest.tis is not None
    got = plain(latest.tis)
    assert got == {key: expected[key] for key in got}
    assert got["score"] == expected["score"]
    assert latest.date.isoformat() == expected["followup_date"]
    assert timeline.baseline_date is not None
    assert timeline.baseline_date.isoformat() == expected["baseline_date"]
    assert latest.enzyme == expected["enzyme"]


@pytest.mark.parametrize("name", ["non-severe", "drug-free-remission", "juvenile"])
def test_baseline_visit_has_no_tis_and_every_later_visit_has_one(name: str) -> None:
    timeline = timeline_of(load_example(name))
    baselines = [v for v in timeline.visits if v.is_baseline]
    assert len(baselines) == 1
    assert baselines[0].date == timeline.baseline_date
    assert baselines[0].tis is None
    assert baselines[0].imacs_doi is None
    for visit in timeline.visits:
        assert (visit.tis is not None) == (visit.date > baselines[0].date)
        assert (visit.imacs_doi is not None) == (visit.tis is not None)


# -- the hand-made record --------------------------------------------------------------------------

def test_visits_before_the_baseline_have_no_tis() -> None:
    timeline = timeline_of(HAND_MADE)
    assert timeline.first_line_start == D("2026-01-06")
    assert timeline.baseline_date == D("2026-01-05")
    early = visit_on(timeline, "2025-12-01")
    assert not early.is_baseline
    assert early.tis is None
    assert early.imacs_doi is None
    assert early.enzyme is None
    assert visit_on(timeline, "2026-01-05").is_baseline


def test_tis_of_one_visit_computed_by_hand() -> None:
    """2026-04-06 against the 2026-01-05 baseline, adult, absolute percent change (§6.1).

    | measure          | baseline | follow-up | % change                 | band    | points |
    | physician global | 6.0      | 4.5       | 100·1.5/10 = 15          | >5–15   | 7.5    |
    | patient global   | 5.0      | 4.6       | 100·0.4/10 = 4           | ≤5      | 0      |
    | MMT-8            | 60/80    | 68/80     | 100·8/80 = 10            | >2–10   | 10     |
    | HAQ              | 1.5      | 1.2       | 100·0.3/3 = 10           | >5–15   | 5      |
    | enzyme (CK)      | 2000     | 1500      | 100·500/2000 = 25        | >15–25  | 5      |
    | extramuscular    | 4.0      | 4.2       | 100·(−0.2)/10 = −2       | worse   | 0      |
    Total 7.5 + 0 + 10 + 5 + 5 + 0 = 27.5: adult minimal (≥ 20, < 40). Exactly 15 % and exactly
    10 % sit in the band they close (bands are closed above).
    """
    visit = visit_on(timeline_of(HAND_MADE), "2026-04-06")
    assert visit.tis is not None
    expected = {
        "physician_global": (15.0, 7.5, False),
        "patient_global": (4.0, 0.0, False),
        "mmt": (10.0, 10.0, False),
        "haq": (10.0, 5.0, False),
        "enzyme": (25.0, 5.0, False),
        "extramuscular": (-2.0, 0.0, True),
    }
    got = {m.measure: (m.percent_change, m.points, m.worsened) for m in visit.tis.measures}
    assert got == expected
    assert visit.tis.status == "complete"
    assert visit.tis.score == 27.5
    assert visit.tis.range == (27.5, 27.5)
    assert visit.tis.population == "adult"
    assert visit.tis.category == "minimal"
    assert visit.enzyme == "CK"
    assert visit.enzyme_value == 1500.0  # the CK of 2026-04-07, one day after the visit
    # IMACS DOI (relative to baseline): physician 25 %, HAQ 20 %, CK 25 % improve by ≥ 20 %;
    # nothing worsens by ≥ 25 % → improved.
    assert visit.imacs_doi is not None
    assert visit.imacs_doi.status == "improved"
    assert visit.imacs_doi.improved_count == 3
    assert visit.imacs_doi.worsened_count == 0


def test_incomplete_tis_of_a_visit_computed_by_hand() -> None:
    """2026-07-06: HAQ missing. Physician 40 % → 17.5; patient 20 % → 5; MMT 100·16/80 = 20 % → 20;
    CK 100·1600/2000 = 80 % → 7.5; extramuscular 40 % → 15. Achieved 65; HAQ could add at most 10:
    range [65, 75], all adult major (≥ 60) → category major."""
    visit = visit_on(timeline_of(HAND_MADE), "2026-07-06")
    assert visit.tis is not None
    assert visit.tis.status == "incomplete"
    assert visit.tis.score == 65.0
    assert visit.tis.range == (65.0, 75.0)
    assert visit.tis.category == "major"
    haq = next(m for m in visit.tis.measures if m.measure == "haq")
    assert (haq.status, haq.points, haq.worsened) == ("missing", None, None)


def test_juvenile_onset_uses_the_juvenile_thresholds() -> None:
    timeline = timeline_of(juvenile_record())
    assert timeline.population == "juvenile"
    thresholds = default_params().tis_tables
    visit = visit_on(timeline, "2026-04-06")
    assert visit.tis is not None
    # 27.5 is minimal for an adult (≥ 20) but below the juvenile minimal threshold (≥ 30).
    assert visit.tis.score == 27.5
    assert visit.tis.population == "juvenile"
    assert visit.tis.category == "none"
    assert categorise(27.5, thresholds.adult_thresholds) == "minimal"
    # Range [65, 75] spans juvenile moderate (≥ 45) and major (≥ 70): no category.
    later = visit_on(timeline, "2026-07-06")
    assert later.tis is not None
    assert later.tis.range == (65.0, 75.0)
    assert later.tis.category is None


def test_juvenile_example_is_scored_with_juvenile_thresholds() -> None:
    timeline = timeline_of(load_example("juvenile"))
    assert timeline.population == "juvenile"
    for visit in timeline.visits:
        if visit.tis is not None:
            assert visit.tis.population == "juvenile"
            assert visit.tis.score is not None
            assert visit.tis.category == categorise(visit.tis.score,
                                                    default_params().tis_tables.juvenile_thresholds)


def test_treatment_periods_and_active_treatments_per_visit() -> None:
    timeline = timeline_of(HAND_MADE)
    periods = [(p.drug, p.role, p.start, p.stop, p.source) for p in timeline.treatment_periods]
    assert periods == [
        ("prednisone", "glucocorticoid", D("2026-01-06"), D("2026-05-31"), "$.treatments[0]"),
        ("methotrexate", "steroid_sparing", D("2026-01-06"), None, "$.treatments[1]"),
        ("ivig", "second_line", D("2026-06-15"), D("2026-06-19"), "$.treatments[2]"),
    ]
    active = {v.date.isoformat(): v.active_treatments for v in timeline.visits}
    assert active == {
        "2025-12-01": (),
        "2026-01-05": (),  # the baseline, the day before treatment started
        "2026-04-06": ("methotrexate", "prednisone"),
        "2026-07-06": ("methotrexate",),  # prednisone stopped 2026-05-31, IVIG 06-15 to 06-19
    }
    assert drug_role("hydroxychloroquine") == "other"


def test_nothing_after_as_of_is_used() -> None:
    as_of = D("2026-05-01")
    timeline = timeline_of(HAND_MADE, as_of)
    assert timeline.as_of == as_of
    assert [v.date for v in timeline.visits] == [D("2025-12-01"), D("2026-01-05"), D("2026-04-06")]
    # Prednisone's stop (2026-05-31) was not known on 2026-05-01: ongoing then. IVIG not started.
    assert [(p.drug, p.stop) for p in timeline.treatment_periods] == [
        ("prednisone", None), ("methotrexate", None)]
    assert [p.date for p in timeline.ck] == [D("2026-01-05"), D("2026-04-07")]
    assert [t.date for t in timeline.titers] == [D("2026-01-05")]
    assert timeline.titer_normalised_on is None
    # The visit scored as of 2026-05-01 has the same TIS as when scored later.
    assert visit_on(timeline, "2026-04-06").tis == visit_on(timeline_of(HAND_MADE), "2026-04-06").tis
    document = timeline_to_dict(timeline)
    dates = [v["date"] for v in document["visits"]] + [p["date"] for p in document["ck"]]
    assert all(d <= "2026-05-01" for d in dates)


def test_titer_normalisation_of_the_hand_made_record() -> None:
    timeline = timeline_of(HAND_MADE)
    assert [(t.titer, t.below_cutoff) for t in timeline.titers] == [(80.0, False), (12.0, True)]
    assert timeline.titer_normalised_on == D("2026-07-06")
    assert timeline.drug_free_since is None  # methotrexate is ongoing


# -- drug-free remission ----------------------------------------------------------------------------

def test_drug_free_remission_dates() -> None:
    timeline = timeline_of(load_example("drug-free-remission"))
    # Mi-2 titers 92, 61, 34, 23 (positive, cut-off 20), then 14 (negative) on 2025-05-12.
    assert timeline.titer_normalised_on == D("2025-05-12")
    # The last immunosuppressant, methotrexate, stopped 2024-06-30.
    assert timeline.drug_free_since == D("2024-07-01")
    assert [v.active_treatments for v in timeline.visits if v.date >= D("2024-07-01")] == [(), (), (), ()]
    assert visit_on(timeline, "2023-07-10").active_treatments == ("methotrexate",)


def test_drug_free_remission_as_of_before_the_stop_and_the_normalisation() -> None:
    timeline = timeline_of(load_example("drug-free-remission"), D("2024-01-01"))
    assert timeline.titer_normalised_on is None
    assert timeline.drug_free_since is None
    methotrexate = [p for p in timeline.treatment_periods if p.drug == "methotrexate"]
    assert [p.stop for p in methotrexate] == [D("2022-01-09"), None]


def test_timeline_dict_is_json_ready() -> None:
    document = timeline_to_dict(timeline_of(HAND_MADE))
    assert document["format"] == "myositis-cds/timeline@1"
    assert document["visits"][1]["is_baseline"] is True
    assert document["visits"][2]["tis"]["score"] == 27.5
    assert document["treatment_periods"][1]["stop"] is None
