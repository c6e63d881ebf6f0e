"""Per-patient cohort features derived from ``patient-record@1`` records (clinical-reference §8, PF2019).

Derivation rules (documented in ``docs/cohort.md``; every date is on or before the as-of date):

- **Group** (PF2019's four): a DM diagnosis (dermatomyositis, amyopathic or juvenile) with any
  Mi-2 result ``positive`` → anti-Mi-2-positive DM (a later negative keeps the group, §2); a DM
  diagnosis with Mi-2 tested and every result ``negative`` → anti-Mi-2-negative DM;
  ``antisynthetase_syndrome`` → antisynthetase syndrome; ``imnm`` → IMNM. Anything else (another
  diagnosis, no diagnosis, DM with Mi-2 untested or only ``borderline``) has no group and is
  counted with its reason, never guessed.
- **First visit** = the earliest assessment; without assessments, the diagnosis date.
  A finding **at onset** is read from the finding records dated up to the first visit plus the
  lab window (setting ``lab_visit_window_days``, §10): present if any says present, absent if all
  say absent, missing if there is none. **Ever**: the same over every record.
- **Weakness** = ``proximal_weakness`` or ``extensive_weakness`` present; absent only when
  ``proximal_weakness`` is recorded absent and no weakness is recorded present.
- **CK**: × ULN (values without ULN are not used); at onset = the CK closest to the first visit
  within the lab window; peak = the highest. **MMT-8** in % of the scale's maximum; at onset = the
  first visit's; lowest = the lowest.
- **Longitudinal series**: days since diagnosis (patients without a diagnosis date have none); the
  titer as a multiple of its assay's cut-off (comparable across assays, like CK × ULN; a titer
  without a recorded cut-off is not in the series).
- **Titer course**: numeric anti-Mi-2 titers of one unit (as in the trend plots); declined = last
  below first; normalised = the engine's ``titer_normalised_on``; treatment stopped = a day after the
  first immunosuppressant start with none active; restarted = an immunosuppressant started after
  such a day (a proxy: ``patient-record@1`` has no relapse field).
"""

from __future__ import annotations

import datetime as dt
import io
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TextIO

from myositis_cds.csv_writer import Cell as CsvCell
from myositis_cds.csv_writer import CsvWriter
from myositis_cds.domain.dates import completed_years
from myositis_cds.domain.vocabulary import ALL_FINDINGS, DM_DIAGNOSES
from myositis_cds.engine import EngineParams, PatientContext, Timeline, plain
from myositis_cds.engine.timeline import TreatmentPeriod
from myositis_cds.stats.trends import patient_trends

__all__ = [
    "COHORT_GROUPS",
    "FEATURE_COLUMNS",
    "GROUP_AS",
    "GROUP_IMNM",
    "GROUP_MI2_NEGATIVE",
    "GROUP_MI2_POSITIVE",
    "CohortPatient",
    "TiterCourse",
    "assign_group",
    "cohort_csv_text",
    "derive_patient",
    "feature_text",
    "features_columns",
    "write_cohort_csv",
]

GROUP_MI2_POSITIVE: Final = "anti-Mi-2-positive DM"
GROUP_MI2_NEGATIVE: Final = "anti-Mi-2-negative DM"
GROUP_AS: Final = "antisynthetase syndrome"
GROUP_IMNM: Final = "IMNM"
COHORT_GROUPS: Final = (GROUP_MI2_POSITIVE, GROUP_MI2_NEGATIVE, GROUP_AS, GROUP_IMNM)
WINDOW_SETTING: Final = "lab_visit_window_days"
_FINDINGS: Final = ("weakness", *ALL_FINDINGS)
FEATURE_COLUMNS: Final = (
    "sex", "age_at_diagnosis", "follow_up_years",
    *(f"{code}_{when}" for code in _FINDINGS for when in ("onset", "ever")),
    "ck_onset_x_uln", "ck_peak_x_uln", "mmt8_onset_pct", "mmt8_lowest_pct",
)

