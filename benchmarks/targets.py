"""The verdict line every benchmark ends with: the target, the measured figure, met or not, by
how much, and what limits it (issue 15: "make bench shows the targets … or says exactly how far
each is and what limits it").

A limit is named from the run's own breakdown (the largest part of the time), never typed in:
the same code reports a different limit when the code changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Verdict", "largest_part", "verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One target against one measurement. ``higher_is_better``: a rate (patients/s) rather than a
    latency (ms)."""

    target: str
    measured: float
    goal: float
    unit: str
    higher_is_better: bool
    limit: str

    @property
    def met(self) -> bool:
        return self.measured >= self.goal if self.higher_is_better else self.measured < self.goal

    @property
    def factor(self) -> float:
        """How many times the measurement must improve to reach the goal (1.0 or less: met)."""
        if self.measured <= 0:
            return float("inf")
        return self.goal / self.measured if self.higher_is_better else self.measured / self.goal

    def line(self) -> str:
        shown = f"{self.measured:,.1f} {self.unit}".strip()
        if self.met:
            return f"TARGET {self.target}: measured {shown} — met"
        return (f"TARGET {self.target}: measured {shown} — NOT met, {self.factor:,.1f}× "
                f"{'short' if self.higher_is_better else 'over'}; limited by {self.limit}")


def verdict(target: str, *, measured: float, goal: float, unit: str, higher_is_better: bool,
            limit: str) -> str:
    """The verdict line (see :class:`Verdict`)."""
    return Verdict(target, measured, goal, unit, higher_is_better, limit).line()


def largest_part(parts: Mapping[str, float], *, unit: str = "µs") -> str:
    """``"<name> (<value> <unit>, <share> of the parts)"`` for the largest of ``parts``."""
    positive = {name: value for name, value in parts.items() if value > 0}
    if not positive:
        return "nothing measured"
    name = max(positive, key=lambda key: positive[key])
    share = positive[name] / sum(positive.values())
    return f"{name} ({positive[name]:,.1f} {unit}, {share:.0%} of the measured parts)"
