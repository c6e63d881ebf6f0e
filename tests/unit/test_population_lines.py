"""Which NDJSON lines a worklist reads: one test from the text alone, equal in Python and DuckDB
(Spark: tests/integration/test_worklist_engines.py)."""

from __future__ import annotations

import duckdb
import pytest

from myositis_cds.adapters.fhir import load_codes
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.adapters.population.lines import LineFilter

LINES: list[tuple[str, bool]] = [
    ('{"resourceType":"Patient","id":"p1"}', True),
    ('{"resourceType" : "Medication", "id": "m1"}', True),
    ('{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org",'
     '"code":"2157-6"}]},"subject":{"reference":"Patient/p1"}}', True),
    ('{"resourceType":\t"Observation","code":{"coding":[{"code":"8867-4"}]}}', False),
    ('{"resourceType":"Observation","code":{"coding":[{"code":"2157-60"}]}}', False),
    ('{"resourceType":"Condition","code":{"coding":[{"code":"396230008"}]}}', True),
    ('{"resourceType":"Condition","code":{"coding":[{"system":"urn:myositis-cds:codes:finding",'
     '"code":"fever"}]}}', True),
    ('{"resourceType":"MedicationRequest","medicationReference":{"reference":"Medication/m1"}}',
     True),
    ('{"resourceType":"Claim","patient":{"reference":"Patient/p1"},"item":[{"code":"2157-6"}]}',
     False),
    # A contained Patient names a type read: the test is a superset (the line is then decoded and
    # counted by the importer as a type it does not map).
    ('{"resourceType":"ExplanationOfBenefit","contained":[{"resourceType":"Patient"}]}', True),
    ('{"resourceType":"Encounter","subject":{"reference":"Patient/p1"}}', False),
    ('{"resourceType":"Observation","code":{"coding":[{"code":"MI2-AB"}]}}', True),
    ('{"resourceType":"Observation","valueString":"it\'s 2157-6"}', False),
    ('{"resourceType":"Observation","code":{"coding":[{"code":"TIF1.G"}]}}', True),
    ('{"resourceType":"Observation","code":{"coding":[{"code":"TIF1xG"}]}}', False),
]


@pytest.fixture(scope="module")
def lines() -> LineFilter:
    site = "http://hospital.example.org/lab"
    codes = load_codes(None)
    extra = {("antibody", "Mi-2"): f"{site}|MI2-AB", ("antibody", "TIF1-gamma"): f"{site}|TIF1.G"}
    by_coding = dict(codes.by_coding)
    for (category, name), text in extra.items():
        system, _, code = text.partition("|")
        by_coding[system, code] = (category, name)  # type: ignore[assignment]
    mapping = FhirMapping(codes=type(codes)(by_coding=by_coding, by_name=codes.by_name))
    return LineFilter.of(mapping)


def test_python_reads_what_the_table_says(lines: LineFilter) -> None:
    assert [lines.reads(text.encode()) for text, _ in LINES] == [read for _, read in LINES]


def test_duckdb_reads_exactly_the_same_lines(lines: LineFilter) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, line VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(text for text, _ in LINES)))
    found = [read for (read,) in con.execute(
        f"SELECT {lines.duckdb_sql('line')} FROM t ORDER BY i").fetchall()]
    assert found == [read for _, read in LINES]


def test_the_filter_travels_to_worker_processes(lines: LineFilter) -> None:
    import pickle  # noqa: PLC0415

    copy = pickle.loads(pickle.dumps(lines))
    assert copy == lines
    assert copy.reads(LINES[2][0].encode())


def test_a_patient_without_a_population_code_is_outside_without_being_decoded() -> None:
    import datetime as dt  # noqa: PLC0415

    from myositis_cds.adapters.population.evaluate import evaluate_fhir_patient  # noqa: PLC0415
    from myositis_cds.bootstrap import default_params, make_parser  # noqa: PLC0415
    from myositis_cds.services.population import (  # noqa: PLC0415
        PopulationScope,
        WorklistEvaluator,
    )

    mapping = FhirMapping(codes=load_codes())
    lines = LineFilter.of(mapping)
    evaluator = WorklistEvaluator(as_of=dt.date(2026, 11, 21), params=default_params(),
                                  parse=make_parser(dt.date(2026, 11, 21)), incremental=False,
                                  scope=PopulationScope())
    ck = ('{"resourceType":"Observation","id":"o1","status":"final","subject":{"reference":'
          '"Patient/p1"},"code":{"coding":[{"system":"http://loinc.org","code":"2157-6"}]},'
          '"effectiveDateTime":"2026-01-12","valueQuantity":{"value":300,"unit":"U/L"}}')
    broken = '{"resourceType":"Observation", "code": "2157-6" '  # never decoded
    outside = evaluate_fhir_patient(evaluator, "p1", ['{"resourceType":"Patient","id":"p1"}', ck,
                                                      broken], mapping=mapping, medications={},
                                    lines=lines)
    assert not outside.in_population
    assert outside.rows == ()
    dm = ('{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":'
          '{"coding":[{"system":"http://snomed.info/sct","code":"396230008"}]},'
          '"recordedDate":"2026-01-12"}')
    inside = evaluate_fhir_patient(evaluator, "p1", ['{"resourceType":"Patient","id":"p1"}', ck,
                                                     dm], mapping=mapping, medications={},
                                   lines=lines)
    assert inside.in_population
    assert inside.rows
    # A listed patient is evaluated whatever its codes.
    listed = WorklistEvaluator(as_of=dt.date(2026, 11, 21), params=default_params(),
                               parse=make_parser(dt.date(2026, 11, 21)), incremental=False,
                               scope=PopulationScope.of(cohort=["p1"]))
    assert evaluate_fhir_patient(listed, "p1", ['{"resourceType":"Patient","id":"p1"}', ck],
                                 mapping=mapping, medications={}, lines=lines).in_population
