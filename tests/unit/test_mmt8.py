"""MMT-8 total (clinical-reference §11): 8 groups graded 0–10, unilateral total 0–80."""

from __future__ import annotations

import pytest

from myositis_cds.scores.mmt8 import MMT8_GROUPS, MMT8_MAXIMUM, Mmt8Result, mmt8_total

# §11, in the order of the reference.
REFERENCE_GROUPS = (
    "neck_flexors", "deltoid", "biceps", "wrist_extensors",
    "gluteus_maximus", "gluteus_medius", "quadriceps", "ankle_dorsiflexors",
)


def all_groups(grade: float) -> dict[str, float]:
    return dict.fromkeys(MMT8_GROUPS, grade)


def test_groups_and_maximum_are_those_of_the_reference() -> None:
    assert MMT8_GROUPS == REFERENCE_GROUPS
    assert MMT8_MAXIMUM == 80


def test_total_is_the_sum_with_per_group_grades() -> None:
    grades = dict(zip(MMT8_GROUPS, (10, 9, 8, 7, 6, 5, 4, 3), strict=True))
    result = mmt8_total(grades)
    assert isinstance(result, Mmt8Result)
    assert result.status == "complete"
    assert result.total == 52
    assert result.maximum == 80
    assert tuple(g.group for g in result.grades) == MMT8_GROUPS
    assert [g.grade for g in result.grades] == [10, 9, 8, 7, 6, 5, 4, 3]
    assert all(g.maximum == 10 for g in result.grades)
    assert result.grade("quadriceps") == 4
    assert result.citations == ("ACR-EULAR-2016", "MI2-SUMMARY")
    assert result.reasons


@pytest.mark.parametrize(("grade", "total"), [(0, 0), (10, 80), (5, 40)])
def test_extremes(grade: float, total: float) -> None:
    assert mmt8_total(all_groups(grade)).total == total


def test_half_grades_are_accepted_and_summed_exactly() -> None:
    assert mmt8_total(all_groups(9) | {"deltoid": 4.5, "biceps": 7.5}).total == 66  # 6 × 9 + 4.5 + 7.5
    # 8 × 0.1 in binary floating point is 0.7999999999999999; the total is summed in Decimal.
    assert mmt8_total(all_groups(0.1)).total == 0.8


def test_grade_lookup_of_a_non_group_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        mmt8_total(all_groups(10)).grade("triceps")


def test_to_dict() -> None:
    data = mmt8_total(all_groups(10))
    assert data.to_dict() == {
        "instrument": "MMT-8", "status": "complete", "total": 80.0, "maximum": 80.0,
        "grades": all_groups(10.0), "reasons": list(data.reasons),
        "citations": ["ACR-EULAR-2016", "MI2-SUMMARY"],
    }


def test_missing_group_is_named() -> None:
    grades = all_groups(10)
    del grades["gluteus_medius"]
    with pytest.raises(ValueError, match="gluteus_medius") as caught:
        mmt8_total(grades)
    assert "all 8 groups are required" in str(caught.value)


def test_every_missing_group_is_named() -> None:
    with pytest.raises(ValueError, match=r"\['neck_flexors', 'deltoid'\]"):
        mmt8_total(dict.fromkeys(MMT8_GROUPS[2:], 10))


def test_unknown_group_is_named() -> None:
    with pytest.raises(ValueError, match="triceps"):
        mmt8_total(all_groups(10) | {"triceps": 10})


@pytest.mark.parametrize("grade", [-0.5, 10.5, 11, -1, float("nan"), float("inf")])
def test_grade_outside_0_to_10_is_rejected_naming_the_group(grade: float) -> None:
    with pytest.raises(ValueError, match="'biceps'"):
        mmt8_total(all_groups(10) | {"biceps": grade})


@pytest.mark.parametrize("grade", ["8", None, True])
def test_non_numbers_are_rejected_naming_the_group(grade: object) -> None:
    grades: dict[str, object] = {**all_groups(10), "quadriceps": grade}
    with pytest.raises(ValueError, match="'quadriceps'"):
        mmt8_total(grades)  # type: ignore[arg-type]