Feature = bool | float | int | str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class TiterCourse:
    n_titers: int
    years_followed: int
    """Completed years between the first and the last numeric titer."""
    first: float
    last: float
    declined: bool
    normalised: bool
    stopped_treatment: bool
    restarted_after_stopping: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class CohortPatient:
    """One patient's derived features; no dates (times are days since diagnosis)."""

    key: str
    group: str | None
    group_reason: str
    features: Mapping[str, Feature]
    ck: tuple[tuple[int, float], ...]
    """(days since diagnosis, CK × ULN)."""
    mmt8: tuple[tuple[int, float], ...]
    """(days since diagnosis, MMT-8 % of maximum)."""
    titer_course: TiterCourse | None
    titer: tuple[tuple[int, float], ...] = ()
    """(days since diagnosis, anti-Mi-2 titer × its assay's cut-off)."""

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = plain(self)
        return document


def assign_group(ctx: PatientContext) -> tuple[str | None, str]:
    """PF2019's group of a patient and the reason (module docstring)."""
    name = ctx.diagnosis_name
    if name in DM_DIAGNOSES:
        results = {a.result for a in ctx.mi2_results}
        if "positive" in results:
            return GROUP_MI2_POSITIVE, f"{name} with a positive anti-Mi-2 result"
        if results == {"negative"}:
            return GROUP_MI2_NEGATIVE, f"{name} with every anti-Mi-2 result negative"
        if not results:
            return None, f"{name} without an anti-Mi-2 result: no group"
        return None, f"{name} with only borderline/negative anti-Mi-2 results: no group"
    if name == "antisynthetase_syndrome":
        return GROUP_AS, "diagnosis antisynthetase_syndrome"
    if name == "imnm":
        return GROUP_IMNM, "diagnosis imnm"
    return None, f"diagnosis {name or 'not recorded'}: not one of the four groups"


def _first_visit(ctx: PatientContext) -> dt.date | None:
    return ctx.visits[0].date if ctx.visits else ctx.diagnosis_date


def _finding(ctx: PatientContext, code: str, until: dt.date | None) -> bool | None:
    values = [f.present for f in ctx.record.findings
              if f.code == code and f.date <= ctx.as_of and (until is None or f.date <= until)]
    if not values:
        return None
    return any(values)


def _weakness(ctx: PatientContext, until: dt.date | None) -> bool | None:
    proximal = _finding(ctx, "proximal_weakness", until)
    extensive = _finding(ctx, "extensive_weakness", until)
    if proximal or extensive:
        return True
    return False if proximal is False else None


def _stopped_and_restarted(periods: Sequence[TreatmentPeriod]) -> tuple[bool, bool]:
    treated = sorted((p for p in periods if p.role != "other"), key=lambda p: p.start)
    if not treated:
        return False, False
    end: dt.date | None = treated[0].stop
    restarted = False
    for period in treated[1:]:
        if end is not None and period.start > end + dt.timedelta(days=1):
            restarted = True
        end = None if end is None or period.stop is None else max(end, period.stop)
    return restarted or end is not None, restarted


def _titer_course(timeline: Timeline, diagnosis: dt.date | None) -> TiterCourse | None:
    points = patient_trends(timeline, diagnosis_date=diagnosis).titer.points
    if len(points) < 2:
        return None
    stopped, restarted = _stopped_and_restarted(timeline.treatment_periods)
    first, last = points[0], points[-1]
    return TiterCourse(n_titers=len(points), years_followed=completed_years(first.date, last.date),
                       first=first.value, last=last.value, declined=last.value < first.value,
                       normalised=timeline.titer_normalised_on is not None,
                       stopped_treatment=stopped, restarted_after_stopping=restarted)


