"""Our Table 1 against the ``tableone`` package on the same synthetic data (docs/cohort.md).

Agreement: the counts of each level, and median [Q1, Q3] (both use linear interpolation).
Documented differences, asserted here so that a change on either side is noticed:
- tableone's default categorical test is Pearson chi-square *with* Yates' correction (scipy's
  default), Fisher only for a 2×2 table with an expected count < 5; ours follows the named policy.
- tableone tests a continuous non-normal variable by Kruskal–Wallis even for two groups; we use
  Mann–Whitney U for two groups.
- tableone counts a missing value as a level ("None") in the percentages and in its test; we
  exclude missing values from N and count them apart.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings

import pytest
from scipy.stats import chi2_contingency, kruskal

from myositis_cds import bootstrap
from myositis_cds.adapters.cohort_csv import cell_text, cohort_csv_text
from myositis_cds.engine import PatientContext, build_timeline
from myositis_cds.stats.cohort_features import derive_patient, features_columns
from myositis_cds.stats.synthetic_cohort import synthesize
from myositis_cds.stats.table1 import CohortData, table1

pd = pytest.importorskip("pandas")
tableone = pytest.importorskip("tableone")

TODAY = dt.date(2026, 11, 21)
TWO = ["anti-Mi-2-positive DM", "anti-Mi-2-negative DM"]


@pytest.fixture(scope="module")
def frame_and_data() -> tuple[object, CohortData]:
    params = bootstrap.default_params()
    parse = bootstrap.make_parser(TODAY)
    patients = []
    for document in synthesize(533, seed=11, today=TODAY):
        record = parse(document, prefix="$", source="synthetic")
        patients.append(derive_patient(PatientContext(record, TODAY), build_timeline(record, TODAY, params),
                                       params))
    derived = features_columns(patients)
    frame = pd.read_csv(io.StringIO(cohort_csv_text(derived)), dtype=str, keep_default_na=False).replace(
        "", None)
    columns = {c: [None if v is None else cell_text(v) for v in values] for c, values in derived.items()}
    return frame, CohortData(source="synthetic", columns=columns, synthetic=True)


def _tableone(frame: object, groups: list[str], variables: list[str], categorical: list[str]) -> object:
    df = frame[frame["group"].isin(groups)].copy()  # type: ignore[index]
    for v in variables:
        if v not in categorical:
            df[v] = df[v].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tableone.TableOne(df, columns=variables, categorical=categorical,
                                 nonnormal=[v for v in variables if v not in categorical],
                                 groupby="group", pval=True, htest_name=True, pval_digits=10)


def _p(table: object, label: str) -> float:
    frame = table.tableone  # type: ignore[attr-defined]
    rows = frame[frame.index.get_level_values(0) == label]
    text = str(rows[("Grouped by group", "P-Value")].iloc[0])
    return 0.0 if text.startswith("<") else float(text)


def test_counts_quartiles_and_documented_test_differences(frame_and_data: tuple[object, CohortData]) -> None:
    frame, data = frame_and_data
    ours = table1(data, group="group", groups=TWO, variables=["calcinosis_ever", "ck_peak_x_uln"],
                  id_column="patient")
    theirs = _tableone(frame, TWO, ["calcinosis_ever", "ck_peak_x_uln"], ["calcinosis_ever"])
    t = theirs.tableone  # type: ignore[attr-defined]
    calcinosis = ours.rows[0]
    for group in TWO:
        cell = t.loc[("calcinosis_ever, n (%)", "yes"), ("Grouped by group", group)]
        assert int(cell.split(" ")[0]) == calcinosis.groups[group].n
    ck = ours.rows[1]
    for group in TWO:
        text = t.loc[("ck_peak_x_uln, median [Q1,Q3]", ""), ("Grouped by group", group)]
        median, quartiles = text.split(" ", 1)
        q1, q3 = quartiles.strip("[]").split(",")
        cell = ck.groups[group]
        assert (float(median), float(q1), float(q3)) == pytest.approx(
            (cell.median, cell.q1, cell.q3), abs=0.051)
    # categorical: tableone's Yates-corrected chi-square, our Fisher (policy "fisher")
    yates = chi2_contingency([[5, 53], [40, 103]], correction=True).pvalue
    assert _p(theirs, "calcinosis_ever, n (%)") == pytest.approx(yates, abs=1e-9)
    assert calcinosis.p_value == pytest.approx(0.0025643361701832, rel=1e-9)
    # continuous, two groups: tableone Kruskal–Wallis, ours Mann–Whitney U
    values = {g: [float(v) for v, grp in zip(data.columns["ck_peak_x_uln"], data.columns["group"],
                                               strict=True) if grp == g and v is not None] for g in TWO}
    assert _p(theirs, "ck_peak_x_uln, median [Q1,Q3]") == pytest.approx(kruskal(*values.values()).pvalue)
    assert ck.test == "Mann–Whitney U (two-sided)"


def test_four_groups_kruskal_agrees_and_missing_is_handled_differently(
        frame_and_data: tuple[object, CohortData]) -> None:
    frame, data = frame_and_data
    groups = ["anti-Mi-2-positive DM", "anti-Mi-2-negative DM", "antisynthetase syndrome", "IMNM"]
    ours = table1(data, group="group", groups=groups, variables=["ck_peak_x_uln", "weakness_onset"],
                  id_column="patient")
    theirs = _tableone(frame, groups, ["ck_peak_x_uln", "weakness_onset"], ["weakness_onset"])
    assert _p(theirs, "ck_peak_x_uln, median [Q1,Q3]") == pytest.approx(ours.rows[0].p_value, rel=1e-9)
    t = theirs.tableone  # type: ignore[attr-defined]
    # weakness at onset is recorded only in anti-Mi-2-positive DM: tableone shows "None" as a level
    # (143 of 143 anti-Mi-2-negative patients, 100 %) and computes a p-value with it; we show N=0 and
    # the missing count, and compute no test across a single group with values.
    none_level = t.loc[("weakness_onset, n (%)", "None"), ("Grouped by group", "anti-Mi-2-negative DM")]
    assert none_level == "143 (100.0)"
    row = ours.rows[1]
    assert (row.groups["anti-Mi-2-negative DM"].N, row.groups["anti-Mi-2-negative DM"].missing) == (0, 143)
    assert row.p_value is None
    assert _p(theirs, "weakness_onset, n (%)") < 1e-9
