"""Composition root: picks the knowledge pack, the settings and the record adapter for a run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

from myositis_cds.adapters.record_file import iter_raw_records
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import EngineParams
from myositis_cds.knowledge import load_pack, load_settings_file, resolve_settings
from myositis_cds.services import RecordParser

__all__ = ["default_params", "iter_documents", "make_params", "make_parser"]


@cache
def default_params() -> EngineParams:
    """The embedded pack with its default settings (loaded and linted once per process)."""
    pack = load_pack()
    return EngineParams.build(pack, resolve_settings(pack))


def make_params(*, settings_file: Path | None = None, pack_file: Path | None = None,
                overrides: Mapping[str, object] | None = None) -> EngineParams:
    if settings_file is None and pack_file is None and not overrides:
        return default_params()
    pack = load_pack(pack_file) if pack_file else default_params().pack
    if settings_file is not None:
        settings = load_settings_file(pack, settings_file)
    else:
        settings = resolve_settings(pack, overrides)
    return EngineParams.build(pack, settings)


def make_parser(today: dt.date) -> RecordParser:
    def parse(data: object, *, prefix: str, source: str) -> PatientRecord:
        return parse_record(data, today=today, prefix=prefix, source=source)

    return parse


def iter_documents(path: Path) -> Iterator[tuple[str, object]]:
    return ((raw.path, raw.data) for raw in iter_raw_records(path))


