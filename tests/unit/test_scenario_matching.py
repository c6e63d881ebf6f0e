"""The fragment matcher of the scenario tests: a match passes, and every kind of mismatch fails."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scenario_matching import MISSING, assert_matches, find_mismatches

ACTUAL: dict[str, Any] = {
    "severity": {"tier": "non_severe", "reasons": ["a", "b"]},
    "cancer_screening": {
        "level": "standard",
        "occasions": [{"due": "2026-01-10", "status": "due", "satisfied_by": None}],
    },
    "workup": [
        {"id": "WORKUP-PFT", "status": "done", "date": "2026-01-20", "missing": []},
        {"id": "WORKUP-ENZYMES", "status": "missing", "date": None, "missing": ["aldolase", "LDH"]},
    ],
    "alerts": [{"id": "ALERT-SCREEN-AGE40", "severity": "warning", "inputs": []}],
    "alerts_not_evaluable": [],
    "treatment_plan": {"regimens": [{"drug": "prednisone", "dose_min": 60.0, "dose_max": 68.3}]},
    "response": {"tis": {"score": 17.5, "measures": [
        {"measure": "mmt", "points": 10.0, "worsened": False},
        {"measure": "haq", "points": 0.0, "worsened": True},
    ]}},
    "flag": True,
    "count": 1,
}


def paths(expected: object) -> list[str]:
    return [m.path for m in find_mismatches(expected, ACTUAL)]


@pytest.mark.parametrize("expected", [
    {},
    {"severity": {"tier": "non_severe"}},
    {"severity": {"reasons": ["a", "b"]}},
    {"cancer_screening": {"occasions": [{"due": "2026-01-10", "status": "due", "satisfied_by": None}]}},
    {"workup": {"WORKUP-PFT": {"status": "done", "date": "2026-01-20"}}},
    {"workup": {"WORKUP-ENZYMES": {"missing": ["aldolase", "LDH"]}, "WORKUP-HRCT": None}},
    {"alerts": {"ALERT-SCREEN-AGE40": {"severity": "warning"}, "ALERT-COEXISTING-MSA": None}},
    {"alerts": {"ALERT-SCREEN-AGE40": {}}},
    {"alerts_not_evaluable": {"ALERT-CK-NORMAL-ACTIVE-SKIN": None}},
    {"alerts_not_evaluable": []},
    {"treatment_plan": {"regimens": {"prednisone": {"dose_min": 60, "dose_max": 68.3},
                                     "ivig": None}}},
    {"response": {"tis": {"score": 17.5, "measures": {"mmt": {"points": 10}, "haq": {"worsened": True}}}}},
    {"flag": True, "count": 1},
])
def test_a_matching_fragment_passes(expected: dict[str, Any]) -> None:
    assert find_mismatches(expected, ACTUAL) == []
    assert_matches(expected, ACTUAL)


@pytest.mark.parametrize(("expected", "path"), [
    ({"severity": {"tier": "severe_refractory"}}, "$.severity.tier"),
    ({"severity": {"grade": 1}}, "$.severity.grade"),
    ({"severity": "non_severe"}, "$.severity"),
    ({"severity": {"reasons": ["a"]}}, "$.severity.reasons"),
    ({"severity": {"reasons": ["b", "a"]}}, "$.severity.reasons[0]"),
    ({"cancer_screening": {"occasions": [{"due": "2026-01-10", "status": "due"}]}},
     "$.cancer_screening.occasions[0].satisfied_by"),
    ({"cancer_screening": {"occasions": [{"due": "2026-01-10", "status": "due", "satisfied_by": "x"}]}},
     "$.cancer_screening.occasions[0].satisfied_by"),
    ({"workup": {"WORKUP-PFT": {"status": "missing"}}}, "$.workup[id=WORKUP-PFT].status"),
    ({"workup": {"WORKUP-HRCT": {"status": "missing"}}}, "$.workup[id=WORKUP-HRCT]"),
    ({"workup": {"WORKUP-ENZYMES": {"missing": ["aldolase"]}}}, "$.workup[id=WORKUP-ENZYMES].missing"),
    ({"workup": {"WORKUP-PFT": None}}, "$.workup[id=WORKUP-PFT]"),
    ({"alerts": {"ALERT-SCREEN-AGE40": None}}, "$.alerts[id=ALERT-SCREEN-AGE40]"),
    ({"alerts": {"ALERT-SCREEN-AGE40": {"severity": "critical"}}},
     "$.alerts[id=ALERT-SCREEN-AGE40].severity"),
    ({"alerts": {"ALERT-COEXISTING-MSA": {}}}, "$.alerts[id=ALERT-COEXISTING-MSA]"),
    ({"alerts": []}, "$.alerts"),
    ({"treatment_plan": {"regimens": {"prednisone": {"dose_max": 68.30000000000001}}}},
     "$.treatment_plan.regimens[drug=prednisone].dose_max"),
    ({"treatment_plan": {"regimens": {"prednisone": {"dose_max": 68}}}},
     "$.treatment_plan.regimens[drug=prednisone].dose_max"),
    ({"response": {"tis": {"measures": {"mmt": {"points": 20}}}}},
     "$.response.tis.measures[measure=mmt].points"),
    ({"response": {"tis": {"measures": {"enzyme": {"points": 0}}}}},
     "$.response.tis.measures[measure=enzyme]"),
    ({"flag": 1}, "$.flag"),
    ({"count": True}, "$.count"),
    ({"count": None}, "$.count"),
    ({"count": "1"}, "$.count"),
])
def test_a_mismatch_fails_and_names_its_path(expected: dict[str, Any], path: str) -> None:
    assert path in paths(expected)
    with pytest.raises(AssertionError, match=path.replace("[", r"\[").replace("$", r"\$")):
        assert_matches(expected, ACTUAL)


def test_the_failure_message_shows_both_values() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_matches({"treatment_plan": {"regimens": {"prednisone": {"dose_min": 61}}}}, ACTUAL)
    message = str(caught.value)
    assert "$.treatment_plan.regimens[drug=prednisone].dose_min" in message
    assert "expected 61" in message
    assert "actual 60.0" in message


def test_a_missing_element_is_reported_as_missing() -> None:
    [mismatch] = find_mismatches({"alerts": {"ALERT-CONTINUE-MONITORING": {"severity": "info"}}}, ACTUAL)
    assert mismatch.actual is MISSING
    assert "ALERT-SCREEN-AGE40" in mismatch.problem


def test_keyed_collections_are_only_keyed_at_their_own_path() -> None:
    # "alerts" nested somewhere else is an ordinary key, so a dict there is an ordinary fragment.
    actual = {"severity": {"alerts": {"x": 1}}}
    assert find_mismatches({"severity": {"alerts": {"x": 1}}}, actual) == []
    assert [m.path for m in find_mismatches({"severity": {"alerts": {"x": 2}}}, actual)] == [
        "$.severity.alerts.x"]


def test_duplicate_ids_in_the_actual_collection_fail() -> None:
    actual = {"alerts": [{"id": "A", "severity": "info"}, {"id": "A", "severity": "info"}]}
    [mismatch] = find_mismatches({"alerts": {"A": {"severity": "info"}}}, actual)
    assert "2 elements" in mismatch.problem


def test_lists_inside_list_elements_compare_exactly() -> None:
    actual = {"x": [{"a": [1, 2]}]}
    assert find_mismatches({"x": [{"a": [1, 2]}]}, actual) == []
    assert [m.path for m in find_mismatches({"x": [{"a": [1]}]}, actual)] == ["$.x[0].a"]
    assert [m.path for m in find_mismatches({"x": [{}]}, actual)] == ["$.x[0].a"]
