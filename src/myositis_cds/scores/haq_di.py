"""Stanford HAQ disability index (HAQ-DI). Clinical-reference §11; citation key HAQ-DI.

The HAQ-DI has 8 categories — dressing and grooming, arising, eating, walking, hygiene, reach,
grip, activities — each scored 0–3 by its worst item (§11). Rules implemented here:

- A category is answered with its worst item score, an integer 0–3, and whether an aid, a device
  or help from another person is used for it.
- Aid rule: an aid, device or help raises that category to at least 2 (0 or 1 become 2; 2 and 3
  are unchanged).
- Index = sum of the (adjusted) category scores / number of answered categories; range 0–3.
- At least 7 answered categories are required. With fewer, the result is ``not_evaluable`` with
  the reason and no index: a partial index is never given.

The index is computed as a :class:`fractions.Fraction` (``index_exact``), so 9/8 is exactly 1.125;
``index`` is that fraction rounded once to the nearest float.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Final, Literal

from myositis_cds.domain.values import value_object

__all__ = [
    "HAQ_AID_MINIMUM",
    "HAQ_CATEGORIES",
    "HAQ_CITATIONS",
    "HAQ_MIN_ANSWERED",
    "HAQ_SCORE_MAX",
    "HAQ_SCORE_MIN",
    "HaqAnswer",
    "HaqCategoryScore",
    "HaqDiResult",
    "haq_di",
]

HAQ_CATEGORIES: Final = (
    "dressing_grooming",
    "arising",
    "eating",
    "walking",
    "hygiene",
    "reach",
    "grip",
    "activities",
)
"""The 8 HAQ-DI categories (§11)."""

HAQ_SCORE_MIN: Final = 0
"""Lowest category score (§11)."""
HAQ_SCORE_MAX: Final = 3
"""Highest category score, and highest index (§11)."""
HAQ_AID_MINIMUM: Final = 2
"""An aid, device or help raises a category to at least this score (§11)."""
HAQ_MIN_ANSWERED: Final = 7
"""Fewest answered categories for which an index is computed (§11)."""
HAQ_CITATIONS: Final = ("HAQ-DI",)
"""Citation keys (§0) carried by every result."""


def _check_score(score: object, where: str) -> int:
    if isinstance(score, bool) or not isinstance(score, int):
        msg = (f"{where}: score must be an integer from {HAQ_SCORE_MIN} to {HAQ_SCORE_MAX} "
               f"(the worst item of the category), got {score!r}")
        raise ValueError(msg)
    if not HAQ_SCORE_MIN <= score <= HAQ_SCORE_MAX:
        msg = f"{where}: score {score!r} is outside {HAQ_SCORE_MIN}–{HAQ_SCORE_MAX} (§11)"
        raise ValueError(msg)
    return score


def _check_aid(aid_or_help: object, where: str) -> bool:
    if not isinstance(aid_or_help, bool):
        msg = f"{where}: aid_or_help must be True or False, got {aid_or_help!r}"
        raise ValueError(msg)
    return aid_or_help


@value_object
class HaqAnswer:
    """The answer for one category: its worst item score and whether an aid or help is used.

    Raises ``ValueError`` on construction if ``score`` is not an integer 0–3 or ``aid_or_help`` is
    not a bool.
    """

    score: int
    aid_or_help: bool = False

    def __post_init__(self) -> None:
        _check_score(self.score, "HAQ-DI answer")
        _check_aid(self.aid_or_help, "HAQ-DI answer")


@value_object
class HaqCategoryScore:
    """One category: the answer given (``None`` = not answered) and the score that counts."""

    category: str
    answered: bool
    raw_score: int | None
    aid_or_help: bool | None
    score: int | None
    """The score after the aid rule; ``None`` if the category was not answered."""
    raised_by_aid: bool
    """True if the aid rule raised the score (raw 0 or 1 with an aid, device or help)."""


@value_object
class HaqDiResult:
    """A HAQ-DI index with its per-category detail.

    ``status`` is ``scored`` (``index`` given) or ``not_evaluable`` (fewer than 7 categories
    answered; ``index`` and ``index_exact`` are ``None`` and ``reasons`` says why).
    """

    status: Literal["scored", "not_evaluable"]
    index: float | None
    index_exact: Fraction | None
    answered: int
    total: int
    """Sum of the adjusted scores of the answered categories."""
    categories: tuple[HaqCategoryScore, ...]
    raised_by_aid: tuple[str, ...]
    unanswered: tuple[str, ...]
    reasons: tuple[str, ...]
    citations: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary of the result (``index_exact`` as text, e.g. ``"9/8"``)."""
        return {
            "instrument": "HAQ-DI",
            "status": self.status,
            "index": self.index,
            "index_exact": None if self.index_exact is None else str(self.index_exact),
            "answered": self.answered,
            "total": self.total,
            "categories": {
                row.category: {
                    "answered": row.answered,
                    "raw_score": row.raw_score,
                    "aid_or_help": row.aid_or_help,
                    "score": row.score,
                    "raised_by_aid": row.raised_by_aid,
                }
                for row in self.categories
            },
            "raised_by_aid": list(self.raised_by_aid),
            "unanswered": list(self.unanswered),
            "reasons": list(self.reasons),
            "citations": list(self.citations),
        }


