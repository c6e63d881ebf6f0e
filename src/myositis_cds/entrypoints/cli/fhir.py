"""``myositis-cds import-fhir PATH``: FHIR R4 (a Bundle, or a Bulk Data NDJSON export) → records.

Writes a ``patient-records@1`` batch (to ``--out FILE`` via a temporary file renamed into place, or
to stdout), or stores the records in the application database (``--store``, acting as
``system:import-fhir``; every create/update is audited). What could not be mapped is summarised on
stderr, or written as JSON with ``--report FILE``. Items the record validator refuses are left out
and listed on stderr with the validator's errors; a patient whose record is still refused is not
imported (the others are). Exit 2 on unreadable input (the message names the file and line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from myositis_cds import bootstrap
from myositis_cds.adapters.fhir import UnmappedReport, ValidatedImport, validate_import
from myositis_cds.adapters.fhir.importing.sources import iter_path_patients
from myositis_cds.adapters.record_json import RECORDS_FORMAT
from myositis_cds.entrypoints.cli.common import (
    AtomicOutput,
    add_site_argument,
    current_date,
    site_from,
    to_json,
)
from myositis_cds.errors import UsageError
from myositis_cds.services import patients
from myositis_cds.services.ports import SystemActor, UnitOfWorkFactory

__all__ = ["IMPORT_ACTOR", "IMPORT_REPORT_FORMAT", "add_fhir_parser", "cmd_import_fhir"]

IMPORT_ACTOR = SystemActor(username="system:import-fhir")
IMPORT_REPORT_FORMAT = "myositis-cds/fhir-import-report@1"


def add_fhir_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = sub.add_parser(
        "import-fhir", help="FHIR R4 Bundle, folder of Bundles (*.json) or Bulk Data export "
        "(folder of *.ndjson) → patient-record@1 records (a batch file, or the database with "
        "--store)")
    command.add_argument("path", help="a Bundle JSON file, a folder of Bundle .json files, an "
                         ".ndjson file, or a Bulk Data export folder")
    target = command.add_mutually_exclusive_group()
    target.add_argument("--out", help="write the patient-records@1 batch to this file "
                        "(default: stdout)")
    target.add_argument("--store", action="store_true",
                        help="store the records in the application database (new patients are "
                        "created; a stored patient whose record differs is kept as it is and "
                        "counted unless --replace; audited as system:import-fhir)")
    command.add_argument("--replace", action="store_true",
                         help="with --store: replace a stored patient's record by the imported "
                         "one (edits made in the application are overwritten)")
    command.add_argument("--database-url", help="with --store: SQLAlchemy URL (default: "
                         "MYOSITIS_CDS_DATABASE_URL or ./var/myositis-cds.sqlite3)")
    add_site_argument(command)
    command.add_argument("--report", help="write the unmapped report as JSON to this file "
                         "(default: a summary on stderr)")
    command.add_argument("--strict", action="store_true",
                         help="first check the input against the FHIR R4 (R4B) models; refuse it "
                         "if it does not conform")
    command.set_defaults(handler=cmd_import_fhir)


@dataclass(slots=True)
class _Tally:
    patients: int = 0
    imported: int = 0
    refused: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0
    """Stored patients whose record differs from the import and were left as stored."""

    def to_dict(self) -> dict[str, int]:
        return {"patients": self.patients, "imported": self.imported, "refused": self.refused,
                "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "kept": self.kept}


def _validated(args: argparse.Namespace, report: UnmappedReport,
               tally: _Tally) -> Iterator[ValidatedImport]:
    today = current_date()
    site = site_from(args)
    imports = iter_path_patients(Path(args.path), mapping=site.mapping, unassigned=report,
                                 strict=args.strict)
    for item in imports:
        tally.patients += 1
        result = validate_import(item, today=today)
        report.merge(result.unmapped)
        if result.errors:
            what = "items left out" if result.accepted else "NOT imported"
            lines = "".join(f"  - {error}\n" for error in result.errors)
            sys.stderr.write(f"FHIR Patient {result.patient_key}: {what}\n{lines}")
        if result.accepted:
            tally.imported += 1
            yield result
        else:
            tally.refused += 1


def _write_batch(results: Iterator[ValidatedImport], out: TextIO) -> None:
    out.write('{"format": "' + RECORDS_FORMAT + '", "records": [')
    for count, result in enumerate(results):
        out.write(("\n" if count == 0 else ",\n") + to_json(result.document))
    out.write("\n]}\n")


def _store(results: Iterator[ValidatedImport], database: UnitOfWorkFactory, tally: _Tally, *,
           replace: bool) -> None:
    parse = bootstrap.make_live_parser()
    for result in results:
        document: dict[str, Any] = result.document or {}
        outcome = patients.insert_or_update(database, IMPORT_ACTOR, document, parse=parse,
                                            replace=replace)
        setattr(tally, outcome, getattr(tally, outcome) + 1)
        if outcome == "kept":
            sys.stderr.write(f"FHIR Patient {document['id']}: stored record differs; kept as stored "
                             "(use --replace to overwrite it)\n")


def _summary(args: argparse.Namespace, report: UnmappedReport, tally: _Tally) -> None:
    if args.report:
        with AtomicOutput(args.report) as out:
            out.write(to_json({"format": IMPORT_REPORT_FORMAT, **tally.to_dict(),
                               "unmapped": report.to_dict()}, indent=True) + "\n")
    else:
        sys.stderr.write(report.to_text())
    stored = (f"; stored: {tally.created} created, {tally.updated} updated, "
              f"{tally.unchanged} unchanged, {tally.kept} kept as stored" if args.store else "")
    sys.stderr.write(f"FHIR import: {tally.patients} patient(s) read, {tally.imported} imported, "
                     f"{tally.refused} refused{stored}\n")


def cmd_import_fhir(args: argparse.Namespace) -> int:
    """Exit 0 when every patient was imported; 2 when some were refused (listed on stderr; the
    others are imported all the same), as ``assess`` does for a batch."""
    if args.replace and not args.store:
        msg = "--replace: only with --store (it replaces stored records)"
        raise UsageError(msg)
    report = UnmappedReport()
    tally = _Tally()
    results = _validated(args, report, tally)
    if args.store:
        database = bootstrap.make_unit_of_work(args.database_url or bootstrap.database_url())
        try:
            _store(results, database, tally, replace=args.replace)
        finally:
            database.dispose()
    else:
        with AtomicOutput(args.out) as out:
            first = next(results, None)  # reads the input before anything is written
            if first is None and tally.patients == 0:
                _summary(args, report, tally)
                msg = f"{args.path}: holds no patient (no Patient resource and no resource whose " \
                      "subject is a Patient); nothing imported"
                raise UsageError(msg)
            _write_batch(_chain(first, results), out)
    _summary(args, report, tally)
    return 2 if tally.refused else 0


def _chain(first: ValidatedImport | None, rest: Iterator[ValidatedImport]) -> Iterator[ValidatedImport]:
    if first is not None:
        yield first
    yield from rest
