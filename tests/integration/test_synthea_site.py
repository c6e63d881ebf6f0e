"""Real EHR-shaped data end to end: Synthea patients (a dermatomyositis module beside Synthea's own,
about 3,000 to 5,000 resources each) read by ``import-fhir``, the worklist engines and the CDS Hooks
service with ONE site configuration, and they agree.

The three simulated people (seed 2026, indexes 0, 5 and 14; tests/synthea_dm.py): a woman with
dermatomyositis and a positive anti-Mi-2 under the site's own assay code, on prednisone (RxNorm
312615, 3 tablets a day) and methotrexate (RxNorm 105586, 2 tablets a week), CK without reference
range; a man with no myositis at all; a woman with dermatomyositis and a negative anti-Mi-2.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from myositis_cds.adapters.fhir.importing.importer import patient_document
from myositis_cds.adapters.population.evaluate import canonical_resources
from myositis_cds.adapters.population.lines import LineFilter
from myositis_cds.adapters.site import load_site
from myositis_cds.entrypoints.cli import main
from myositis_cds.services.population import mentions_population
from tests.e2e.cds_support import SERVICE_URL, Ehr, hook_call, prefetch_of, write_config
from tests.e2e.web_support import make_web
from tests.synthea_dm import SITE_TOML, bundle_to_ndjson_lines, synthea_dm_bundles

REFERENCE = dt.date(2026, 1, 1)
MI2_POSITIVE, NO_MYOSITIS, MI2_NEGATIVE = range(3)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("synthea")
    bundles = synthea_dm_bundles([0, 5, 14], seed=2026, reference=REFERENCE, dm_fraction=0.75,
                                 workdir=root / "synthea")
    (root / "bundles").mkdir()
    (root / "ndjson").mkdir()
    streams: dict[str, list[bytes]] = {}
    resources: list[list[dict[str, Any]]] = []
    for number, bundle in enumerate(bundles):
        (root / "bundles" / f"patient-{number}.json").write_bytes(orjson.dumps(bundle))
        lines = list(bundle_to_ndjson_lines(bundle))
        for resource_type, line in lines:
            streams.setdefault(resource_type, []).append(line)
        resources.append([orjson.loads(line) for _, line in lines])
    for resource_type, texts in streams.items():
        (root / "ndjson" / f"{resource_type}.ndjson").write_bytes(b"\n".join(texts) + b"\n")
    shutil.copytree(root / "ndjson", root / "ndjson-no-manifest")
    (root / "ndjson" / "manifest.json").write_bytes(orjson.dumps({  # as a Bulk Data server writes
        "transactionTime": "2026-01-01T00:00:00Z", "request": "https://ehr.example.org/$export",
        "requiresAccessToken": True, "error": [],
        "output": [{"type": t, "url": f"https://ehr.example.org/bulk/{t}.ndjson"}
                   for t in sorted(streams)]}))
    site = root / "site.toml"
    site.write_text(SITE_TOML, "utf-8")
    keys = [next(r["id"] for r in rs if r["resourceType"] == "Patient") for rs in resources]
    return {"root": root, "site": site, "resources": resources, "keys": keys}


def _records(export: dict[str, Any], capsys: pytest.CaptureFixture[str], *site: str,
             source: str = "bundles") -> dict[str, dict[str, Any]]:
    out = export["root"] / "records.json"
    assert main(["import-fhir", str(export["root"] / source), "--out", str(out), *site]) == 0
    capsys.readouterr()
    return {r["id"]: r for r in json.loads(out.read_text("utf-8"))["records"]}


@pytest.mark.slow
def test_realistic_records_have_thousands_of_resources(export: dict[str, Any]) -> None:
    counts = [len(resources) for resources in export["resources"]]
    assert all(count >= 2000 for count in counts), counts


@pytest.mark.slow
def test_import_recognises_the_mi2_positive_patient_only_with_the_site_file(
        export: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    key = export["keys"][MI2_POSITIVE]
    without = _records(export, capsys)[key]
    assert "antibodies" not in without  # the assay's site code means nothing to the built-in table
    record = _records(export, capsys, "--site", str(export["site"]))[key]
    assert record["antibodies"] == [
        {"target": "Mi-2", "result": "positive", "date": record["antibodies"][0]["date"]},
        {"target": "TIF1-gamma", "result": "negative", "date": record["antibodies"][0]["date"]}]
    assert record["diagnosis"]["name"] == "dermatomyositis"
    assert record["diagnosis"]["date"] == record["diagnosis"]["symptom_onset_date"]  # onset only
    assert [(t["drug"], t["dose"], t["unit"], t["frequency"]) for t in record["treatments"]] == [
        ("prednisone", 60.0, "mg", "daily"), ("methotrexate", 20.0, "mg", "weekly")]
    ck = [lab for lab in record["labs"] if lab["test"] == "CK"]
    assert ck
    assert all(lab["uln"] == 200 for lab in ck)
    heights = [m for m in record["body_measurements"] if "height_cm" in m]
    assert len({m["date"] for m in heights}) == len(heights)  # repeats collapsed
    # The NDJSON export of the same patients reads to the same records.
    assert _records(export, capsys, "--site", str(export["site"]), source="ndjson")[key] == record


def _worklist(export: dict[str, Any], capsys: pytest.CaptureFixture[str], source: str,
              engine: str) -> list[dict[str, str]]:
    out = export["root"] / f"worklist-{source}-{engine}.csv"
    summary = export["root"] / f"summary-{source}-{engine}.json"
    code = main(["worklist", str(export["root"] / source), "--site", str(export["site"]),
                 "--engine", engine, "--as-of", "2026-01-01", "--out", str(out), "--workers",
                 "2", "--no-progress", "--summary-json", str(summary)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "population: 2 evaluated, 1 outside" in err
    export.setdefault("summaries", {})[source, engine] = json.loads(summary.read_text("utf-8"))
    return list(csv.DictReader(io.StringIO(out.read_text("utf-8"))))


@pytest.mark.slow
def test_the_worklist_lists_only_the_myositis_patients_and_engines_agree(
        export: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    rows = _worklist(export, capsys, "ndjson", "duckdb")
    keys = export["keys"]
    assert {row["patient_key"] for row in rows} == {keys[MI2_POSITIVE], keys[MI2_NEGATIVE]}
    positive = {row["rule_id"] for row in rows if row["patient_key"] == keys[MI2_POSITIVE]}
    assert {row["scope"] for row in rows if row["patient_key"] == keys[MI2_POSITIVE]} == {
        "in_scope"}
    assert "ALERT-DELAYED-IMMUNOSUPPRESSION" not in positive  # methotrexate is recorded
    negative = {row["scope"] for row in rows if row["patient_key"] == keys[MI2_NEGATIVE]}
    assert negative == {"out_of_scope"}
    assert _worklist(export, capsys, "ndjson", "local") == rows
    assert _worklist(export, capsys, "bundles", "duckdb") == rows
    assert _worklist(export, capsys, "bundles", "local") == rows
    # Files the Bulk Data manifest types as claims, encounters... are counted, never read: the
    # same counts as reading every line.
    assert _worklist(export, capsys, "ndjson-no-manifest", "duckdb") == rows
    summaries = export["summaries"]
    counted = {key: (s["not_read"], s["unmapped"], s["unattributed"]) for key, s in summaries.items()
               if key[0].startswith("ndjson")}
    assert len(set(counted.values())) == 1, counted
    assert next(iter(counted.values()))[0] > 5000


@pytest.mark.slow
def test_the_line_filter_drops_nothing_the_mapping_uses(export: dict[str, Any]) -> None:
    """The worklist engines read only the lines whose text names a mapped type and a code of the
    site's tables (adapters/population/lines.py); ``import-fhir`` reads every line. Per patient,
    the mapped document from the lines read equals the one from every line (the Mi-2-positive
    patient's only Mi-2 result is under the site's assay code), and the text test of the
    population never puts out a patient that its document puts in."""
    mapping = load_site(export["site"]).mapping
    lines = LineFilter.of(mapping)
    kept = 0
    documents: dict[str, Any] = {}
    for resources in export["resources"]:
        every = [orjson.dumps(r) for r in resources]
        read = [text for text in every if lines.reads(text)]
        kept += len(read)
        whole = patient_document(canonical_resources(every), mapping=mapping, medications={})
        filtered = patient_document(canonical_resources(read), mapping=mapping, medications={})
        assert filtered.document == whole.document
        # Scope first: the text test never puts out a patient the document puts in.
        assert lines.may_be_in_population(read) >= mentions_population(whole.document)
        documents[whole.patient_key] = whole.document
    assert kept < sum(len(r) for r in export["resources"]) // 5  # the filter does skip lines
    # The patient whose only Mi-2 result is under the site's assay code, from the lines read.
    positive = documents[export["keys"][MI2_POSITIVE]]
    assert {(a["target"], a["result"]) for a in positive["antibodies"]} == {
        ("Mi-2", "positive"), ("TIF1-gamma", "negative")}


@pytest.fixture(scope="module")
def cds(export: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[TestClient, Ehr]]:
    ehr = Ehr()
    tmp = tmp_path_factory.mktemp("cds")
    web = make_web(tmp, cds_hooks=write_config(tmp, ehr), site=load_site(export["site"]))
    with web.client() as client:
        yield client, ehr
    web.close()


def _cards(cds: tuple[TestClient, Ehr], resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    client, ehr = cds
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    response = client.post("/cds-services/anti-mi2-dm-plan", headers=ehr.auth(SERVICE_URL),
                           json=hook_call(patient["id"], prefetch_of(resources)))
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


@pytest.mark.slow
def test_cds_hooks_reads_the_chart_with_the_same_site_file(
        export: dict[str, Any], cds: tuple[TestClient, Ehr]) -> None:
    assert _cards(cds, export["resources"][NO_MYOSITIS]) == []
    cards = _cards(cds, export["resources"][MI2_POSITIVE])
    summaries = [card["summary"] for card in cards]
    plan = cards[-1]
    assert plan["summary"].startswith("Anti-Mi-2 DM plan: ")  # not "(scope unconfirmed)"
    assert "**Scope**: in\\_scope" in plan["detail"]
    assert not any("immunosuppression" in summary.lower() for summary in summaries)
    assert "2 × MedicationRequest: a dose in tablets" in plan["detail"]  # converted, not dropped
