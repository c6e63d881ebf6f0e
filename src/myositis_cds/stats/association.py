"""Anti-Mi-2 titer against CK and strength (clinical-reference §6.3, §8; PF2019).

PF2019 found that anti-Mi-2 autoantibody levels correlate with CK and with strength. This module
reports that association for one patient (:func:`titer_association`, Spearman's rank correlation)
and for a cohort (:func:`cohort_titer_model`, a linear mixed model with a random intercept per
patient, as in §8).

Pairing: each titer is paired with the CK (or MMT-8) measurement closest in time within the
engine's lab window, the setting ``lab_visit_window_days`` (§10 [INTERP], 14 days either side by
default); on a tie the earlier measurement is taken, as the engine does. A titer with no
measurement in the window is left unpaired and listed, not dropped silently. Titers and
measurements come from :func:`myositis_cds.stats.trends.patient_trends`, so the units, the MMT-8
scale and the omitted titers are the same as in the plots.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from scipy.stats import spearmanr
from statsmodels.regression.mixed_linear_model import MixedLM

from myositis_cds.engine import EngineParams, Timeline, plain
from myositis_cds.stats.trends import Omission, TrendPoint, TrendSeries, patient_trends

__all__ = [
    "MIN_PAIRS_FOR_INFERENCE",
    "MIN_PAIRS_FOR_P",
    "WINDOW_SETTING",
    "Coefficient",
    "Correlation",
    "MixedModelResult",
    "ModelFit",
    "SpearmanResult",
    "TiterAssociation",
    "TiterPair",
    "cohort_titer_model",
    "fit_random_intercept",
    "pair_titers",
    "spearman",
    "titer_association",
]

MIN_PAIRS_FOR_INFERENCE: Final = 10
"""Below this many pairs a correlation is flagged ``descriptive_only``. A reporting choice, not a
clinical number: with few serial measurements of one patient a p-value says little."""
MIN_PAIRS_FOR_P: Final = 3
"""Spearman's rho needs at least 3 pairs to mean anything (2 pairs are always ±1): no rho and no
p-value below it."""
WINDOW_SETTING: Final = "lab_visit_window_days"
CI_LEVEL: Final = 0.95

Measure = Literal["ck", "mmt8"]


def _window_note(window_days: int) -> str:
    return (f"interpretation: each titer is paired with the measurement closest in time within "
            f"±{window_days} days (setting {WINDOW_SETTING}, §10)")


# -- pairing and Spearman (one patient) ---------------------------------------------------------

@dataclass(frozen=True, kw_only=True, slots=True)
class TiterPair:
    titer_date: dt.date
    titer: float
    titer_source: str
    measure_date: dt.date
    value: float
    measure_source: str
    days_apart: int
    """Measurement date minus titer date."""


def pair_titers(titers: Sequence[TrendPoint], measurements: Sequence[TrendPoint], *,
                window_days: int) -> tuple[tuple[TiterPair, ...], tuple[Omission, ...]]:
    """Each titer with the closest measurement within ``window_days`` either side (ties: earlier)."""
    ordered = sorted(measurements, key=lambda m: (m.date, m.source))
    pairs: list[TiterPair] = []
    unpaired: list[Omission] = []
    for titer in titers:
        best: TrendPoint | None = None
        best_distance = window_days + 1
        for measurement in ordered:
            distance = abs((measurement.date - titer.date).days)
            if distance < best_distance:
                best, best_distance = measurement, distance
        if best is None:
            unpaired.append(Omission(date=titer.date, source=titer.source,
                                     reason=f"no measurement within ±{window_days} days"))
            continue
        pairs.append(TiterPair(titer_date=titer.date, titer=titer.value, titer_source=titer.source,
                               measure_date=best.date, value=best.value,
                               measure_source=best.source,
                               days_apart=(best.date - titer.date).days))
    return tuple(pairs), tuple(unpaired)


@dataclass(frozen=True, kw_only=True, slots=True)
class SpearmanResult:
    n: int
    rho: float | None
    p_value: float | None
    """Two-sided; ``None`` below :data:`MIN_PAIRS_FOR_P` pairs or when a variable is constant."""
    descriptive_only: bool
    caveats: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def spearman(xs: Sequence[float], ys: Sequence[float]) -> SpearmanResult:
    """Spearman's rank correlation (``scipy.stats.spearmanr``) with the caveats of small samples."""
    if len(xs) != len(ys):
        msg = f"xs and ys: got {len(xs)} and {len(ys)} values; expected the same number"
        raise ValueError(msg)
    n = len(xs)
    caveats: list[str] = []
    descriptive = n < MIN_PAIRS_FOR_INFERENCE
    if descriptive:
        caveats.append(f"descriptive only: {n} pair(s), fewer than {MIN_PAIRS_FOR_INFERENCE} "
                       "(a reporting choice); do not read the p-value as evidence")
    if n < MIN_PAIRS_FOR_P:
        caveats.append(f"no correlation computed: fewer than {MIN_PAIRS_FOR_P} pairs")
        return SpearmanResult(n=n, rho=None, p_value=None, descriptive_only=True,
                              caveats=tuple(caveats))
    if len(set(xs)) == 1 or len(set(ys)) == 1:
        caveats.append("no correlation computed: one of the variables is constant")
        return SpearmanResult(n=n, rho=None, p_value=None, descriptive_only=True,
                              caveats=tuple(caveats))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = spearmanr(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    rho = float(result.statistic)
    p_value = float(result.pvalue)
    caveats.extend(f"scipy: {w.message}" for w in caught)
    if not (math.isfinite(rho) and math.isfinite(p_value)):
        caveats.append("no correlation computed: the result was not a finite number")
        return SpearmanResult(n=n, rho=None, p_value=None, descriptive_only=True,
                              caveats=tuple(caveats))
    caveats.append("serial measurements of one patient are not independent observations; "
                   "the p-value assumes they are")
    return SpearmanResult(n=n, rho=rho, p_value=p_value, descriptive_only=descriptive,
                          caveats=tuple(caveats))


@dataclass(frozen=True, kw_only=True, slots=True)
class Correlation:
    measure: Measure
    label: str
    n: int
    rho: float | None
    p_value: float | None
    descriptive_only: bool
    caveats: tuple[str, ...]
    pairs: tuple[TiterPair, ...]
    unpaired: tuple[Omission, ...]
    """Titers without a measurement in the window."""


@dataclass(frozen=True, kw_only=True, slots=True)
class TiterAssociation:
    patient_id: str
    as_of: dt.date
    titer_unit: str
    window_days: int
    window_setting: str
    method: str
    ck: Correlation
    mmt8: Correlation
    titers_omitted: tuple[Omission, ...]
    """Titers not usable at all (no number, another unit), from the trend series."""
    notes: tuple[str, ...]
    citations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def _correlation(measure: Measure, titers: TrendSeries, series: TrendSeries,
                 window_days: int) -> Correlation:
    pairs, unpaired = pair_titers(titers.points, series.points, window_days=window_days)
    result = spearman([p.titer for p in pairs], [p.value for p in pairs])
    label = "CK (× ULN)" if measure == "ck" else f"MMT-8 ({series.unit})"
    return Correlation(measure=measure, label=label, n=result.n, rho=result.rho,
                       p_value=result.p_value, descriptive_only=result.descriptive_only,
                       caveats=result.caveats, pairs=pairs, unpaired=unpaired)


def titer_association(timeline: Timeline, params: EngineParams) -> TiterAssociation:
    """Spearman correlation of the anti-Mi-2 titer with CK ×ULN and with MMT-8 for one patient."""
    window_days = params.settings.integer(WINDOW_SETTING)
    trends = patient_trends(timeline)
    return TiterAssociation(
        patient_id=timeline.patient_id, as_of=timeline.as_of, titer_unit=trends.titer.unit,
        window_days=window_days, window_setting=WINDOW_SETTING,
        method="Spearman rank correlation (scipy.stats.spearmanr), two-sided p-value",
        ck=_correlation("ck", trends.titer, trends.ck, window_days),
        mmt8=_correlation("mmt8", trends.titer, trends.mmt8, window_days),
        titers_omitted=trends.titer.omitted,
        notes=(_window_note(window_days), *trends.titer.notes, *trends.mmt8.notes),
        citations=("PF2019",),
    )


# -- mixed model (cohort) ---------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True, slots=True)
class Coefficient:
    name: str
    estimate: float
    std_error: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelFit:
    outcome: str
    formula: str
    status: Literal["fitted", "not_fitted"]
    reason: str | None
    n_observations: int
    n_patients: int
    coefficients: tuple[Coefficient, ...]
    group_variance: float | None
    """Variance of the random intercept between patients."""
    residual_variance: float | None
    converged: bool | None
    warnings: tuple[str, ...]
    """Warnings raised while fitting (e.g. statsmodels ConvergenceWarning), captured, not printed."""
    method: str

    def coefficient(self, name: str) -> Coefficient:
        return next(c for c in self.coefficients if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def _number(value: object) -> float | None:
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def fit_random_intercept(outcome: Sequence[float], titer: Sequence[float], groups: Sequence[str], *,
                         outcome_name: str, formula: str) -> ModelFit:
    """``outcome ~ 1 + titer`` with a random intercept per group, by REML (statsmodels MixedLM).

    Confidence intervals are Wald intervals at 95 %; p-values are two-sided Wald z tests.
    Warnings raised while fitting are captured in the result; an error makes it ``not_fitted``.
    """
    method = "linear mixed model (statsmodels MixedLM), random intercept per patient, REML; Wald 95% CI"
    n_obs = len(outcome)
    n_groups = len(set(groups))

    def not_fitted(reason: str, caught: Sequence[str] = ()) -> ModelFit:
        return ModelFit(outcome=outcome_name, formula=formula, status="not_fitted", reason=reason,
                        n_observations=n_obs, n_patients=n_groups, coefficients=(),
                        group_variance=None, residual_variance=None, converged=None,
                        warnings=tuple(caught), method=method)

    if not len(outcome) == len(titer) == len(groups):
        msg = "outcome, titer and groups: expected the same number of values"
        raise ValueError(msg)
    if n_groups < 2:
        return not_fitted(f"needs at least 2 patients; got {n_groups}")
    if n_obs < n_groups + 2:
        return not_fitted(f"needs more observations ({n_obs}) than patients ({n_groups}) + 2")
    if len(set(titer)) < 2:
        return not_fitted("the titer does not vary")
    exog = np.column_stack([np.ones(n_obs), np.asarray(titer, dtype=float)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = MixedLM(np.asarray(outcome, dtype=float), exog, groups=np.asarray(groups))
            result = model.fit(reml=True)
            ci = np.asarray(result.conf_int(alpha=1 - CI_LEVEL))
            estimates = np.asarray(result.fe_params)
            errors = np.asarray(result.bse_fe)
            p_values = np.asarray(result.pvalues)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return not_fitted(f"the model could not be fitted: {exc}",
                              [f"{type(w.message).__name__}: {w.message}" for w in caught])
    messages = tuple(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    coefficients = tuple(
        Coefficient(name=name, estimate=float(estimates[i]), std_error=_number(errors[i]),
                    ci_low=_number(ci[i, 0]), ci_high=_number(ci[i, 1]), p_value=_number(p_values[i]))
        for i, name in enumerate(("intercept", "titer")))
    return ModelFit(outcome=outcome_name, formula=formula, status="fitted", reason=None,
                    n_observations=n_obs, n_patients=n_groups, coefficients=coefficients,
                    group_variance=_number(np.asarray(result.cov_re)[0, 0]),
                    residual_variance=_number(result.scale),
                    converged=bool(result.converged), warnings=messages, method=method)


@dataclass(frozen=True, kw_only=True, slots=True)
class MixedModelResult:
    titer_unit: str | None
    mmt8_scale: str
    window_days: int
    window_setting: str
    ck: ModelFit
    """log(CK ×ULN) on titer (natural log): exp(slope) is the factor on CK ×ULN per titer unit."""
    mmt8: ModelFit
    patients: int
    excluded: tuple[str, ...]
    """Patients (or their titers) left out, each with the reason."""
    notes: tuple[str, ...]
    citations: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def _mmt8_scale(series: Sequence[TrendSeries]) -> tuple[str, bool]:
    """The MMT-8 scale of the cohort: points when every patient has the same maximum, else percent."""
    maxima = {(s.unit, s.maximum) for s in series if s.points}
    if len(maxima) <= 1 and all("%" not in unit for unit, _ in maxima):
        unit = next(iter(maxima))[0] if maxima else "points"
        return unit, False
    return "% of maximum", True


def cohort_titer_model(timelines: Iterable[Timeline], params: EngineParams) -> MixedModelResult:
    """Mixed models of log(CK ×ULN) on titer and of MMT-8 on titer across patients (§8).

    Titers in another unit than the cohort's most common one are left out (the assays are not
    comparable) and each such patient is listed in ``excluded``.
    """
    window_days = params.settings.integer(WINDOW_SETTING)
    trends = [patient_trends(t) for t in timelines]
    with_titers = [t for t in trends if t.titer.points]
    excluded = [f"{t.patient_id}: no numeric anti-Mi-2 titer" for t in trends if not t.titer.points]
    units = Counter(t.titer.unit for t in with_titers)
    unit = min(units, key=lambda u: (-units[u], u)) if units else None
    kept = []
    for t in with_titers:
        if t.titer.unit == unit:
            kept.append(t)
        else:
            excluded.append(f"{t.patient_id}: titer unit {t.titer.unit} differs from the cohort's {unit}")
    mmt_unit, as_percent = _mmt8_scale([t.mmt8 for t in kept])
    ck_rows: list[tuple[float, float, str]] = []
    mmt_rows: list[tuple[float, float, str]] = []
    for t in kept:
        ck_pairs, _ = pair_titers(t.titer.points, t.ck.points, window_days=window_days)
        ck_rows += [(math.log(p.value), p.titer, t.patient_id) for p in ck_pairs if p.value > 0]
        mmt_pairs, _ = pair_titers(t.titer.points, t.mmt8.points, window_days=window_days)
        for p in mmt_pairs:
            value = p.value
            if as_percent and "%" not in t.mmt8.unit and t.mmt8.maximum:
                value = 100 * value / t.mmt8.maximum
            mmt_rows.append((value, p.titer, t.patient_id))

    def fit(rows: list[tuple[float, float, str]], name: str, formula: str) -> ModelFit:
        return fit_random_intercept([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                                    outcome_name=name, formula=formula)

    return MixedModelResult(
        titer_unit=unit, mmt8_scale=mmt_unit, window_days=window_days, window_setting=WINDOW_SETTING,
        ck=fit(ck_rows, "log(CK × ULN)", "log(CK × ULN) ~ 1 + titer + (1 | patient)"),
        mmt8=fit(mmt_rows, f"MMT-8 ({mmt_unit})", "MMT-8 ~ 1 + titer + (1 | patient)"),
        patients=len(kept), excluded=tuple(excluded),
        notes=(_window_note(window_days),
               "log is the natural logarithm: exp(titer slope) is the factor by which CK × ULN "
               "changes per titer unit"),
        citations=("PF2019",),
    )
