"""Contingency-table tests under the §8 policies, with PF2019's check values."""

from __future__ import annotations

import itertools
import math

import pytest
from scipy.stats import fisher_exact

from myositis_cds.stats.contingency import freeman_halton, holm, odds_ratio, table_test

# PF2019 counts (clinical-reference §8): Mi-2+ n=58 vs Mi-2- n=143, [[present, absent], ...]
CALCINOSIS = [[5, 53], [40, 103]]
ILD = [[3, 55], [23, 120]]
FEVER = [[4, 54], [30, 113]]


@pytest.mark.parametrize(("table", "four_places", "published", "places"), [
    (CALCINOSIS, 0.0026, 0.003, 3), (ILD, 0.0382, 0.04, 2), (FEVER, 0.0209, 0.02, 2)])
def test_pf2019_check_values_two_sided_fisher(table: list[list[int]], four_places: float,
                                              published: float, places: int) -> None:
    result = table_test(table, "fisher")
    assert result.test == "Fisher exact (two-sided)"
    assert result.p_value is not None
    assert round(result.p_value, 4) == four_places
    assert round(result.p_value, places) == published


def _pearson_2x2(table: list[list[int]], *, yates: bool) -> float:
    (a, b), (c, d) = table
    n = a + b + c + d
    diff = abs(a * d - b * c) - (n / 2 if yates else 0)
    statistic = n * diff ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    return math.erfc(math.sqrt(statistic / 2))  # chi-square survival function, 1 degree of freedom


def test_pearson_policy_is_uncorrected_chi_square() -> None:
    result = table_test(CALCINOSIS, "pearson")
    assert result.test == "Pearson chi-square"
    assert result.p_value == pytest.approx(_pearson_2x2(CALCINOSIS, yates=False), rel=1e-12)


def test_textbook_policy_branches() -> None:
    large = table_test(CALCINOSIS, "textbook")  # n=201, smallest expected 58*45/201 = 12.99
    assert large.test.startswith("Pearson chi-square (textbook: n=201")
    assert large.p_value == pytest.approx(_pearson_2x2(CALCINOSIS, yates=False), rel=1e-12)
    small_expected = [[2, 40], [8, 50]]  # n=100, smallest expected 42*10/100 = 4.2
    corrected = table_test(small_expected, "textbook")
    assert corrected.test.startswith("chi-square with Yates continuity correction")
    assert corrected.p_value == pytest.approx(_pearson_2x2(small_expected, yates=True), rel=1e-12)
    tiny_expected = [[0, 45], [3, 52]]  # n=100, smallest expected 45*3/100 = 1.35 -> corrected
    assert table_test(tiny_expected, "textbook").test.startswith("chi-square with Yates")
    below_one = [[0, 60], [1, 39]]  # smallest expected 0.4 -> Fisher
    assert table_test(below_one, "textbook").p_value == pytest.approx(fisher_exact(below_one).pvalue)
    small_n = [[3, 10], [9, 5]]  # n=27 < 40 -> Fisher
    result = table_test(small_n, "textbook")
    assert result.test == "Fisher exact (two-sided) (textbook: n=27 < 40)"
    assert result.p_value == pytest.approx(fisher_exact(small_n).pvalue)


def _brute_force_fisher(table: list[list[int]]) -> float:
    """Every 2×c table with the same margins, from math.comb (independent of the module)."""
    columns = [sum(col) for col in zip(*table, strict=True)]
    r1 = sum(table[0])

    def probability(row: tuple[int, ...]) -> float:
        return math.prod(math.comb(c, x) for c, x in zip(columns, row, strict=True)) / math.comb(
            sum(columns), r1)

    observed = probability(tuple(table[0]))
    total = 0.0
    for row in itertools.product(*(range(c + 1) for c in columns)):
        if sum(row) == r1:
            p = probability(row)
            if p <= observed * (1 + 1e-7):
                total += p
    return total


