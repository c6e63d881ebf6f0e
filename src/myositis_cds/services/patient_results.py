"""What one patient's page, letter and list summary are made from: the record parsed once, its
assessment, timeline and trends computed once (the typed results the use cases hand over)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import Assessment, EngineParams, Timeline, assess, build_timeline
from myositis_cds.services.assessing import RecordParser
from myositis_cds.stats.trends import PatientTrends, patient_trends

__all__ = ["PatientResults", "patient_results", "patient_trends_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientResults:
    """Everything a patient page, its print letter and the patient list show of one record on
    one date, computed once."""

    record: PatientRecord
    assessment: Assessment
    timeline: Timeline
    trends: PatientTrends


def patient_results(document: object, *, parse: RecordParser, as_of: dt.date,
                    params: EngineParams) -> PatientResults:
    """Parse ``document`` once and compute its assessment, timeline and trends on ``as_of``.

    Raises :class:`~myositis_cds.errors.RecordValidationError` when the record does not validate."""
    record = parse(document, prefix="$", source="patient record")
    timeline, trends = _timeline_and_trends(record, as_of, params)
    return PatientResults(record=record, assessment=assess(record, as_of, params), timeline=timeline,
                          trends=trends)


def _timeline_and_trends(record: PatientRecord, as_of: dt.date,
                         params: EngineParams) -> tuple[Timeline, PatientTrends]:
    timeline = build_timeline(record, as_of, params)
    diagnosis = record.diagnosis.date if record.diagnosis else None
    return timeline, patient_trends(timeline, diagnosis_date=diagnosis)


def patient_trends_of(document: object, *, parse: RecordParser, as_of: dt.date,
                      params: EngineParams) -> tuple[Timeline, PatientTrends]:
    """The timeline and trends of a stored record, for drawing its trend figures."""
    return _timeline_and_trends(parse(document, prefix="$", source="patient record"), as_of, params)
