"""Manual Muscle Testing-8 (MMT-8) total. Clinical-reference §11; citation keys ACR-EULAR-2016, MI2-SUMMARY.

The MMT-8 grades 8 muscle groups — neck flexors, deltoid, biceps, wrist extensors, gluteus maximus,
gluteus medius, quadriceps, ankle dorsiflexors — each 0–10; the unilateral total is 0–80 (§11).

Rules implemented here:

- All 8 groups are required for a total: a missing group is an error, never imputed (a partial
  sum would read as weakness).
- A grade is any number from 0 to 10 inclusive (halves such as 4.5 included). §11 gives only the
  0–10 range, so no plus/minus notation is converted here: convert before calling.
- The total is summed in :class:`decimal.Decimal` from the decimal text of each grade, so 8 × 0.1
  totals exactly 0.8 rather than a binary-floating-point neighbour.

§11 names no citation key for the MMT-8 itself. Results cite ACR-EULAR-2016 (§6.1 uses the MMT-8
maximum of 80 in the Total Improvement Score) and MI2-SUMMARY (§3 work-up item WORKUP-MMT8).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final, Literal

from myositis_cds.domain.values import value_object

__all__ = [
    "MMT8_CITATIONS",
    "MMT8_GRADE_MAX",
    "MMT8_GRADE_MIN",
    "MMT8_GROUPS",
    "MMT8_MAXIMUM",
    "Mmt8Grade",
    "Mmt8Result",
    "mmt8_total",
]

MMT8_GROUPS: Final = (
    "neck_flexors",
    "deltoid",
    "biceps",
    "wrist_extensors",
    "gluteus_maximus",
    "gluteus_medius",
    "quadriceps",
    "ankle_dorsiflexors",
)
"""The 8 muscle groups, in the order of clinical-reference §11."""

MMT8_GRADE_MIN: Final = 0
"""Lowest grade of one muscle group (§11)."""
MMT8_GRADE_MAX: Final = 10
"""Highest grade of one muscle group (§11)."""
MMT8_MAXIMUM: Final = 80
"""Highest unilateral total (§11): 8 groups × 10."""
MMT8_CITATIONS: Final = ("ACR-EULAR-2016", "MI2-SUMMARY")
"""Citation keys (§0) carried by every result; see the module docstring for why these two."""


@value_object
class Mmt8Grade:
    """The grade of one muscle group."""

    group: str
    grade: float
    maximum: float = MMT8_GRADE_MAX


@value_object
class Mmt8Result:
    """An MMT-8 unilateral total with the grade of each group.

    ``status`` is always ``complete``: an incomplete set of grades raises instead of scoring.
    """

    status: Literal["complete"]
    total: float
    maximum: float
    grades: tuple[Mmt8Grade, ...]
    reasons: tuple[str, ...]
    citations: tuple[str, ...]

    def grade(self, group: str) -> float:
        """The grade of ``group`` (``KeyError`` if it is not an MMT-8 group)."""
        for row in self.grades:
            if row.group == group:
                return row.grade
        raise KeyError(group)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary of the result."""
        return {
            "instrument": "MMT-8",
            "status": self.status,
            "total": self.total,
            "maximum": self.maximum,
            "grades": {row.group: row.grade for row in self.grades},
            "reasons": list(self.reasons),
            "citations": list(self.citations),
        }


def _checked_grade(group: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = (f"MMT-8 grade of {group!r} must be a number from {MMT8_GRADE_MIN} to {MMT8_GRADE_MAX}, "
               f"got {value!r}")
        raise ValueError(msg)
    if not MMT8_GRADE_MIN <= value <= MMT8_GRADE_MAX:  # also rejects NaN and infinities
        msg = (f"MMT-8 grade of {group!r} is {value!r}; expected a number from {MMT8_GRADE_MIN} "
               f"to {MMT8_GRADE_MAX} (§11)")
        raise ValueError(msg)
    return Decimal(repr(value))


def mmt8_total(grades: Mapping[str, float]) -> Mmt8Result:
    """Total the grades of the 8 MMT-8 muscle groups (unilateral, 0–80).

    ``grades`` maps every name in :data:`MMT8_GROUPS` to a number from 0 to 10.

    Raises:
        ValueError: a group name that is not an MMT-8 group, a missing group (the message lists
            them all), or a grade that is not a number from 0 to 10 (the message names the group).

    >>> mmt8_total(dict.fromkeys(MMT8_GROUPS, 9) | {"deltoid": 7.5}).total
    70.5
    """
    unknown = [name for name in grades if name not in MMT8_GROUPS]
    if unknown:
        msg = f"unknown MMT-8 muscle group(s) {unknown}; expected the groups {list(MMT8_GROUPS)}"
        raise ValueError(msg)
    missing = [name for name in MMT8_GROUPS if name not in grades]
    if missing:
        msg = (f"MMT-8 grade missing for muscle group(s) {missing}; all 8 groups are required for a "
               "total (a missing grade is never imputed)")
        raise ValueError(msg)
    exact = {name: _checked_grade(name, grades[name]) for name in MMT8_GROUPS}
    total = sum(exact.values(), Decimal(0))
    return Mmt8Result(
        status="complete",
        total=float(total),
        maximum=float(MMT8_MAXIMUM),
        grades=tuple(Mmt8Grade(group=name, grade=float(grades[name])) for name in MMT8_GROUPS),
        reasons=(f"unilateral total of the 8 muscle groups, each graded {MMT8_GRADE_MIN}–"
                 f"{MMT8_GRADE_MAX}; maximum {MMT8_MAXIMUM} (§11)",),
        citations=MMT8_CITATIONS,
    )
