"""Table 1 of a cohort by group (clinical-reference §8, PF2019).

Input is a :class:`CohortData`: one value per patient and column, as text (``None`` is missing).
Each variable is typed from its values: a column whose values all belong to one of the pairs
yes/no, true/false or 0/1 (any case) is **binary** (one row: the count of yes/true/1); a column
whose values are all finite numbers is **numeric** (median [IQR]); anything else is
**categorical** (one row per level). Missing values are excluded from each denominator and counted.

Tests (one p-value per variable): binary and categorical variables under the named policy of
:mod:`myositis_cds.stats.contingency`; numeric variables by Mann–Whitney U (two groups) or
Kruskal–Wallis (more). With two groups a binary variable also gets the odds ratio of the first
group against the second with its 95% CI. With more than two groups every pair of groups is
compared as well, the p-values Holm-adjusted across the pairs of that variable.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
from scipy.stats import kruskal, mannwhitneyu

from myositis_cds.engine import plain
from myositis_cds.stats.contingency import (
    POLICIES,
    POLICY_DESCRIPTIONS,
    OddsRatio,
    Policy,
    TestResult,
    holm,
    odds_ratio,
    table_test,
)

__all__ = [
    "BINARY_VOCABULARIES",
    "TABLE1_FORMAT",
    "Cell",
    "CohortData",
    "Kind",
    "Pairwise",
    "Table1",
    "Table1Row",
    "VariableType",
    "classify",
    "table1",
]

TABLE1_FORMAT: Final = "myositis-cds/table1@1"
BINARY_VOCABULARIES: Final = (("yes", "no"), ("true", "false"), ("1", "0"))
"""(positive, negative) spellings of a binary column, compared case-insensitively."""
Kind = Literal["binary", "categorical", "numeric"]
_PAIRWISE_CORRECTION: Final = "Holm"


@dataclass(frozen=True, kw_only=True, slots=True)
class CohortData:
    """Per-patient columns as text, ``None`` for missing; every column has one value per patient."""

    source: str
    columns: Mapping[str, Sequence[str | None]]
    synthetic: bool = False
    """Made by ``cohort synthesize``: every output made from it says "synthetic"."""
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        lengths = {len(v) for v in self.columns.values()}
        if len(lengths) > 1:
            msg = f"columns: got lengths {sorted(lengths)}; expected one value per patient in each"
            raise ValueError(msg)

    @property
    def n_rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


@dataclass(frozen=True, kw_only=True, slots=True)
class VariableType:
    kind: Kind
    levels: tuple[str, ...]
    """Binary: the positive spelling; categorical: every level (sorted); numeric: empty."""


def classify(values: Sequence[str | None]) -> VariableType:
    """Binary, numeric or categorical, from the distinct non-missing values (module docstring)."""
    distinct = {v.strip() for v in set(values) if v is not None and v.strip()}
    lowered = {v.lower() for v in distinct}
    for positive, negative in BINARY_VOCABULARIES:
        if lowered and lowered <= {positive, negative}:
            return VariableType(kind="binary", levels=(positive,))
    if distinct and all(_is_number(v) for v in distinct):
        return VariableType(kind="numeric", levels=())
    return VariableType(kind="categorical", levels=tuple(sorted(distinct)))


def _number_or_nan(text: str | None) -> float:
    """The number, or NaN for a missing value (and for text in a patient outside the groups)."""
    if text is None:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True, slots=True)
class Cell:
    """One group's summary of one row: n/N (categorical) or median [IQR] (numeric)."""

    N: int
    """The denominator: patients of the group with a value (written N in every Table 1)."""
    missing: int
    n: int | None = None
    percent: float | None = None
    median: float | None = None
    q1: float | None = None
    q3: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Pairwise:
    groups: tuple[str, str]
    p_value: float | None
    p_adjusted: float | None
    """Holm-adjusted across the pairs of this variable."""
    test: str
    odds_ratio: OddsRatio | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Table1Row:
    variable: str
    level: str | None
    kind: Kind
    groups: Mapping[str, Cell]
    overall: Cell
    p_value: float | None
    """On the first row of each variable only (one p-value per variable)."""
    test: str | None
    odds_ratio: OddsRatio | None = None
    pairwise: tuple[Pairwise, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Table1:
    source: str
    synthetic: bool
    group_column: str
    groups: tuple[str, ...]
    group_sizes: Mapping[str, int]
    policy: Policy
    policy_description: str
    rows: tuple[Table1Row, ...]
    excluded: Mapping[str, int]
    """Patients left out, by reason (no group, a group not asked for)."""
    pairwise_correction: str | None
    notes: tuple[str, ...]
    citations: tuple[str, ...] = ("PF2019",)
    format: str = TABLE1_FORMAT
    title: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def _numeric_test(samples: Sequence[np.ndarray[Any, Any]]) -> TestResult:
    usable = [s for s in samples if s.size]
    if len(usable) < 2:
        return TestResult(p_value=None, test="not computed", reason="fewer than two groups have values")
    pooled = np.concatenate(usable)
    if np.all(pooled == pooled[0]):
        return TestResult(p_value=None, test="not computed", reason="every value is the same")
    if len(usable) == 2:
        result = mannwhitneyu(usable[0], usable[1], alternative="two-sided")
        return TestResult(p_value=float(result.pvalue), test="Mann–Whitney U (two-sided)")
    return TestResult(p_value=float(kruskal(*usable).pvalue), test="Kruskal–Wallis")


def _named(result: TestResult) -> str:
    return result.test if result.reason is None else f"{result.test}: {result.reason}"


def _numeric_cell(values: np.ndarray[Any, Any], missing: int) -> Cell:
    if not values.size:
        return Cell(N=0, missing=missing)
    q1, median, q3 = (float(q) for q in np.percentile(values, [25, 50, 75]))
    return Cell(N=int(values.size), missing=missing, median=median, q1=q1, q3=q3)


def _pairs(groups: Sequence[str]) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(len(groups)), 2))