def derive_patient(ctx: PatientContext, timeline: Timeline, params: EngineParams, *,
                   key: str | None = None) -> CohortPatient:
    """The cohort features of one patient (module docstring); ``key`` replaces the record id."""
    window = params.setting_int(WINDOW_SETTING)
    group, reason = assign_group(ctx)
    first = _first_visit(ctx)
    until = first + dt.timedelta(days=window) if first else None
    features: dict[str, Feature] = {"sex": ctx.record.sex}
    birth, diagnosis = ctx.record.birth_date, ctx.diagnosis_date
    features["age_at_diagnosis"] = completed_years(birth, diagnosis) if birth and diagnosis else None
    dated = [v.date for v in ctx.visits] + [lab.date for lab in ctx.labs]
    features["follow_up_years"] = (round((max(dated) - diagnosis).days / 365.25, 2)
                                   if diagnosis and dated and max(dated) >= diagnosis else None)
    for code in _FINDINGS:
        if code == "weakness":
            features["weakness_onset"] = _weakness(ctx, until) if until else None
            features["weakness_ever"] = _weakness(ctx, None)
        else:
            features[f"{code}_onset"] = _finding(ctx, code, until) if until else None
            features[f"{code}_ever"] = _finding(ctx, code, None)
    onset_ck = ctx.lab_near("CK", first, window) if first else None
    features["ck_onset_x_uln"] = (round(onset_ck.value / onset_ck.uln, 4)
                                  if onset_ck is not None and onset_ck.uln else None)
    ck_values = [p.multiple_of_uln for p in timeline.ck]
    features["ck_peak_x_uln"] = round(max(ck_values), 4) if ck_values else None
    mmt = [(v.date, 100 * v.mmt8 / v.mmt8_max) for v in timeline.visits if v.mmt8 is not None]
    features["mmt8_onset_pct"] = (round(mmt[0][1], 2) if mmt and first and mmt[0][0] == first else None)
    features["mmt8_lowest_pct"] = round(min(v for _, v in mmt), 2) if mmt else None
    origin = diagnosis
    ck_series = tuple(((p.date - origin).days, p.multiple_of_uln) for p in timeline.ck) if origin else ()
    mmt_series = tuple(((d - origin).days, v) for d, v in mmt) if origin else ()
    titer_series = tuple(((p.date - origin).days, p.titer / p.cutoff) for p in timeline.titers
                         if p.titer is not None and p.cutoff) if origin else ()
    return CohortPatient(key=key or ctx.record.id, group=group, group_reason=reason,
                         features=features, ck=ck_series, mmt8=mmt_series,
                         titer_course=_titer_course(timeline, diagnosis), titer=titer_series)


def features_columns(patients: Sequence[CohortPatient]) -> dict[str, list[Feature]]:
    """One column per feature (``patient``, ``group``, then :data:`FEATURE_COLUMNS`)."""
    columns: dict[str, list[Feature]] = {"patient": [p.key for p in patients],
                                         "group": [p.group for p in patients]}
    for name in FEATURE_COLUMNS:
        columns[name] = [p.features.get(name) for p in patients]
    return columns



def feature_text(value: object) -> str:
    """The text of a feature value (a CSV cell, a Table 1 input): empty for ``None``, yes/no for
    booleans, 6 significant digits for floats."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_cohort_csv(columns: Mapping[str, Sequence[object]], out: TextIO) -> None:
    """One header row and one row per patient; ``None`` is an empty cell, booleans yes/no, numbers
    to 6 significant digits; text through the package's CSV writer (formulas neutralised)."""
    writer = CsvWriter(out, float_format=_six_digits)
    names = list(columns)
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names), strict=True):
        writer.writerow([_csv_cell(v) for v in row])


def _six_digits(value: float) -> str:
    return f"{value:.6g}"


def _csv_cell(value: object) -> CsvCell:
    """Numbers stay numbers (NumPy's too), so that ``-5`` is not neutralised as a formula."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return feature_text(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return feature_text(value)


def cohort_csv_text(columns: Mapping[str, Sequence[object]]) -> str:
    """The per-patient CSV (:func:`write_cohort_csv`) as text."""
    buffer = io.StringIO()
    write_cohort_csv(columns, buffer)
    return buffer.getvalue()