@pytest.mark.parametrize("table", [[[1, 2, 3], [4, 0, 2]], [[3, 5, 2, 8], [6, 1, 4, 2]],
                                   [[0, 7, 1], [5, 0, 6]]])
def test_freeman_halton_matches_enumeration(table: list[list[int]]) -> None:
    assert freeman_halton(table) == pytest.approx(_brute_force_fisher(table), rel=1e-10)
    transposed = [list(r) for r in zip(*table, strict=True)]
    assert freeman_halton(transposed) == pytest.approx(_brute_force_fisher(table), rel=1e-10)
    result = table_test(table, "fisher")
    assert result.test == "Fisher–Freeman–Halton exact (two-sided)"


def test_freeman_halton_equals_fisher_on_2x2() -> None:
    assert freeman_halton(ILD) == pytest.approx(fisher_exact(ILD).pvalue, rel=1e-10)


def test_larger_tables_fall_back_to_chi_square_and_say_so() -> None:
    three_by_three = [[3, 4, 5], [6, 2, 1], [2, 8, 3]]
    assert freeman_halton(three_by_three) is None
    result = table_test(three_by_three, "fisher")
    assert result.test == ("Pearson chi-square (Fisher–Freeman–Halton not computed: neither side "
                           "of the table has two categories)")
    huge = [[5000, 6000, 7000, 8000], [5100, 5900, 7100, 7900]]
    assert "exact enumeration would exceed" in table_test(huge, "fisher").test


def test_empty_rows_and_single_groups() -> None:
    assert table_test([[0, 0], [3, 4]], "fisher").p_value is None
    single_level = table_test([[3], [0], [2], [1]], "fisher")  # every answer the same: no test
    assert (single_level.p_value, single_level.test) == (None, "not computed")
    trimmed = table_test([[2, 0, 0], [3, 4, 0]], "fisher")
    assert trimmed.p_value == pytest.approx(fisher_exact([[2, 0], [3, 4]]).pvalue)
    assert trimmed.test == ("Fisher exact (two-sided) [0 group(s) and 1 level(s) without observations "
                            "left out]")


def test_odds_ratio_woolf() -> None:
    result = odds_ratio(CALCINOSIS)
    assert result.estimate == pytest.approx(5 * 103 / (53 * 40))
    se = math.sqrt(1 / 5 + 1 / 53 + 1 / 40 + 1 / 103)
    assert result.ci_low == pytest.approx(math.exp(math.log(515 / 2120) - 1.959963984540054 * se))
    assert result.ci_high == pytest.approx(math.exp(math.log(515 / 2120) + 1.959963984540054 * se))
    assert result.note is None


def test_odds_ratio_zero_cell_and_empty_margin() -> None:
    corrected = odds_ratio([[0, 10], [5, 5]])
    assert corrected.estimate == pytest.approx(0.5 * 5.5 / (10.5 * 5.5))
    assert corrected.note is not None
    assert "Haldane" in corrected.note
    assert odds_ratio([[0, 0], [5, 5]]).estimate is None


def test_holm() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([None, 0.2, 0.9]) == [None, pytest.approx(0.4), pytest.approx(0.9)]
    assert holm([0.6, 0.7]) == [1.0, 1.0]  # monotone: never below an earlier step


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="negative count"):
        table_test([[1, -1], [2, 3]], "fisher")
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        table_test([1, 2, 3], "fisher")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="policy: got 'exact'"):
        table_test([[1, 1], [2, 3]], "exact")  # type: ignore[arg-type]


def test_large_2x2_fisher_uses_enumeration_with_scipy_value() -> None:
    table = [[1200, 4800], [1350, 4700]]  # 12,050 patients > LARGE_2X2
    result = table_test(table, "fisher")
    assert result.test == "Fisher exact (two-sided)"
    assert result.p_value == pytest.approx(fisher_exact(table).pvalue, rel=1e-9)