def _numeric_rows(name: str, raw: Sequence[str | None], codes: np.ndarray[Any, Any],
                  groups: Sequence[str]) -> list[Table1Row]:
    try:  # fast path: every cell a number or missing
        values = np.array([v if v is not None else "nan" for v in raw], dtype=float)
    except ValueError:  # text in a patient outside the compared groups
        values = np.array([_number_or_nan(v) for v in raw])
    present = ~np.isnan(values)
    samples = [values[(codes == g) & present] for g in range(len(groups))]
    missing = [int(((codes == g) & ~present).sum()) for g in range(len(groups))]
    test = _numeric_test(samples)
    pairwise: tuple[Pairwise, ...] = ()
    if len(groups) > 2:
        results = [_numeric_test([samples[i], samples[j]]) for i, j in _pairs(groups)]
        adjusted = holm([r.p_value for r in results])
        pairwise = tuple(Pairwise(groups=(groups[i], groups[j]), p_value=r.p_value, p_adjusted=a,
                                  test=_named(r))
                         for (i, j), r, a in zip(_pairs(groups), results, adjusted, strict=True))
    in_groups = codes >= 0
    return [Table1Row(
        variable=name, level=None, kind="numeric",
        groups={g: _numeric_cell(samples[i], missing[i]) for i, g in enumerate(groups)},
        overall=_numeric_cell(values[in_groups & present], int((in_groups & ~present).sum())),
        p_value=test.p_value, test=_named(test),
        pairwise=pairwise)]


def _categorical_rows(name: str, raw: Sequence[str | None], codes: np.ndarray[Any, Any],
                      groups: Sequence[str], *, vtype: VariableType, policy: Policy) -> list[Table1Row]:
    k = len(groups)
    if vtype.kind == "binary":
        positive = vtype.levels[0]
        vocabulary = next(v for v in BINARY_VOCABULARIES if v[0] == positive)
        mapping: dict[str | None, int] = {}
        for value in set(raw):
            text = value.strip().lower() if value is not None else ""
            mapping[value] = 0 if text == vocabulary[0] else 1 if text == vocabulary[1] else -1
        levels: tuple[str, ...] = vocabulary
    else:
        levels = vtype.levels
        index = {level: i for i, level in enumerate(levels)}
        mapping = {value: index.get(value.strip(), -1) if value is not None else -1 for value in set(raw)}
    level_codes = np.fromiter(map(mapping.__getitem__, raw), dtype=np.int64, count=len(raw))
    n_levels = len(levels)
    in_groups = codes >= 0
    observed = in_groups & (level_codes >= 0)
    counts = np.bincount(codes[observed] * n_levels + level_codes[observed],
                         minlength=k * n_levels).reshape(k, n_levels)
    missing = np.bincount(codes[in_groups & (level_codes < 0)], minlength=k)
    test = table_test(counts.tolist(), policy)
    odds: OddsRatio | None = None
    if vtype.kind == "binary" and k == 2:
        odds = odds_ratio(counts.tolist())
    pairwise: tuple[Pairwise, ...] = ()
    if k > 2:
        results = [table_test(counts[[i, j]].tolist(), policy) for i, j in _pairs(groups)]
        adjusted = holm([r.p_value for r in results])
        pairwise = tuple(
            Pairwise(groups=(groups[i], groups[j]), p_value=r.p_value, p_adjusted=a, test=_named(r),
                     odds_ratio=odds_ratio(counts[[i, j]].tolist()) if vtype.kind == "binary" else None)
            for (i, j), r, a in zip(_pairs(groups), results, adjusted, strict=True))
    totals = counts.sum(axis=1)
    overall_n = counts.sum(axis=0)
    shown = range(1) if vtype.kind == "binary" else range(n_levels)
    rows = []
    for level in shown:
        first = level == 0
        cells = {g: Cell(N=int(totals[i]), missing=int(missing[i]), n=int(counts[i, level]),
                         percent=100 * float(counts[i, level]) / float(totals[i]) if totals[i] else None)
                 for i, g in enumerate(groups)}
        total = int(totals.sum())
        rows.append(Table1Row(
            variable=name, level=levels[level], kind=vtype.kind, groups=cells,
            overall=Cell(N=total, missing=int(missing.sum()), n=int(overall_n[level]),
                         percent=100 * float(overall_n[level]) / total if total else None),
            p_value=test.p_value if first else None,
            test=_named(test) if first else None,
            odds_ratio=odds if first else None, pairwise=pairwise if first else ()))
    return rows


