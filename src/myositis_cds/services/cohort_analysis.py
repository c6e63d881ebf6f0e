"""PF2019's cohort analyses (clinical reference §8) on derived per-patient features: one
implementation for the command line (``myositis-cds cohort table1|figure|titers``) and the
researcher's page of the clinic application.

:func:`cohort_data` turns derived patients into the columns Table 1 reads, :func:`cohort_table1`
makes Table 1 by the groups present (the four PF2019 groups in their order),
:func:`course_curves` the pooled LOWESS of CK and strength by group (the figure), and
:func:`analyse_stored_cohort` does all of it on the clinic database, de-identified and audited as
one ``cohort.export`` event (see :mod:`myositis_cds.services.cohort`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from myositis_cds.engine import EngineParams
from myositis_cds.errors import UsageError
from myositis_cds.services.assessing import RecordParser
from myositis_cds.services.cohort import DeidentifiedCohort, deidentified_cohort
from myositis_cds.services.ports import Actor, UnitOfWorkFactory

if TYPE_CHECKING:
    from myositis_cds.stats.cohort_features import CohortPatient
    from myositis_cds.stats.cohort_longitudinal import CourseCurves, TiterCourseSummary
    from myositis_cds.stats.contingency import Policy
    from myositis_cds.stats.table1 import CohortData, Table1

__all__ = [
    "GROUP_COLUMN",
    "ID_COLUMN",
    "CohortAnalysis",
    "analyse_stored_cohort",
    "cohort_data",
    "cohort_table1",
    "course_curves",
    "group_order",
]

GROUP_COLUMN: Final = "group"
ID_COLUMN: Final = "patient"


def cohort_data(patients: Sequence[CohortPatient], *, source: str, synthetic: bool,
                notes: Sequence[str] = ()) -> CohortData:
    """The per-patient feature columns (as the text a CSV would hold) that Table 1 reads."""
    from myositis_cds.stats.cohort_features import feature_text, features_columns  # noqa: PLC0415
    from myositis_cds.stats.table1 import CohortData  # noqa: PLC0415 - scipy on use

    columns = {name: [None if v is None else feature_text(v) for v in values]
               for name, values in features_columns(patients).items()}
    excluded = [p for p in patients if p.group is None]
    derived = (f"Features derived from records by the documented rules (docs/cohort.md); "
               f"{len(excluded)} patient(s) in none of the four groups.",) if excluded else ()
    return CohortData(source=source, columns=columns, synthetic=synthetic,
                      notes=(*derived, *notes))


def group_order(data: CohortData, group: str, explicit: str | None = None) -> list[str] | None:
    """The groups to compare: ``explicit`` (comma-separated), else the PF2019 groups present in
    their published order, else None (every group, as found)."""
    from myositis_cds.stats.cohort_features import COHORT_GROUPS  # noqa: PLC0415

    if explicit:
        return [g.strip() for g in explicit.split(",") if g.strip()]
    present = {v.strip() for v in data.columns.get(group, []) if v is not None and v.strip()}
    if present and present <= set(COHORT_GROUPS):
        return [g for g in COHORT_GROUPS if g in present]
    return None


def cohort_table1(data: CohortData, *, group: str = GROUP_COLUMN, policy: Policy = "fisher",
                  groups: str | None = None, variables: Sequence[str] | None = None,
                  id_column: str = ID_COLUMN) -> Table1:
    """Table 1 of ``data`` by ``group``; UsageError (naming the problem) for a bad request."""
    from myositis_cds.stats.table1 import table1  # noqa: PLC0415 - scipy on use

    try:
        return table1(data, group=group, policy=policy, groups=group_order(data, group, groups),
                      variables=list(variables) if variables else None, id_column=id_column)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def course_curves(patients: Sequence[CohortPatient]) -> CourseCurves:
    """Pooled LOWESS curves by group (patients in one of the groups)."""
    from myositis_cds.stats.cohort_longitudinal import CourseCurves, group_curves  # noqa: PLC0415

    grouped = [p for p in patients if p.group is not None]
    return CourseCurves(ck=group_curves(grouped, "ck"), mmt8=group_curves(grouped, "mmt8"),
                        titer=group_curves(grouped, "titer"))


@dataclass(frozen=True, slots=True, kw_only=True)
class CohortAnalysis:
    """The researcher's view of the stored cohort: every part is de-identified."""

    cohort: DeidentifiedCohort
    data: CohortData
    table1: Table1 | None
    table1_problem: str
    """Why there is no Table 1 (e.g. fewer than two groups with patients)."""
    curves: CourseCurves
    titer_course: TiterCourseSummary


def analyse_stored_cohort(uow: UnitOfWorkFactory, actor: Actor, *, parse: RecordParser,
                          params: EngineParams, as_of: dt.date, policy: Policy = "fisher",
                          min_years: int = 4) -> CohortAnalysis:
    """Table 1, the course curves, the titer mixed model and the long titer courses of every
    stored patient, de-identified (one audited ``cohort.export``)."""
    from myositis_cds.stats.cohort_longitudinal import titer_course_summary  # noqa: PLC0415

    cohort = deidentified_cohort(uow, actor, parse=parse, params=params, as_of=as_of)
    data = cohort_data(cohort.patients, source="clinic database (de-identified)",
                       synthetic=cohort.synthetic, notes=cohort.notes)
    try:
        table, problem = cohort_table1(data, policy=policy), ""
    except UsageError as exc:
        table, problem = None, str(exc)
    return CohortAnalysis(cohort=cohort, data=data, table1=table, table1_problem=problem,
                          curves=course_curves(cohort.patients),
                          titer_course=titer_course_summary(cohort.patients, min_years=min_years))
