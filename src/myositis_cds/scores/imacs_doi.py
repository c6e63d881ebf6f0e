"""IMACS 2004 preliminary definition of improvement (DOI). Citation key: IMACS-DOI-2004; §6.2.

Improved if at least 3 of the 6 core set measures improve by ≥ 20 %, no more than 2 worsen by
≥ 25 %, and MMT is not among the worsened. Percent change is relative to the baseline value.

A measure that is missing (or whose baseline is 0 and follow-up is not, making a relative change
undefined; 0 → 0 is a 0 % change) is never imputed: the result is ``improved`` only if it holds
whatever the missing measures did, and ``not_improved`` only if it fails whatever they did;
otherwise ``not_evaluable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from myositis_cds.domain.values import value_object
from myositis_cds.scores.tis import MEASURES, MeasureInput

__all__ = ["DoiMeasure", "DoiResult", "DoiThresholds", "definition_of_improvement"]


@value_object
class DoiThresholds:
    improvement_percent: Decimal
    worsening_percent: Decimal
    min_improved: int
    max_worsened: int


@value_object
class DoiMeasure:
    measure: str
    percent_change: float | None
    improved: bool | None
    worsened: bool | None


@value_object
class DoiResult:
    status: Literal["improved", "not_improved", "not_evaluable"]
    improved_count: int
    worsened_count: int
    missing: tuple[str, ...]
    measures: tuple[DoiMeasure, ...]
    reason: str | None = None


def _relative_change(item: MeasureInput) -> Decimal | None:
    if item.baseline is None or item.followup is None:
        return None
    b, f = Decimal(repr(item.baseline)), Decimal(repr(item.followup))
    if b == 0:  # relative change undefined, except that no change at all is a 0 % change
        return Decimal(0) if f == 0 else None
    delta = (f - b) if item.measure == "mmt" else (b - f)
    return Decimal(100) * delta / b


def _meets(improved: int, worsened: int, mmt_worsened: bool, t: DoiThresholds) -> bool:
    return improved >= t.min_improved and worsened <= t.max_worsened and not mmt_worsened


def definition_of_improvement(
    measures: Sequence[MeasureInput], *, thresholds: DoiThresholds
) -> DoiResult:
    by_name = {m.measure: m for m in measures}
    rows: list[DoiMeasure] = []
    improved = worsened = 0
    mmt_worsened = False
    missing: list[str] = []
    for name in MEASURES:
        item = by_name.get(name) or MeasureInput(measure=name, baseline=None, followup=None)
        change = _relative_change(item)
        if change is None:
            missing.append(name)
            rows.append(DoiMeasure(measure=name, percent_change=None, improved=None, worsened=None))
            continue
        is_improved = change >= thresholds.improvement_percent
        is_worsened = change <= -thresholds.worsening_percent
        improved += is_improved
        worsened += is_worsened
        mmt_worsened = mmt_worsened or (name == "mmt" and is_worsened)
        rows.append(DoiMeasure(measure=name, percent_change=float(change),
                               improved=is_improved, worsened=is_worsened))
    if len(missing) == len(MEASURES):
        return DoiResult(status="not_evaluable", improved_count=0, worsened_count=0,
                         missing=tuple(missing), measures=tuple(rows),
                         reason="no core set measure recorded at both baseline and follow-up")
    # Best case: every missing measure improved and none worsened; worst case: all worsened.
    best = _meets(improved + len(missing), worsened, mmt_worsened, thresholds)
    worst = _meets(improved, worsened + len(missing), mmt_worsened or "mmt" in missing, thresholds)
    if worst:
        status: Literal["improved", "not_improved", "not_evaluable"] = "improved"
    elif not best:
        status = "not_improved"
    else:
        status = "not_evaluable"
    reason = None if status != "not_evaluable" else (
        "the result depends on missing measures: " + ", ".join(missing)
    )
    return DoiResult(status=status, improved_count=improved, worsened_count=worsened,
                     missing=tuple(missing), measures=tuple(rows), reason=reason)