def _score_category(category: str, answer: object) -> HaqCategoryScore:
    if answer is None:
        return HaqCategoryScore(category=category, answered=False, raw_score=None, aid_or_help=None,
                                score=None, raised_by_aid=False)
    if not isinstance(answer, HaqAnswer):
        msg = f"HAQ-DI category {category!r}: expected a HaqAnswer or None, got {answer!r}"
        raise ValueError(msg)
    where = f"HAQ-DI category {category!r}"
    raw = _check_score(answer.score, where)
    aid = _check_aid(answer.aid_or_help, where)
    score = max(raw, HAQ_AID_MINIMUM) if aid else raw
    return HaqCategoryScore(category=category, answered=True, raw_score=raw, aid_or_help=aid,
                            score=score, raised_by_aid=score != raw)


def haq_di(answers: Mapping[str, HaqAnswer | None]) -> HaqDiResult:
    """Compute the HAQ-DI from the answers of its 8 categories.

    ``answers`` maps category names (:data:`HAQ_CATEGORIES`) to a :class:`HaqAnswer`; a category
    that is absent from the mapping or mapped to ``None`` is not answered.

    Raises:
        ValueError: an unknown category name, or a score that is not an integer 0–3.

    >>> answers = dict.fromkeys(HAQ_CATEGORIES, HaqAnswer(score=1))
    >>> haq_di(answers | {"grip": HaqAnswer(score=0, aid_or_help=True)}).index
    1.125
    """
    unknown = [name for name in answers if name not in HAQ_CATEGORIES]
    if unknown:
        msg = f"unknown HAQ-DI category name(s) {unknown}; expected the categories {list(HAQ_CATEGORIES)}"
        raise ValueError(msg)
    rows = tuple(_score_category(name, answers.get(name)) for name in HAQ_CATEGORIES)
    scores = [row.score for row in rows if row.score is not None]
    answered = len(scores)
    total = sum(scores)
    raised = tuple(row.category for row in rows if row.raised_by_aid)
    unanswered = tuple(row.category for row in rows if not row.answered)
    reasons: list[str] = [
        f"aid, device or help raised {name!r} to {HAQ_AID_MINIMUM} (§11)" for name in raised
    ]
    if answered < HAQ_MIN_ANSWERED:
        reasons.insert(0, f"only {answered} of {len(HAQ_CATEGORIES)} categories answered; the HAQ-DI "
                          f"requires at least {HAQ_MIN_ANSWERED} (unanswered: {', '.join(unanswered)})")
        return HaqDiResult(status="not_evaluable", index=None, index_exact=None, answered=answered,
                           total=total, categories=rows, raised_by_aid=raised, unanswered=unanswered,
                           reasons=tuple(reasons), citations=HAQ_CITATIONS)
    if unanswered:
        reasons.insert(0, f"{', '.join(unanswered)} not answered: index divides by {answered} (§11)")
    exact = Fraction(total, answered)
    return HaqDiResult(status="scored", index=float(exact), index_exact=exact, answered=answered,
                       total=total, categories=rows, raised_by_aid=raised, unanswered=unanswered,
                       reasons=tuple(reasons), citations=HAQ_CITATIONS)
