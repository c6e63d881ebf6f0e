"""myositis-cds: clinical decision support for dermatomyositis with anti-Mi-2 autoantibodies.

The curated public API::

    import myositis_cds as cds
    result = cds.assess_document(record_dict, as_of=datetime.date(2026, 4, 20))
    cds.to_dict(result)["alerts"]

Everything here is tested as the package's contract; other modules are internal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path

from myositis_cds import bootstrap
from myositis_cds.adapters.assessment_schema import assessment_json_schema
from myositis_cds.adapters.record_json import parse_record, record_json_schema
from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import ASSESSMENT_FORMAT, Assessment, EngineParams, assess, to_dict
from myositis_cds.errors import (
    FieldError,
    KnowledgePackError,
    MyositisCdsError,
    RecordValidationError,
    SettingsError,
    UsageError,
)
from myositis_cds.knowledge import KnowledgePack, load_pack

__all__ = [
    "ASSESSMENT_FORMAT",
    "Assessment",
    "EngineParams",
    "FieldError",
    "KnowledgePack",
    "KnowledgePackError",
    "MyositisCdsError",
    "PatientRecord",
    "RecordValidationError",
    "SettingsError",
    "UsageError",
    "__version__",
    "assess",
    "assess_document",
    "assessment_json_schema",
    "load_pack",
    "load_records",
    "make_params",
    "parse_record",
    "record_json_schema",
    "to_dict",
]

__version__ = "0.1.0"
make_params = bootstrap.make_params


def assess_document(
    data: Mapping[str, object],
    *,
    as_of: dt.date | None = None,
    settings: Mapping[str, object] | None = None,
    today: dt.date | None = None,
) -> Assessment:
    """Validate one decoded ``patient-record@1`` document and assess it.

    ``as_of`` defaults to ``today`` (the local date unless given); ``settings`` overrides the
    pack's settings by name. Raises :class:`RecordValidationError` for a bad record.
    """
    today = today or dt.date.today()  # noqa: DTZ011 - the clinic's calendar date
    record = parse_record(data, today=today)
    return assess(record, as_of or today, bootstrap.make_params(overrides=settings))


def load_records(path: Path | str, *, today: dt.date | None = None) -> Iterator[PatientRecord]:
    """Validated records of a ``patient-record@1`` or (streamed) ``patient-records@1`` file."""
    parse = bootstrap.make_parser(today or dt.date.today())  # noqa: DTZ011
    for json_path, data in bootstrap.iter_documents(Path(path)):
        yield parse(data, prefix=json_path, source=str(path))
