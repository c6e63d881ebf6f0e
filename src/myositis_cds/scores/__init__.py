"""Clinical instruments, one module each: pure functions over numbers, standard library only."""

from myositis_cds.scores.bsa import mosteller_bsa
from myositis_cds.scores.imacs_doi import (
    DoiMeasure,
    DoiResult,
    DoiThresholds,
    definition_of_improvement,
)
from myositis_cds.scores.tis import (
    CATEGORIES,
    MEASURES,
    MeasureInput,
    MeasureScore,
    TisResult,
    TisTables,
    band_points,
    categorise,
    percent_change,
    total_improvement_score,
)

__all__ = [
    "CATEGORIES",
    "MEASURES",
    "DoiMeasure",
    "DoiResult",
    "DoiThresholds",
    "MeasureInput",
    "MeasureScore",
    "TisResult",
    "TisTables",
    "band_points",
    "categorise",
    "definition_of_improvement",
    "mosteller_bsa",
    "percent_change",
    "total_improvement_score",
]
