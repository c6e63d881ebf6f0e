"""Properties of the MMT-8, HAQ-DI and EULAR/ACR 2017 instruments over every input in range.

Clinical-reference §11 (MMT-8, HAQ-DI) and §9 (EULAR/ACR 2017).
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given
from hypothesis import strategies as st

from myositis_cds.scores.eular_acr_2017 import (
    AGE_ITEMS,
    BIOPSY_ITEMS,
    EULAR_ACR_2017_CATEGORIES,
    ITEM_IDS,
    ITEM_STATES,
    SKIN_ITEMS,
    ItemState,
    categorise,
    eular_acr_2017,
)
from myositis_cds.scores.haq_di import HAQ_CATEGORIES, HaqAnswer, haq_di
from myositis_cds.scores.mmt8 import MMT8_GROUPS, mmt8_total

# --- MMT-8 --------------------------------------------------------------------------------------

tenths = st.integers(0, 100)
any_grade = st.floats(0, 10, allow_nan=False)


@given(st.lists(tenths, min_size=8, max_size=8))
def test_mmt8_total_is_the_exact_sum_of_grades_in_tenths(grades_in_tenths: list[int]) -> None:
    grades = dict(zip(MMT8_GROUPS, (k / 10 for k in grades_in_tenths), strict=True))
    result = mmt8_total(grades)
    assert 0 <= result.total <= 80
    assert result.total == float(sum(Decimal(k) / 10 for k in grades_in_tenths))
    assert [g.grade for g in result.grades] == [grades[name] for name in MMT8_GROUPS]


@given(st.lists(any_grade, min_size=8, max_size=8))
def test_mmt8_total_is_the_sum_for_any_grade(values: list[float]) -> None:
    result = mmt8_total(dict(zip(MMT8_GROUPS, values, strict=True)))
    assert 0 <= result.total <= result.maximum == 80
    assert math.isclose(result.total, math.fsum(values), rel_tol=1e-12, abs_tol=1e-12)


# --- HAQ-DI -------------------------------------------------------------------------------------

haq_answers = st.builds(HaqAnswer, score=st.integers(0, 3), aid_or_help=st.booleans())
haq_records = st.fixed_dictionaries({c: st.none() | haq_answers for c in HAQ_CATEGORIES})


@given(haq_records)
def test_haq_di_lies_in_0_to_3_and_needs_7_answers(answers: dict[str, HaqAnswer | None]) -> None:
    result = haq_di(answers)
    answered = sum(a is not None for a in answers.values())
    assert result.answered == answered
    if answered < 7:
        assert (result.status, result.index, result.index_exact) == ("not_evaluable", None, None)
        return
    assert result.status == "scored"
    assert result.index is not None
    assert result.index_exact is not None
    assert 0 <= result.index_exact <= 3
    assert 0 <= result.index <= 3
    assert result.index == float(result.index_exact)
    expected = [max(a.score, 2) if a.aid_or_help else a.score for a in answers.values() if a is not None]
    assert result.index_exact == Fraction(sum(expected), answered)


@given(haq_records, st.sampled_from(HAQ_CATEGORIES), haq_answers, st.data())
def test_haq_di_is_monotone_in_each_category(
    answers: dict[str, HaqAnswer | None], category: str, before: HaqAnswer, data: st.DataObject
) -> None:
    after = HaqAnswer(score=data.draw(st.integers(before.score, 3)),
                      aid_or_help=before.aid_or_help or data.draw(st.booleans()))
    low = haq_di(answers | {category: before})
    high = haq_di(answers | {category: after})
    assert low.status == high.status
    if low.index_exact is not None:
        assert high.index_exact is not None
        assert high.index_exact >= low.index_exact


# --- EULAR/ACR 2017 -----------------------------------------------------------------------------

states = st.sampled_from(ITEM_STATES)


@st.composite
def eular_items(draw: st.DrawFn) -> dict[str, ItemState]:
    items = {item: draw(states) for item in ITEM_IDS}
    if all(items[a] == "present" for a in AGE_ITEMS):  # mutually exclusive: keep one
        items[draw(st.sampled_from(AGE_ITEMS))] = "absent"
    return items


def other_age_present(items: dict[str, ItemState], item: str) -> bool:
    return item in AGE_ITEMS and any(items[a] == "present" for a in AGE_ITEMS if a != item)


@given(eular_items())
def test_eular_range_is_ordered_and_the_category_consistent(items: dict[str, ItemState]) -> None:
    result = eular_acr_2017(items)
    low, high = result.score_range
    assert 0 <= low <= high
    assert result.biopsy_used == any(items[b] != "not_assessed" for b in BIOPSY_ITEMS)
    ends = (categorise(low, biopsy=result.biopsy_used), categorise(high, biopsy=result.biopsy_used))
    rule_met = result.biopsy_used or any(items[s] == "present" for s in SKIN_ITEMS)
    if result.category is not None:
        assert result.status == "classified"
        assert rule_met
        assert ends == (result.category, result.category)
    else:
        assert result.status != "classified"
    if result.status == "indeterminate":
        assert rule_met
        assert ends[0] != ends[1]
        assert result.category_range == ends
    if result.status == "requires_biopsy":
        assert result.category_range is None
    if result.category_range is not None:
        assert EULAR_ACR_2017_CATEGORIES.index(ends[0]) <= EULAR_ACR_2017_CATEGORIES.index(ends[1])
    assert result.anti_mi2_note in result.reasons


@given(eular_items(), st.sampled_from(ITEM_IDS))
def test_eular_adding_a_present_item_never_lowers_the_score(
    items: dict[str, ItemState], item: str
) -> None:
    assume(items[item] != "present" and not other_age_present(items, item))
    before = eular_acr_2017(items)
    after = eular_acr_2017(items | {item: "present"})
    # Holds even when the item is the first biopsy item and the points switch column (§9).
    assert after.score_range[0] > before.score_range[0]


@given(eular_items(), st.sampled_from(ITEM_IDS), st.sampled_from(("present", "absent")))
def test_eular_assessing_an_item_keeps_the_score_inside_the_previous_range(
    items: dict[str, ItemState], item: str, state: ItemState
) -> None:
    assume(items[item] == "not_assessed")
    assume(not (state == "present" and other_age_present(items, item)))
    # The first biopsy item present or absent switches to the with-biopsy column, whose points and
    # cut-offs differ (§9): the two ranges are on different scales, so that case is excluded.
    biopsy_used = any(items[b] != "not_assessed" for b in BIOPSY_ITEMS)
    assume(biopsy_used or item not in BIOPSY_ITEMS)
    before_low, before_high = eular_acr_2017(items).score_range
    after_low, after_high = eular_acr_2017(items | {item: state}).score_range
    assert before_low <= after_low <= after_high <= before_high
