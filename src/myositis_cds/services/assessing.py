"""Assess a stream of decoded record documents, one outcome per record, in order.

The parser (an adapter) is passed in, so the use case does not know where records come from. A
record that fails validation gives an :class:`Outcome` carrying its error; the stream goes on, so
one bad record in a batch of 100,000 loses nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import Assessment, EngineParams, assess
from myositis_cds.errors import RecordValidationError

__all__ = ["Outcome", "RecordParser", "assess_stream"]


class RecordParser(Protocol):
    def __call__(self, data: object, *, prefix: str, source: str) -> PatientRecord: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    path: str
    assessment: Assessment | None
    error: RecordValidationError | None


def assess_stream(
    documents: Iterable[tuple[str, object]],
    *,
    parse: RecordParser,
    as_of: dt.date,
    params: EngineParams,
    source: str = "record",
) -> Iterator[Outcome]:
    """Validate and assess each ``(json_path, document)``; errors are outcomes, not exceptions."""
    for path, data in documents:
        try:
            record = parse(data, prefix=path, source=source)
        except RecordValidationError as exc:
            yield Outcome(path=path, assessment=None, error=exc)
            continue
        yield Outcome(path=path, assessment=assess(record, as_of, params), error=None)
