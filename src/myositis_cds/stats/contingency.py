"""Tests on contingency tables under a named policy (clinical-reference §8, PF2019).

Policies for a 2×2 table (§8):

- ``fisher``: Fisher's exact test, two-sided (``scipy.stats.fisher_exact``).
- ``pearson``: Pearson's chi-square without continuity correction.
- ``textbook``: n ≥ 40 and every expected count ≥ 5 → Pearson; n ≥ 40 and the smallest expected
  count in [1, 5) → chi-square with Yates' continuity correction; otherwise Fisher.

Larger tables (more than two groups, or a variable with more than two levels): ``pearson`` uses
Pearson's chi-square; ``fisher`` uses the Fisher–Freeman–Halton exact test, computed here by full
enumeration when one side of the table has two rows or columns (2×c or r×2) and the enumeration
holds at most :data:`MAX_EXACT_TABLES` partial tables; otherwise Pearson's chi-square is used and
the test name says why. ``textbook`` uses Pearson when n ≥ 40 and every expected count ≥ 5, else
Fisher–Freeman–Halton (the continuity correction is defined for 2×2 only).

The two-sided exact p-value sums the probabilities of every table with the observed margins whose
probability does not exceed the observed table's (with a relative tolerance of 1e-7, as R's
``fisher.test`` does), which for a 2×2 table is exactly scipy's two-sided Fisher p-value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from scipy.special import gammaln
from scipy.stats import chi2_contingency, fisher_exact, norm

from myositis_cds.engine import plain

__all__ = [
    "MAX_EXACT_TABLES",
    "POLICIES",
    "POLICY_DESCRIPTIONS",
    "OddsRatio",
    "Policy",
    "TestResult",
    "freeman_halton",
    "holm",
    "odds_ratio",
    "table_test",
]

Policy = Literal["fisher", "pearson", "textbook"]
POLICIES: Final[tuple[Policy, ...]] = ("fisher", "pearson", "textbook")
POLICY_DESCRIPTIONS: Final[dict[Policy, str]] = {
    "fisher": "Fisher's exact test, two-sided (Fisher–Freeman–Halton for larger tables)",
    "pearson": "Pearson's chi-square without continuity correction",
    "textbook": "n ≥ 40 and all expected ≥ 5: Pearson; n ≥ 40 and smallest expected 1–5: "
                "continuity-corrected chi-square (2×2); otherwise Fisher (Fisher–Freeman–Halton "
                "for larger tables)",
}
MAX_EXACT_TABLES: Final = 4_000_000
"""Largest number of partial tables the exact Fisher–Freeman–Halton enumeration may hold (memory
and time bound); above it the chi-square is used and named."""
LARGE_2X2: Final = 10_000
"""2×2 tables with more patients than this get Fisher's p-value from :func:`freeman_halton`'s
vectorised enumeration (identical to scipy's, tested) instead of ``scipy.stats.fisher_exact``."""
TEXTBOOK_MIN_N: Final = 40
TEXTBOOK_MIN_EXPECTED: Final = 5.0
TEXTBOOK_MIN_EXPECTED_CORRECTED: Final = 1.0
_RELATIVE_TOLERANCE: Final = 1e-7
_Z95: Final = float(norm.ppf(0.975))


@dataclass(frozen=True, kw_only=True, slots=True)
class TestResult:
    """A p-value with the name of the test that produced it; ``p_value`` ``None`` when not computable."""

    p_value: float | None
    test: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


@dataclass(frozen=True, kw_only=True, slots=True)
class OddsRatio:
    """Odds of the level in the first group over the odds in the second, with a 95% Woolf CI."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    method: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def _as_table(table: Sequence[Sequence[int]], *, smallest: int = 2) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The counts as an array of at least ``smallest`` × ``smallest``; no negative count."""
    array = np.asarray(table, dtype=np.int64)
    if array.ndim != 2 or array.shape[0] < smallest or array.shape[1] < smallest:
        msg = (f"table: got shape {array.shape}; expected a table of at least "
               f"{smallest}×{smallest} counts")
        raise ValueError(msg)
    if (array < 0).any():
        msg = "table: got a negative count; expected counts ≥ 0"
        raise ValueError(msg)
    return array


def _drop_empty(array: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Rows and columns with no observation carry no information for any of the tests."""
    trimmed: np.ndarray[Any, np.dtype[np.int64]] = array[array.sum(axis=1) > 0][:, array.sum(axis=0) > 0]
    return trimmed


def _log_comb(n: np.ndarray[Any, Any], k: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    result: np.ndarray[Any, Any] = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    return result


def freeman_halton(table: Sequence[Sequence[int]]) -> float | None:
    """Exact two-sided Fisher–Freeman–Halton p-value of a 2×c or r×2 table, or ``None`` when the
    enumeration would exceed :data:`MAX_EXACT_TABLES` (or neither side has two categories)."""
    array = _drop_empty(_as_table(table))
    if array.shape[0] < 2 or array.shape[1] < 2:
        return 1.0
    if array.shape[0] != 2:
        if array.shape[1] != 2:
            return None
        array = array.T
    columns = array.sum(axis=0)
    total = int(columns.sum())
    # Enumerate the row with the smaller total: the probability of a table is symmetric in the rows.
    row = 0 if array[0].sum() <= array[1].sum() else 1
    r1 = int(array[row].sum())
    bound = math.prod(min(int(c), r1) + 1 for c in columns[:-1])
    if bound > MAX_EXACT_TABLES:
        return None
    observed = float(_log_comb(columns.astype(float), array[row].astype(float)).sum())
    sums = np.zeros(1, dtype=np.int64)
    logp = np.zeros(1, dtype=float)
    for c in columns[:-1]:
        x = np.arange(min(int(c), r1) + 1, dtype=np.int64)
        sums = (sums[:, None] + x[None, :]).ravel()
        logp = (logp[:, None] + _log_comb(np.full(x.shape, float(c)), x.astype(float))[None, :]).ravel()
        keep = sums <= r1
        sums, logp = sums[keep], logp[keep]
    last = int(columns[-1])
    x_last = r1 - sums
    keep = (x_last >= 0) & (x_last <= last)
    logp = logp[keep] + _log_comb(np.full(int(keep.sum()), float(last)), x_last[keep].astype(float))
    log_total = float(_log_comb(np.array(float(total)), np.array(float(r1))))
    extreme = logp <= observed + math.log1p(_RELATIVE_TOLERANCE)
    p_value = float(np.exp(logp[extreme] - log_total).sum())
    return min(1.0, p_value)


def _expected(array: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, Any]:
    total = array.sum()
    expected: np.ndarray[Any, Any] = np.outer(array.sum(axis=1), array.sum(axis=0)) / total
    return expected


def _chi_square(array: np.ndarray[Any, np.dtype[np.int64]], *, correction: bool) -> float:
    result = chi2_contingency(array, correction=correction)
    return float(result.pvalue)


def _pearson(array: np.ndarray[Any, np.dtype[np.int64]], name: str = "Pearson chi-square") -> TestResult:
    return TestResult(p_value=_chi_square(array, correction=False), test=name)


def _exact(array: np.ndarray[Any, np.dtype[np.int64]]) -> TestResult:
    if array.shape == (2, 2):
        # Above LARGE_2X2 patients scipy's search is slow; the enumeration gives the same p-value.
        large = int(array.sum()) > LARGE_2X2
        p_value = freeman_halton(array.tolist()) if large else float(fisher_exact(array).pvalue)
        return TestResult(p_value=p_value, test="Fisher exact (two-sided)")
    p_value = freeman_halton(array.tolist())
    if p_value is not None:
        return TestResult(p_value=p_value, test="Fisher–Freeman–Halton exact (two-sided)")
    reason = ("neither side of the table has two categories" if min(array.shape) > 2 else
              f"the exact enumeration would exceed {MAX_EXACT_TABLES:,} tables")
    return _pearson(array, f"Pearson chi-square (Fisher–Freeman–Halton not computed: {reason})")


def table_test(table: Sequence[Sequence[int]], policy: Policy) -> TestResult:
    """The p-value of a contingency table (rows: groups, columns: levels) under ``policy``."""
    if policy not in POLICIES:
        msg = f"policy: got {policy!r}; expected one of {', '.join(POLICIES)}"
        raise ValueError(msg)
    full = _as_table(table, smallest=1)  # one group or one level: nothing to test, not an error
    array = _drop_empty(full)
    if array.shape[0] < 2 or array.shape[1] < 2:
        return TestResult(p_value=None, test="not computed",
                          reason="fewer than two groups or two levels have observations")
    result = _by_policy(array, policy)
    if array.shape != full.shape:
        left_out = (f"{full.shape[0] - array.shape[0]} group(s) and {full.shape[1] - array.shape[1]} "
                    "level(s) without observations left out")
        return TestResult(p_value=result.p_value, test=f"{result.test} [{left_out}]")
    return result


def _by_policy(array: np.ndarray[Any, np.dtype[np.int64]], policy: Policy) -> TestResult:
    if policy == "fisher":
        return _exact(array)
    if policy == "pearson":
        return _pearson(array)
    total = int(array.sum())
    smallest = float(_expected(array).min())
    if total >= TEXTBOOK_MIN_N and smallest >= TEXTBOOK_MIN_EXPECTED:
        return _pearson(array, f"Pearson chi-square (textbook: n={total} ≥ 40, all expected ≥ 5)")
    if array.shape == (2, 2) and total >= TEXTBOOK_MIN_N and smallest >= TEXTBOOK_MIN_EXPECTED_CORRECTED:
        return TestResult(p_value=_chi_square(array, correction=True),
                          test=f"chi-square with Yates continuity correction (textbook: n={total} ≥ 40, "
                               f"smallest expected {smallest:.2f})")
    exact = _exact(array)
    why = f"n={total} < 40" if total < TEXTBOOK_MIN_N else f"smallest expected {smallest:.2f}"
    return TestResult(p_value=exact.p_value, test=f"{exact.test} (textbook: {why})")


def odds_ratio(table: Sequence[Sequence[int]]) -> OddsRatio:
    """``[[a, b], [c, d]]`` (rows: first and second group; columns: level present, absent) → ad/bc.

    95% confidence interval by Woolf's method (normal approximation of log OR). With a zero cell,
    0.5 is added to every cell (Haldane–Anscombe) and the note says so; with an empty row or
    column there is no odds ratio.
    """
    array = _as_table(table)
    if array.shape != (2, 2):
        msg = f"table: got shape {array.shape}; expected 2×2 for an odds ratio"
        raise ValueError(msg)
    method = "sample odds ratio, 95% CI by Woolf's method (log OR ± 1.96 SE)"
    if (array.sum(axis=0) == 0).any() or (array.sum(axis=1) == 0).any():
        return OddsRatio(estimate=None, ci_low=None, ci_high=None, method=method,
                         note="not computed: a group or a level has no observation")
    cells = array.astype(float)
    note = None
    if (array == 0).any():
        cells = cells + 0.5
        note = "a cell is zero: 0.5 was added to every cell (Haldane–Anscombe correction)"
    a, b, c, d = cells[0, 0], cells[0, 1], cells[1, 0], cells[1, 1]
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return OddsRatio(estimate=math.exp(log_or), ci_low=math.exp(log_or - _Z95 * se),
                     ci_high=math.exp(log_or + _Z95 * se), method=method, note=note)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of the p-values that are not ``None`` (those stay ``None``)."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted
