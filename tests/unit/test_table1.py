"""Table 1: typing of columns, n/N with missing, median [IQR], tests, odds ratios, pairwise Holm."""

from __future__ import annotations

import pytest
from scipy.stats import fisher_exact, kruskal, mannwhitneyu

from myositis_cds.presentation.table1_report import render_table1
from myositis_cds.stats.contingency import holm
from myositis_cds.stats.table1 import CohortData, classify, table1


@pytest.mark.parametrize(("values", "kind", "levels"), [
    (["yes", "No", None, "YES"], "binary", ("yes",)),
    (["true", "false"], "binary", ("true",)),
    (["0", "1", "1", None], "binary", ("1",)),
    (["1", "1"], "binary", ("1",)),
    (["3.5", "10", "-2"], "numeric", ()),
    (["a", "b", "a"], "categorical", ("a", "b")),
    (["yes", "0"], "categorical", ("0", "yes")),
    (["1", "2", "x"], "categorical", ("1", "2", "x")),
])
def test_classify(values: list[str | None], kind: str, levels: tuple[str, ...]) -> None:
    vtype = classify(values)
    assert (vtype.kind, vtype.levels) == (kind, levels)


def _data(synthetic: bool = False) -> CohortData:
    return CohortData(source="test", synthetic=synthetic, columns={
        "patient": ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"],
        "arm": ["A", "A", "A", "A", "B", "B", "B", None],
        "ild": ["yes", "no", None, "yes", "no", "no", "yes", "yes"],
        "ck": ["1", "2", "3", "10", "4", None, "6", "7"],
        "stage": ["x", "y", "x", "z", "y", "y", None, "x"],
    })


def test_two_groups_counts_missing_tests_and_odds_ratio() -> None:
    result = table1(_data(), group="arm", id_column="patient")
    assert result.groups == ("A", "B")
    assert result.group_sizes == {"A": 4, "B": 3}
    assert result.excluded == {"no value in the group column": 1}
    ild = result.rows[0]
    assert (ild.variable, ild.level, ild.kind) == ("ild", "yes", "binary")
    assert (ild.groups["A"].n, ild.groups["A"].N, ild.groups["A"].missing) == (2, 3, 1)
    assert (ild.groups["B"].n, ild.groups["B"].N, ild.groups["B"].missing) == (1, 3, 0)
    assert ild.groups["A"].percent == pytest.approx(200 / 3)
    assert ild.p_value == pytest.approx(fisher_exact([[2, 1], [1, 2]]).pvalue)
    assert ild.odds_ratio is not None
    assert ild.odds_ratio.estimate == pytest.approx(4.0)
    ck = result.rows[1]
    assert ck.kind == "numeric"
    assert (ck.groups["A"].median, ck.groups["A"].q1, ck.groups["A"].q3) == (2.5, 1.75, 4.75)
    assert (ck.groups["B"].N, ck.groups["B"].missing) == (2, 1)
    assert ck.p_value == pytest.approx(mannwhitneyu([1, 2, 3, 10], [4, 6]).pvalue)
    assert ck.test == "Mann–Whitney U (two-sided)"
    stage = [r for r in result.rows if r.variable == "stage"]
    assert [r.level for r in stage] == ["x", "y", "z"]
    assert [r.p_value is not None for r in stage] == [True, False, False]  # one p per variable
    assert [(r.groups["A"].n, r.groups["A"].N) for r in stage] == [(2, 4), (1, 4), (1, 4)]
    assert [(r.groups["B"].n, r.groups["B"].N, r.groups["B"].missing) for r in stage] == [
        (0, 2, 1), (2, 2, 1), (0, 2, 1)]
    assert stage[0].test == "Fisher–Freeman–Halton exact (two-sided)"


def test_more_groups_pairwise_holm() -> None:
    data = CohortData(source="t", columns={
        "g": ["a"] * 5 + ["b"] * 5 + ["c"] * 5,
        "x": ["1", "2", "3", "4", "5", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"],
        "f": ["yes"] * 4 + ["no"] + ["yes"] * 2 + ["no"] * 3 + ["no"] * 5,
    })
    result = table1(data, group="g")
    x = result.rows[0]
    assert x.test == "Kruskal–Wallis"
    assert x.p_value == pytest.approx(kruskal([1, 2, 3, 4, 5], [2, 3, 4, 5, 6], [7, 8, 9, 10, 11]).pvalue)
    raw = [mannwhitneyu(a, b).pvalue for a, b in (([1, 2, 3, 4, 5], [2, 3, 4, 5, 6]),
                                                  ([1, 2, 3, 4, 5], [7, 8, 9, 10, 11]),
                                                  ([2, 3, 4, 5, 6], [7, 8, 9, 10, 11]))]
    assert [p.p_value for p in x.pairwise] == pytest.approx(raw)
    assert [p.p_adjusted for p in x.pairwise] == pytest.approx(holm(raw))
    f = result.rows[1]
    assert f.test == "Fisher–Freeman–Halton exact (two-sided)"
    assert [p.groups for p in f.pairwise] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert f.pairwise[1].p_value == pytest.approx(fisher_exact([[4, 1], [0, 5]]).pvalue)
    assert result.pairwise_correction == "Holm"


def test_groups_order_subset_and_errors() -> None:
    result = table1(_data(), group="arm", groups=["B", "A"], variables=["ild"])
    assert result.groups == ("B", "A")
    assert [r.variable for r in result.rows] == ["ild"]
    with pytest.raises(ValueError, match="--group: got 'nope'"):
        table1(_data(), group="nope")
    with pytest.raises(ValueError, match="groups: got C"):
        table1(_data(), group="arm", groups=["A", "C"])
    with pytest.raises(ValueError, match="expected at least 2"):
        table1(_data(), group="arm", groups=["A"])


def test_all_missing_variable_is_listed_not_shown() -> None:
    data = CohortData(source="t", columns={"g": ["a", "b"], "empty": [None, None], "v": ["1", "2"]})
    result = table1(data, group="g")
    assert [r.variable for r in result.rows] == ["v"]
    assert any("empty" in n for n in result.notes)


def test_variable_with_one_level_is_shown_without_a_test() -> None:
    data = CohortData(source="t", columns={"g": ["a", "a", "b", "b", "c"],
                                           "centre": ["Oslo", None, None, None, None]})
    (row,) = table1(data, group="g").rows
    assert (row.variable, row.level, row.p_value) == ("centre", "Oslo", None)
    assert row.test is not None
    assert row.test.startswith("not computed")
    assert row.groups["a"].n == 1
    assert row.groups["b"].missing == 2


@pytest.mark.parametrize("fmt", ["text", "json", "csv", "html", "latex"])
def test_every_format_says_synthetic(fmt: str) -> None:
    text = render_table1(table1(_data(synthetic=True), group="arm", id_column="patient"), fmt)  # type: ignore[arg-type]
    assert "synthetic" in text.lower()
    plain = render_table1(table1(_data(), group="arm", id_column="patient"), fmt)  # type: ignore[arg-type]
    assert "synthetic" not in plain.lower().replace('"synthetic": false', "")


def test_text_cells() -> None:
    text = render_table1(table1(_data(), group="arm", id_column="patient"), "text")
    assert "2/3 (66.7%); 1 missing" in text
    assert "2.5 [1.75–4.75] (N=4)" in text


def test_csv_quotes_formula_like_text_and_keeps_numbers() -> None:
    data = CohortData(source="t", columns={"g": ["a", "b", "a", "b"],
                                           "=HYPERLINK(1)": ["-x", "@y", "-x", "@y"]})
    text = render_table1(table1(data, group="g"), "csv")
    lines = text.splitlines()
    assert "'=HYPERLINK(1)" in lines[1]
    assert lines[1].split(",")[:3] == ["'=HYPERLINK(1)", "'-x", "categorical"]
    assert lines[2].split(",")[:3] == ["'=HYPERLINK(1)", "'@y", "categorical"]
    assert ",2,2,0,100.0," in text  # group a: 2 of 2 are -x
