"""IMACS 2004 preliminary definition of improvement (clinical-reference §6.2).

Improved if ≥ 3 of the 6 core set measures improve by ≥ 20 %, no more than 2 worsen by ≥ 25 %, and
MMT is not among the worsened; percent change relative to the baseline value. Missing measures are
never imputed: the status is ``not_evaluable`` only when the outcome depends on them.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from myositis_cds.bootstrap import default_params
from myositis_cds.scores.imacs_doi import DoiResult, DoiThresholds, definition_of_improvement
from myositis_cds.scores.tis import MEASURES, MeasureInput

MMT_MAX = 80.0

# Relative changes for each measure (lower is better except MMT). Baseline values are chosen so
# that the changes are exact: +20 % = exactly the improvement edge, -25 % = exactly the worsening edge.
BASELINE = {
    "physician_global": 5.0, "patient_global": 5.0, "haq": 1.0, "mmt": 40.0,
    "enzyme": 2000.0, "extramuscular": 5.0,
}
IMPROVED_20 = {  # exactly 20 % better
    "physician_global": 4.0, "patient_global": 4.0, "haq": 0.8, "mmt": 48.0,
    "enzyme": 1600.0, "extramuscular": 4.0,
}
IMPROVED_LESS = {  # 19.x % better: not improved
    "physician_global": 4.01, "patient_global": 4.01, "haq": 0.801, "mmt": 47.9,
    "enzyme": 1601.0, "extramuscular": 4.01,
}
WORSENED_25 = {  # exactly 25 % worse
    "physician_global": 6.25, "patient_global": 6.25, "haq": 1.25, "mmt": 30.0,
    "enzyme": 2500.0, "extramuscular": 6.25,
}
WORSENED_LESS = {  # 24.x % worse: not worsened
    "physician_global": 6.24, "patient_global": 6.24, "haq": 1.249, "mmt": 30.1,
    "enzyme": 2499.0, "extramuscular": 6.24,
}


def thresholds() -> DoiThresholds:
    return default_params().doi_thresholds


def make(measure: str, followup: float | None, baseline: float | None = None) -> MeasureInput:
    return MeasureInput(
        measure=measure,
        baseline=BASELINE[measure] if baseline is None else baseline,
        followup=followup,
        scale=MMT_MAX if measure == "mmt" else 200.0 if measure == "enzyme" else None,
    )


def doi(improved: tuple[str, ...] = (), worsened: tuple[str, ...] = (), missing: tuple[str, ...] = (),
        *, improved_values: dict[str, float] = IMPROVED_20,
        worsened_values: dict[str, float] = WORSENED_25) -> DoiResult:
    """Measures named in ``improved``/``worsened`` change by the given table; others are unchanged."""
    measures = []
    for name in MEASURES:
        if name in missing:
            continue
        if name in improved:
            measures.append(make(name, improved_values[name]))
        elif name in worsened:
            measures.append(make(name, worsened_values[name]))
        else:
            measures.append(make(name, BASELINE[name]))
    return definition_of_improvement(measures, thresholds=thresholds())


def test_pack_thresholds_are_the_reference_values() -> None:
    assert thresholds() == DoiThresholds(improvement_percent=Decimal(20), worsening_percent=Decimal(25),
                                         min_improved=3, max_worsened=2)


@pytest.mark.parametrize("measure", MEASURES)
def test_exactly_20_percent_counts_as_improved(measure: str) -> None:
    result = doi(improved=(measure,))
    row = next(r for r in result.measures if r.measure == measure)
    assert row.percent_change == 20.0
    assert (row.improved, row.worsened) == (True, False)
    just_below = doi(improved=(measure,), improved_values=IMPROVED_LESS)
    row = next(r for r in just_below.measures if r.measure == measure)
    assert row.percent_change is not None
    assert 19 < row.percent_change < 20
    assert (row.improved, row.worsened) == (False, False)


@pytest.mark.parametrize("measure", MEASURES)
def test_exactly_25_percent_worse_counts_as_worsened(measure: str) -> None:
    result = doi(worsened=(measure,))
    row = next(r for r in result.measures if r.measure == measure)
    assert row.percent_change == -25.0
    assert (row.improved, row.worsened) == (False, True)
    just_below = doi(worsened=(measure,), worsened_values=WORSENED_LESS)
    row = next(r for r in just_below.measures if r.measure == measure)
    assert row.percent_change is not None
    assert -25 < row.percent_change < -24
    assert (row.improved, row.worsened) == (False, False)


def test_edges_hold_where_floating_point_would_miss_them() -> None:
    # Floats: 100 × (5.5 − 4.4) / 5.5 = 19.999999999999996 and 100 × (4.4 − 5.5) / 4.4 > −25.
    assert 100 * (5.5 - 4.4) / 5.5 < 20
    assert 100 * (4.4 - 5.5) / 4.4 > -25
    measures = [
        MeasureInput(measure="physician_global", baseline=5.5, followup=4.4),
        MeasureInput(measure="patient_global", baseline=1.0, followup=0.8),
        MeasureInput(measure="haq", baseline=2.0, followup=1.6),
        MeasureInput(measure="mmt", baseline=40.0, followup=40.0, scale=MMT_MAX),
        MeasureInput(measure="enzyme", baseline=4.4, followup=5.5),
        MeasureInput(measure="extramuscular", baseline=4.4, followup=5.5),
    ]
    result = definition_of_improvement(measures, thresholds=thresholds())
    assert (result.improved_count, result.worsened_count) == (3, 2)
    assert result.status == "improved"


def test_three_improved_is_improved() -> None:
    result = doi(improved=("physician_global", "patient_global", "haq"))
    assert (result.status, result.improved_count, result.worsened_count) == ("improved", 3, 0)
    assert result.missing == ()
    assert result.reason is None


def test_two_improved_is_not_improved() -> None:
    result = doi(improved=("physician_global", "patient_global"))
    assert (result.status, result.improved_count) == ("not_improved", 2)


def test_three_improved_one_just_short_is_not_improved_at_the_edge() -> None:
    measures = [
        make("physician_global", 4.0), make("patient_global", 4.0), make("haq", 0.801),
        make("mmt", 40.0), make("enzyme", 2000.0), make("extramuscular", 5.0),
    ]
    result = definition_of_improvement(measures, thresholds=thresholds())
    assert (result.status, result.improved_count) == ("not_improved", 2)


def test_two_worsened_is_allowed_three_is_not() -> None:
    two = doi(improved=("physician_global", "patient_global", "mmt"), worsened=("haq", "enzyme"))
    assert (two.status, two.improved_count, two.worsened_count) == ("improved", 3, 2)
    three = doi(improved=("physician_global", "patient_global", "mmt"),
                worsened=("haq", "enzyme", "extramuscular"))
    assert (three.status, three.worsened_count) == ("not_improved", 3)
    # 24.x % worse is not "worsened": the third measure does not count.
    three_short = doi(improved=("physician_global", "patient_global", "mmt"),
                      worsened=("haq", "enzyme", "extramuscular"),
                      worsened_values={**WORSENED_25, "extramuscular": WORSENED_LESS["extramuscular"]})
    assert (three_short.status, three_short.worsened_count) == ("improved", 2)


def test_mmt_worsened_blocks_improvement() -> None:
    result = doi(improved=("physician_global", "patient_global", "haq", "enzyme", "extramuscular"),
                 worsened=("mmt",))
    assert (result.status, result.improved_count, result.worsened_count) == ("not_improved", 5, 1)
    short = doi(improved=("physician_global", "patient_global", "haq", "enzyme", "extramuscular"),
                worsened=("mmt",), worsened_values=WORSENED_LESS)
    assert short.status == "improved"


def test_missing_measures_that_cannot_change_the_outcome_to_improved() -> None:
    # 4 improved including MMT; 2 missing. Even if both missing measures worsened (2 ≤ 2), improved.
    result = doi(improved=("physician_global", "patient_global", "haq", "mmt"),
                 missing=("enzyme", "extramuscular"))
    assert result.status == "improved"
    assert result.missing == ("enzyme", "extramuscular")
    assert result.reason is None
    rows = {r.measure: r for r in result.measures}
    assert (rows["enzyme"].percent_change, rows["enzyme"].improved, rows["enzyme"].worsened) == (
        None, None, None
    )


def test_missing_measures_that_cannot_change_the_outcome_to_not_improved() -> None:
    # Nothing improved, 2 missing: even if both improved, 2 < 3.
    result = doi(missing=("enzyme", "extramuscular"))
    assert result.status == "not_improved"
    # MMT worsened fails whatever the missing measures did.
    blocked = doi(improved=("physician_global", "patient_global"), worsened=("mmt",),
                  missing=("enzyme", "extramuscular", "haq"))
    assert blocked.status == "not_improved"
    # Three measures already worsened fails whatever the missing measures did.
    worse = doi(improved=("mmt",), worsened=("physician_global", "patient_global", "haq"),
                missing=("enzyme", "extramuscular"))
    assert worse.status == "not_improved"


def test_missing_measures_the_outcome_depends_on_are_not_evaluable() -> None:
    # 2 improved + 2 missing: improved only if at least one missing measure improved.
    result = doi(improved=("physician_global", "patient_global"), missing=("enzyme", "extramuscular"))
    assert result.status == "not_evaluable"
    assert result.reason == "the result depends on missing measures: enzyme, extramuscular"
    # 3 improved, 2 worsened, 1 missing: a third worsening would fail it.
    edge = doi(improved=("physician_global", "patient_global", "mmt"), worsened=("haq", "enzyme"),
               missing=("extramuscular",))
    assert edge.status == "not_evaluable"
    # 3 improved but MMT missing: an MMT worsening would block it.
    mmt = doi(improved=("physician_global", "patient_global", "haq"), missing=("mmt",))
    assert mmt.status == "not_evaluable"
    assert mmt.missing == ("mmt",)


def test_nothing_recorded_is_not_evaluable() -> None:
    result = definition_of_improvement([], thresholds=thresholds())
    assert result.status == "not_evaluable"
    assert result.missing == MEASURES
    assert result.reason == "no core set measure recorded at both baseline and follow-up"


def test_baseline_zero_unchanged_is_a_known_zero_change() -> None:
    result = definition_of_improvement(
        [make("physician_global", 4.0), make("patient_global", 4.0), make("haq", 0.8),
         make("mmt", 40.0), make("enzyme", 2000.0),
         make("extramuscular", 0.0, baseline=0.0)],
        thresholds=thresholds(),
    )
    assert result.status == "improved"
    assert result.missing == ()
    row = next(m for m in result.measures if m.measure == "extramuscular")
    assert (row.percent_change, row.improved, row.worsened) == (0.0, False, False)


def test_baseline_zero_that_changes_is_undefined() -> None:
    result = definition_of_improvement(
        [make("physician_global", 4.0), make("patient_global", 4.0), make("haq", 0.8),
         make("mmt", 40.0), make("enzyme", 2000.0),
         make("extramuscular", 3.0, baseline=0.0)],
        thresholds=thresholds(),
    )
    # 3 improved, MMT recorded and not worsened: one more (missing) measure cannot fail it.
    assert result.status == "improved"
    assert result.missing == ("extramuscular",)


def test_follow_up_missing_is_missing() -> None:
    measures = [
        make(name, IMPROVED_20[name] if name in ("physician_global", "patient_global") else BASELINE[name])
        for name in MEASURES if name != "haq"
    ]
    # 2 improved, 3 unchanged: a HAQ improvement would make 3.
    assert definition_of_improvement(measures, thresholds=thresholds()).status == "not_evaluable"
    partial = definition_of_improvement([*measures, make("haq", None)], thresholds=thresholds())
    assert partial.status == "not_evaluable"
    assert partial.missing == ("haq",)
    complete = definition_of_improvement([*measures, make("haq", 1.0)], thresholds=thresholds())
    assert complete.status == "not_improved"