_Codes = tuple[tuple[str, ...], np.ndarray[Any, Any], dict[str, int]]


def _group_codes(data: CohortData, group: str, groups: Sequence[str] | None) -> _Codes:
    """The group order, each patient's group index (-1: left out) and the counts left out."""
    if group not in data.columns:
        msg = (f"--group: got {group!r}; expected one of the columns "
               f"{', '.join(repr(c) for c in data.columns)}")
        raise ValueError(msg)
    raw_groups = [g.strip() if g is not None and g.strip() else None for g in data.columns[group]]
    present = sorted({g for g in raw_groups if g is not None})
    order = tuple(groups) if groups else tuple(present)
    unknown = [g for g in order if g not in present]
    if unknown:
        msg = (f"groups: got {', '.join(unknown)}; expected values of the column {group!r}: "
               f"{', '.join(present)}")
        raise ValueError(msg)
    if len(order) < 2:
        msg = f"--group {group}: got {len(order)} group(s) ({', '.join(order)}); expected at least 2"
        raise ValueError(msg)
    index = {g: i for i, g in enumerate(order)}
    codes = np.fromiter((index.get(g, -1) if g is not None else -2 for g in raw_groups),
                        dtype=np.int64, count=len(raw_groups))
    excluded = {"no value in the group column": int((codes == -2).sum())}
    other = int((codes == -1).sum())
    if other:
        excluded["in a group not asked for"] = other
    return order, np.where(codes < 0, -1, codes), excluded


def _notes(order: Sequence[str], empty: Sequence[str], *, synthetic: bool) -> list[str]:
    notes = [
        "Categorical: n/N (%), N = patients of the group with a value; missing values are excluded "
        "from N and counted. Numeric: median [IQR] (linear interpolation between order statistics).",
        "Numeric variables: Mann–Whitney U for two groups, Kruskal–Wallis for more (two-sided).",
    ]
    if len(order) == 2:
        notes.append(f"Odds ratios: odds in {order[0]} over odds in {order[1]}, 95% CI by Woolf's method.")
    else:
        notes.append("Pairwise comparisons of every two groups under the same tests; p-values "
                     "Holm-adjusted across the pairs of each variable.")
    if empty:
        notes.append(f"Not shown, no value in any patient of these groups: {', '.join(empty)}.")
    if synthetic:
        notes.insert(0, "SYNTHETIC COHORT: generated data, not patients; for demonstration and tests only.")
    return notes


def table1(data: CohortData, *, group: str, policy: Policy = "fisher",
           groups: Sequence[str] | None = None, variables: Sequence[str] | None = None,
           id_column: str | None = None) -> Table1:
    """Table 1 of ``data`` by the column ``group`` (see the module docstring)."""
    if policy not in POLICIES:
        msg = f"--policy: got {policy!r}; expected one of {', '.join(POLICIES)}"
        raise ValueError(msg)
    order, codes, excluded = _group_codes(data, group, groups)
    names = list(variables) if variables else [c for c in data.columns if c not in (group, id_column)]
    missing_columns = [n for n in names if n not in data.columns]
    if missing_columns:
        msg = f"variables: got {', '.join(missing_columns)}; expected columns of {data.source}"
        raise ValueError(msg)
    rows: list[Table1Row] = []
    empty: list[str] = []
    included = codes >= 0
    everyone = bool(included.all())
    selector = None if everyone else included.tolist()
    for name in names:
        raw = data.columns[name]
        compared = raw if selector is None else list(itertools.compress(raw, selector))
        if all(v is None for v in compared):
            empty.append(name)
            continue
        vtype = classify(compared)
        if vtype.kind == "numeric":
            rows += _numeric_rows(name, raw, codes, order)
        else:
            rows += _categorical_rows(name, raw, codes, order, vtype=vtype, policy=policy)
    sizes = {g: int((codes == i).sum()) for i, g in enumerate(order)}
    title = ("Table 1 (synthetic cohort)" if data.synthetic else "Table 1") + f" by {group}"
    return Table1(source=data.source, synthetic=data.synthetic, group_column=group, groups=order,
                  group_sizes=sizes, policy=policy, policy_description=POLICY_DESCRIPTIONS[policy],
                  rows=tuple(rows), excluded=excluded,
                  pairwise_correction=_PAIRWISE_CORRECTION if len(order) > 2 else None,
                  notes=(*_notes(order, empty, synthetic=data.synthetic), *data.notes), title=title)
