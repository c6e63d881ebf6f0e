"""``myositis-cds export-fhir``: a record file (or batch) as FHIR R4B Bundles.

``--what assessment`` (default): the assessment as DetectedIssues, a CarePlan and the citations;
``--what record``: the record as Patient, Condition, Observation, MedicationStatement and
DiagnosticReport resources; ``--what both``: the two in one Bundle, the alerts' ``implicated``
pointing at the record's resources. One record → one Bundle (indented JSON). A
``patient-records@1`` batch → NDJSON, one Bundle per line, in the batch's order; a record that fails
validation becomes an ``OperationOutcome`` line (one issue per field error, and the message on
stderr), the others are still exported, and the exit code is 2. Every Bundle is checked against the
FHIR R4B models before anything is written (``--no-validate`` skips it for large batches); a Bundle
that fails is an internal error (exit 1), nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from myositis_cds import bootstrap
from myositis_cds.adapters.fhir.codes import FhirCodes
from myositis_cds.adapters.fhir.exporting.assessment import assessment_bundle
from myositis_cds.adapters.fhir.exporting.common import bundle, validate_bundle
from myositis_cds.adapters.fhir.exporting.record import record_entries
from myositis_cds.domain.record import PatientRecord
from myositis_cds.engine import assess, to_dict
from myositis_cds.entrypoints.cli.common import (
    AtomicOutput,
    Run,
    add_site_argument,
    site_from,
    start_run,
    to_json,
)
from myositis_cds.errors import RecordValidationError, UsageError

__all__ = ["WHAT", "add_fhir_export_parser", "cmd_export_fhir", "operation_outcome"]

WHAT = ("assessment", "record", "both")


def add_fhir_export_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser(
        "export-fhir", help="export a patient-record@1 file (or batch) as FHIR R4B Bundles: the "
        "assessment (DetectedIssue, CarePlan), the record, or both")
    export.add_argument("file")
    export.add_argument("--what", choices=WHAT, default="assessment",
                        help="what to export (default: assessment)")
    export.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    export.add_argument("--settings", help="site settings file (TOML or JSON)")
    add_site_argument(export)
    export.add_argument("--bundle-type", choices=("collection", "transaction"), default="collection",
                        help="Bundle type of --what record (default: collection; transaction "
                        "POSTs each resource); the others are always collections")
    export.add_argument("--no-validate", action="store_true",
                        help="skip the check against the FHIR R4B models (tens of ms per Bundle; "
                        "for large batches)")
    export.add_argument("--out", help="write to this file instead of stdout")
    export.set_defaults(handler=cmd_export_fhir)


class _Exporter:
    def __init__(self, run: Run, args: argparse.Namespace, codes: FhirCodes) -> None:
        self.run = run
        self.what: str = args.what
        self.bundle_type: str = args.bundle_type
        self.codes = codes
        pack = run.params.pack
        self.citations = run.citations
        self.titles = {rule.id: rule.title for rule in pack.rules.values()}

    def export(self, record: PatientRecord) -> dict[str, Any]:
        if self.what == "record":
            entries, _ = record_entries(record, codes=self.codes)
            return bundle(entries, bundle_type=self.bundle_type)
        document = to_dict(assess(record, self.run.as_of, self.run.params))
        both = record_entries(record, codes=self.codes) if self.what == "both" else None
        return assessment_bundle(document, citations=self.citations, codes=self.codes,
                                 rule_titles=self.titles, record=both)


def operation_outcome(error: RecordValidationError) -> dict[str, Any]:
    """A rejected record as a FHIR OperationOutcome: one issue per field error."""
    return {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "invalid", "diagnostics": str(e), "expression": [e.path]}
        for e in error.errors]}


def _records(run: Run) -> Iterator[tuple[str, PatientRecord | RecordValidationError]]:
    if not run.path.is_file():
        msg = f"{run.path}: no such file"
        raise UsageError(msg)
    parse = bootstrap.make_parser(run.today)
    for path, data in bootstrap.iter_documents(run.path):
        try:
            yield path, parse(data, prefix=path, source=str(run.path))
        except RecordValidationError as exc:
            yield path, exc


class _InvalidExportError(Exception):
    """An exported Bundle failed validation: a defect of myositis-cds, not of the input."""


def _checked(data: dict[str, Any], validate: bool, where: str) -> dict[str, Any]:
    problems = validate_bundle(data) if validate else []
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems[:20])
        msg = f"{where}: the exported Bundle is not valid FHIR R4B (a defect of myositis-cds)\n{lines}"
        raise _InvalidExportError(msg)
    return data


def cmd_export_fhir(args: argparse.Namespace) -> int:
    if args.bundle_type == "transaction" and args.what != "record":
        msg = (f"--bundle-type: got 'transaction' with --what {args.what}; expected 'collection' "
               "(only a record Bundle is written as a transaction)")
        raise UsageError(msg)
    run = start_run(args)
    exporter = _Exporter(run, args, site_from(args).mapping.codes)
    validate = not args.no_validate
    records = _records(run)
    first = next(records, None)
    if first is None:
        msg = f"{run.path}: the batch holds no records"
        raise UsageError(msg)
    path, item = first
    if path == "$":  # a single record: all or nothing
        if isinstance(item, RecordValidationError):
            raise item
        try:
            data = _checked(exporter.export(item), validate, str(run.path))
        except _InvalidExportError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
        with AtomicOutput(args.out) as out:
            out.write(to_json(data, indent=True) + "\n")
        return 0
    errors = 0
    try:
        with AtomicOutput(args.out) as out:
            for path, item in _chain(first, records):
                if isinstance(item, RecordValidationError):
                    errors += 1
                    sys.stderr.write(f"{item}\n")
                    out.write(to_json(operation_outcome(item)) + "\n")
                    continue
                out.write(to_json(_checked(exporter.export(item), validate,
                                           f"{run.path} {path}")) + "\n")
    except _InvalidExportError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    if errors:
        sys.stderr.write(f"{errors} record(s) rejected; the others were exported\n")
        return 2
    return 0


def _chain(head: tuple[str, PatientRecord | RecordValidationError],
           rest: Iterator[tuple[str, PatientRecord | RecordValidationError]],
           ) -> Iterator[tuple[str, PatientRecord | RecordValidationError]]:
    yield head
    yield from rest
