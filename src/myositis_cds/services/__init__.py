"""Use cases: assess one record or a stream of them, build timelines, open a patient page, answer
a CDS hook, store imported records; each takes its ports as arguments."""

from myositis_cds.services.assessing import (
    Assessment,
    Outcome,
    RecordParser,
    Timeline,
    TimelineOutcome,
    assess_document,
    assess_stream,
    timeline_of_document,
    timeline_stream,
)

__all__ = [
    "Assessment",
    "Outcome",
    "RecordParser",
    "Timeline",
    "TimelineOutcome",
    "assess_document",
    "assess_stream",
    "timeline_of_document",
    "timeline_stream",
]
