"""HAQ-DI (clinical-reference §11): aid rule, at least 7 answered categories, exact index values."""

from __future__ import annotations

from fractions import Fraction

import pytest

from myositis_cds.scores.haq_di import HAQ_CATEGORIES, HaqAnswer, HaqDiResult, haq_di

# §11 names 8 categories; these are the ids the module uses for them.
REFERENCE_CATEGORIES = (
    "dressing_grooming", "arising", "eating", "walking", "hygiene", "reach", "grip", "activities",
)


def answers(*scores: int | None) -> dict[str, HaqAnswer | None]:
    return {c: None if s is None else HaqAnswer(score=s)
            for c, s in zip(HAQ_CATEGORIES, scores, strict=True)}


def test_categories() -> None:
    assert HAQ_CATEGORIES == REFERENCE_CATEGORIES


@pytest.mark.parametrize(("scores", "index", "exact"), [
    ((0, 0, 0, 0, 0, 0, 0, 0), 0.0, Fraction(0)),
    ((3, 3, 3, 3, 3, 3, 3, 3), 3.0, Fraction(3)),
    ((2, 1, 1, 1, 1, 1, 1, 1), 1.125, Fraction(9, 8)),
    ((3, 2, 1, 0, 0, 1, 2, 3), 1.5, Fraction(3, 2)),
    ((1, 1, 1, 1, 1, 1, 1, 0), 0.875, Fraction(7, 8)),
    ((0, 0, 0, 0, 0, 0, 0, 1), 0.125, Fraction(1, 8)),
])
def test_exact_index_over_8_categories(scores: tuple[int, ...], index: float, exact: Fraction) -> None:
    result = haq_di(answers(*scores))
    assert result.status == "scored"
    assert result.answered == 8
    assert result.index == index  # exact equality: eighths are exact binary fractions
    assert result.index_exact == exact
    assert result.total == sum(scores)
    assert result.unanswered == ()
    assert result.citations == ("HAQ-DI",)


def test_seven_answered_divides_by_seven() -> None:
    result = haq_di(answers(1, 1, 1, 1, 1, 1, 2, None))
    assert result.status == "scored"
    assert result.answered == 7
    assert result.index_exact == Fraction(8, 7)
    assert result.index == 8 / 7
    assert result.unanswered == ("activities",)
    assert any("divides by 7" in r for r in result.reasons)


def test_missing_key_counts_as_unanswered() -> None:
    full = answers(3, 3, 3, 3, 3, 3, 0, 0)
    del full["grip"]
    result = haq_di(full)
    assert result.answered == 7
    assert result.index_exact == Fraction(18, 7)
    assert result.unanswered == ("grip",)


@pytest.mark.parametrize("answered", [0, 1, 6])
def test_fewer_than_seven_answered_is_not_evaluable(answered: int) -> None:
    scores = [2] * answered + [None] * (8 - answered)
    result = haq_di(answers(*scores))
    assert result.status == "not_evaluable"
    assert result.index is None
    assert result.index_exact is None
    assert result.answered == answered
    assert f"only {answered} of 8 categories answered" in result.reasons[0]
    assert "at least 7" in result.reasons[0]


@pytest.mark.parametrize(("score", "adjusted", "raised"), [(0, 2, True), (1, 2, True), (2, 2, False),
                                                           (3, 3, False)])
def test_aid_rule(score: int, adjusted: int, raised: bool) -> None:
    given = answers(0, 0, 0, 0, 0, 0, 0, 0) | {"walking": HaqAnswer(score=score, aid_or_help=True)}
    result = haq_di(given)
    row = next(r for r in result.categories if r.category == "walking")
    assert (row.raw_score, row.score, row.raised_by_aid, row.aid_or_help) == (score, adjusted, raised, True)
    assert result.raised_by_aid == (("walking",) if raised else ())
    assert result.index_exact == Fraction(adjusted, 8)
    assert any("raised 'walking'" in r for r in result.reasons) == raised


def test_aid_rule_example_index() -> None:
    given = answers(1, 1, 1, 1, 1, 1, 1, 1) | {"grip": HaqAnswer(score=0, aid_or_help=True)}
    assert haq_di(given).index == 1.125  # (7 × 1 + 2) / 8 = 9/8


def test_unanswered_category_detail() -> None:
    row = haq_di(answers(1, 1, 1, 1, 1, 1, 1, None)).categories[-1]
    assert (row.category, row.answered, row.raw_score, row.score, row.raised_by_aid) == (
        "activities", False, None, None, False)


def test_to_dict() -> None:
    result = haq_di(answers(2, 1, 1, 1, 1, 1, 1, 1))
    assert isinstance(result, HaqDiResult)
    data = result.to_dict()
    assert data["index"] == 1.125
    assert data["index_exact"] == "9/8"
    assert data["citations"] == ["HAQ-DI"]


def test_unknown_category_is_rejected() -> None:
    with pytest.raises(ValueError, match="'bathing'"):
        haq_di(answers(1, 1, 1, 1, 1, 1, 1, 1) | {"bathing": HaqAnswer(score=1)})


@pytest.mark.parametrize("score", [-1, 4, 1.5, 2.0, True, "2"])
def test_score_must_be_an_integer_0_to_3(score: object) -> None:
    with pytest.raises(ValueError, match=r"integer from 0 to 3|outside 0–3"):
        HaqAnswer(score=score)  # type: ignore[arg-type]


def test_aid_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="aid_or_help"):
        HaqAnswer(score=1, aid_or_help="yes")  # type: ignore[arg-type]


def test_a_non_answer_value_is_rejected_naming_the_category() -> None:
    given: dict[str, object] = {**answers(1, 1, 1, 1, 1, 1, 1, 1), "reach": 2}
    with pytest.raises(ValueError, match="'reach'"):
        haq_di(given)  # type: ignore[arg-type]
