"""The three worklist engines agree (local == duckdb == spark), and their SQL patient keys equal
the importer's ``patient_key_of``. Spark runs in local mode (``local[2]``, UI off) in one session
shared by the module."""

from __future__ import annotations

import os
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from myositis_cds.adapters.fhir.importing.importer import patient_key_of
from myositis_cds.adapters.population.duck import PATIENT_KEY_SQL
from myositis_cds.adapters.population.spark import KEY_SQL, spark_session
from myositis_cds.entrypoints.cli import main
from tests.conftest import EXAMPLES, TODAY
from tests.worklist_population import generate_record, write_folder, write_ndjson

RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p-1"},
    {"resourceType": "Patient", "id": ""},
    {"resourceType": "Patient"},
    {"resourceType": "Observation", "subject": {"reference": "Patient/p-1"}},
    {"resourceType": "Observation", "subject": {"reference": "https://x.org/fhir/Patient/p.2"}},
    {"resourceType": "Observation", "subject": {"reference": "Patient/p3/_history/4"}},
    {"resourceType": "Observation", "subject": {"reference": "Group/g1"},
     "patient": {"reference": "Patient/p4"}},
    {"resourceType": "MedicationStatement", "subject": {"reference": "Group/g1"}},
    {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p5"}},
    {"resourceType": "Observation", "subject": {"reference": "urn:uuid:1234"}},
    {"resourceType": "Observation", "subject": {"display": "no reference"}},
    {"resourceType": "Medication", "id": "m1"},
]


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    saved = {k: os.environ.get(k) for k in ("SPARK_LOCAL_IP", "PYSPARK_PYTHON")}
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = spark_session("local[2]")
    yield session
    session.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_duckdb_key_equals_the_importer_key(tmp_path: Path) -> None:
    path = tmp_path / "r.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in RESOURCES))
    keys = duckdb.connect().execute(
        f"SELECT {PATIENT_KEY_SQL} FROM read_ndjson_objects('{path}')").fetchall()
    assert [k for (k,) in keys] == [patient_key_of(r) for r in RESOURCES]
    assert [patient_key_of(r) for r in RESOURCES] == [
        "p-1", None, None, "p-1", "p.2", "p3", "p4", None, "p5", None, None, None]


def _worklist(source: Path, engine: str, out: Path, *extra: str) -> str:
    code = main(["worklist", str(source), "--engine", engine, "--out", str(out), "--no-progress",
                 "--spark-master", "local[2]", "--workers", "2", *extra])
    assert code == 0
    return out.read_text("utf-8")


@pytest.mark.slow
def test_spark_key_equals_the_importer_key(spark: Any) -> None:
    frame = spark.createDataFrame([(orjson.dumps(r).decode(),) for r in RESOURCES], "value string")
    keys = [row[0] for row in frame.selectExpr(KEY_SQL).collect()]
    assert keys == [patient_key_of(r) for r in RESOURCES]


@pytest.mark.slow
def test_all_engines_agree(spark: Any, tmp_path: Path) -> None:
    rng = random.Random(11)
    records = [generate_record(rng, i, TODAY) for i in range(40)]
    folder = write_folder(tmp_path / "records", records)
    for path in EXAMPLES:
        shutil.copy(path, folder)
    sources = {
        "records": folder,
        "fhir": write_ndjson(tmp_path / "fhir", [orjson.loads(p.read_bytes()) for p in EXAMPLES]
                             + records, TODAY),
    }
    for name, source in sources.items():
        outputs = {engine: _worklist(source, engine, tmp_path / f"{name}-{engine}.csv")
                   for engine in ("local", "duckdb", "spark")}
        assert outputs["duckdb"] == outputs["local"], name
        assert outputs["spark"] == outputs["local"], name
    assert len(outputs["local"].splitlines()) > 300


@pytest.mark.slow
def test_spark_incremental_run_reuses(spark: Any, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    examples = tmp_path / "fhir"
    write_ndjson(examples, [orjson.loads(p.read_bytes()) for p in EXAMPLES], TODAY)
    state = tmp_path / "state.parquet"
    first = _worklist(examples, "spark", tmp_path / "a.csv", "--state", str(state))
    n = len(EXAMPLES)
    assert f"recomputed {n}, reused 0" in capsys.readouterr().err
    # The state written by Spark is read by DuckDB (and the other way round): one format.
    second = _worklist(examples, "duckdb", tmp_path / "b.csv", "--state", str(state))
    assert f"recomputed 0, reused {n}" in capsys.readouterr().err
    third = _worklist(examples, "spark", tmp_path / "c.csv", "--state", str(state))
    assert f"recomputed 0, reused {n}" in capsys.readouterr().err
    assert first == second == third


@pytest.mark.slow
def test_spark_reads_the_same_lines_as_python(spark: Any) -> None:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    from myositis_cds.adapters.fhir import load_codes  # noqa: PLC0415
    from myositis_cds.adapters.fhir.mapping import FhirMapping  # noqa: PLC0415
    from myositis_cds.adapters.population.lines import (  # noqa: PLC0415
        ALWAYS_READ_PATTERN,
        TYPE_PATTERN,
        LineFilter,
    )
    from tests.unit.test_population_lines import LINES  # noqa: PLC0415

    lines = LineFilter.of(FhirMapping(codes=load_codes()))
    frame = spark.createDataFrame([(i, text) for i, (text, _) in enumerate(LINES)],
                                  "i int, value string")
    value = F.col("value")
    read = value.rlike(TYPE_PATTERN) & (value.rlike(ALWAYS_READ_PATTERN) | value.rlike(lines.codes))
    found = [row[0] for row in frame.orderBy("i").select(read).collect()]
    assert found == [lines.reads(text.encode()) for text, _ in LINES]
