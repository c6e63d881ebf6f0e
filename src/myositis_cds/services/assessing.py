"""The use cases "assess" and "timeline": a stream of decoded record documents, one typed result
per record, in order.

The parser (an adapter) is passed in, so the use case does not know where records come from. Each
record is parsed once and handed to the engine once; the typed result (an
:class:`~myositis_cds.engine.Assessment` or a :class:`~myositis_cds.engine.Timeline`) goes to
whoever presents it. A record that fails validation gives an outcome carrying its error; the
stream goes on, so one bad record in a batch of 100,000 loses nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import Assessment, EngineParams, Timeline, assess, build_timeline
from myositis_cds.errors import RecordValidationError

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


class RecordParser(Protocol):
    def __call__(self, data: object, *, prefix: str, source: str) -> PatientRecord: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    path: str
    assessment: Assessment | None
    error: RecordValidationError | None


def _parsed(documents: Iterable[tuple[str, object]], parse: RecordParser,
            source: str) -> Iterator[tuple[str, PatientRecord | RecordValidationError]]:
    """Each ``(json_path, document)`` parsed once: its record, or its validation error."""
    for path, data in documents:
        try:
            yield path, parse(data, prefix=path, source=source)
        except RecordValidationError as exc:
            yield path, exc


def assess_stream(
    documents: Iterable[tuple[str, object]],
    *,
    parse: RecordParser,
    as_of: dt.date,
    params: EngineParams,
    source: str = "record",
) -> Iterator[Outcome]:
    """Validate and assess each ``(json_path, document)``; errors are outcomes, not exceptions."""
    for path, parsed in _parsed(documents, parse, source):
        if isinstance(parsed, RecordValidationError):
            yield Outcome(path=path, assessment=None, error=parsed)
        else:
            yield Outcome(path=path, assessment=assess(parsed, as_of, params), error=None)


@dataclass(frozen=True, slots=True)
class TimelineOutcome:
    path: str
    timeline: Timeline | None
    error: RecordValidationError | None


def timeline_stream(
    documents: Iterable[tuple[str, object]],
    *,
    parse: RecordParser,
    as_of: dt.date,
    params: EngineParams,
    source: str = "record",
) -> Iterator[TimelineOutcome]:
    """Validate each ``(json_path, document)`` and build its timeline; errors are outcomes."""
    for path, parsed in _parsed(documents, parse, source):
        if isinstance(parsed, RecordValidationError):
            yield TimelineOutcome(path=path, timeline=None, error=parsed)
        else:
            yield TimelineOutcome(path=path, timeline=build_timeline(parsed, as_of, params),
                                  error=None)


def assess_document(document: object, *, parse: RecordParser, as_of: dt.date,
                    params: EngineParams) -> Assessment:
    """One record document, validated (RecordValidationError listing every problem) and assessed."""
    return assess(parse(document, prefix="$", source="patient record"), as_of, params)


def timeline_of_document(document: object, *, parse: RecordParser, as_of: dt.date,
                         params: EngineParams) -> Timeline:
    """One record document, validated and followed over time."""
    return build_timeline(parse(document, prefix="$", source="patient record"), as_of, params)
