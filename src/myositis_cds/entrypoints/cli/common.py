"""Helpers shared by the command-line commands: dates, settings, output files, JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO, TypeVar

import orjson

from myositis_cds import bootstrap
from myositis_cds.bootstrap import EngineParams, SiteConfig
from myositis_cds.entrypoints.dates import as_of_problem, iso_date
from myositis_cds.errors import (
    UsageError,
)
from myositis_cds.services import Outcome, assess_stream

__all__ = [
    "ERROR_FORMAT",
    "FORMATS",
    "AtomicOutput",
    "Run",
    "add_site_argument",
    "as_of_from",
    "current_date",
    "error_dict",
    "example_names",
    "examples_dir",
    "first_of",
    "outcomes_of",
    "params_from",
    "parse_date",
    "site_from",
    "start_run",
    "to_json",
]


FORMATS = ("text", "markdown", "json", "html")
ERROR_FORMAT = "myositis-cds/assessment-error@1"

T = TypeVar("T")


def current_date() -> dt.date:
    """Today's date; ``MYOSITIS_CDS_TODAY`` (ISO) pins it for reproducible runs and tests."""
    return bootstrap.current_date()


def parse_date(text: str, name: str) -> dt.date:
    day = iso_date(text)
    if day is None:
        msg = f"{name}: got {text!r}; expected an ISO 8601 date YYYY-MM-DD"
        raise UsageError(msg)
    return day


def examples_dir() -> Path:
    return Path(str(resources.files("myositis_cds").joinpath("examples")))


def example_names() -> list[str]:
    return sorted(p.stem for p in examples_dir().glob("*.json"))


def params_from(args: argparse.Namespace) -> EngineParams:
    settings = getattr(args, "settings", None)
    return bootstrap.make_params(settings_file=Path(settings) if settings else None)


def add_site_argument(command: argparse.ArgumentParser) -> None:
    """``--site FILE`` (the site configuration; default ``MYOSITIS_CDS_SITE``) and ``--codes FILE``
    (a code table alone, myositis-cds/fhir-codes@1: the former option, kept)."""
    command.add_argument("--site", help="the site configuration (TOML, myositis-cds/site@1: "
                         "codes, default ULNs, dose strengths...; default: $MYOSITIS_CDS_SITE)")
    command.add_argument("--codes", help="a site code table only (TOML, myositis-cds/fhir-codes@1)"
                         "; prefer --site")


def site_from(args: argparse.Namespace) -> SiteConfig:
    """The site configuration named by ``--site`` (or ``MYOSITIS_CDS_SITE``), or a code table given
    with ``--codes``; both at once is a usage error."""
    site, codes = getattr(args, "site", None), getattr(args, "codes", None)
    if codes is not None:
        if site is not None:
            msg = "--codes: not with --site (put the codes in the site file's [codes] tables)"
            raise UsageError(msg)
        return bootstrap.codes_only_site(Path(codes))
    return bootstrap.load_site(Path(site)) if site is not None else bootstrap.site_from_environment()


def as_of_from(args: argparse.Namespace, today: dt.date) -> dt.date:
    if args.as_of is None:
        return today
    as_of = parse_date(args.as_of, "--as-of")
    problem = as_of_problem(as_of, today)
    if problem is not None:
        msg = f"--as-of: got {as_of}; expected {problem}"
        raise UsageError(msg)
    return as_of


def outcomes_of(path: Path, as_of: dt.date, today: dt.date,
              params: EngineParams) -> Iterator[Outcome]:
    if not path.is_file():
        msg = f"{path}: no such file"
        raise UsageError(msg)
    return assess_stream(bootstrap.iter_documents(path), parse=bootstrap.make_parser(today),
                         as_of=as_of, params=params, source=str(path))


def to_json(value: object, *, indent: bool = False) -> str:
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(value, option=option).decode()


def error_dict(outcome: Outcome) -> dict[str, Any]:
    assert outcome.error is not None
    return {"format": ERROR_FORMAT, "path": outcome.path,
            "errors": [e.to_dict() for e in outcome.error.errors]}


class AtomicOutput:
    """Write to ``path`` via a temporary file renamed into place on success; stdout if no path.

    A path that exists and is not a regular file (``/dev/null``, a FIFO, a terminal) is written
    directly: renaming over it would replace the device.
    """

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._tmp: Any = None
        self._direct: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.path is None:
            return sys.stdout
        if self.path.exists() and not self.path.is_file():
            self._direct = self.path.open("w", encoding="utf-8")
            return self._direct
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.path.parent, delete=False, suffix=".partial")
        return self._tmp  # type: ignore[no-any-return]

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._direct is not None:
            self._direct.close()
            return
        if self._tmp is None:
            return
        self._tmp.close()
        if exc_type is None and self.path is not None:
            Path(self._tmp.name).replace(self.path)
        else:
            Path(self._tmp.name).unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Run:
    """What every record-reading command starts from: the dates, the settings and the file."""

    today: dt.date
    as_of: dt.date
    params: EngineParams
    path: Path

    @property
    def citations(self) -> dict[str, str]:
        return dict(self.params.pack.citations)


def start_run(args: argparse.Namespace) -> Run:
    """Today, ``--as-of`` (checked), ``--settings`` and the FILE argument of a command."""
    today = current_date()
    return Run(today=today, as_of=as_of_from(args, today), params=params_from(args),
               path=Path(args.file))


def first_of(items: Iterator[T], path: Path) -> T:
    """The first record's result; a batch without records is a usage error."""
    first = next(items, None)
    if first is None:
        msg = f"{path}: the batch holds no records"
        raise UsageError(msg)
    return first
