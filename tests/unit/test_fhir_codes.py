"""FHIR code tables (both ways, site files and their errors) and the unmapped report."""

from __future__ import annotations

from pathlib import Path

import pytest

from myositis_cds.adapters.fhir import Coding, UnmappedReport, load_codes, local_system, patient_document
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.errors import SettingsError
from tests.unit.fhir_builders import LOINC, SNOMED, observation, patient

SITE = """format = "myositis-cds/fhir-codes@1"
[antibody]
"Mi-2" = ["http://loinc.org|99999-1"]
[lab]
CK = ["http://acme.example/lab|CK-SERUM"]
"""


def test_the_reference_codes_both_ways() -> None:
    codes = load_codes()
    expected = {
        ("lab", "CK"): (LOINC, "2157-6"), ("lab", "ALT"): (LOINC, "1742-6"),
        ("lab", "AST"): (LOINC, "1920-8"), ("lab", "LDH"): (LOINC, "2532-0"),
        ("lab", "aldolase"): (LOINC, "1761-6"), ("body", "weight"): (LOINC, "29463-7"),
        ("body", "height"): (LOINC, "8302-2"),
        ("diagnosis", "dermatomyositis"): (SNOMED, "396230008"),
        ("finding", "ild"): (SNOMED, "233703007"), ("finding", "dysphagia"): (SNOMED, "40739000"),
    }
    for (category, name), (system, code) in expected.items():
        assert codes.lookup(system, code) == (category, name)
        assert codes.coding_for(category, name) == Coding(system=system, code=code)  # type: ignore[arg-type]
    assert len(codes.by_coding) == len(expected) + 2  # + antibody_result POS and NEG


def test_entries_without_a_standard_code_export_their_local_code() -> None:
    codes = load_codes()
    assert local_system("antibody_result") == "urn:myositis-cds:codes:antibody-result"
    assert codes.coding_for("finding", "gottron_papules") == Coding(
        system="urn:myositis-cds:codes:finding", code="gottron_papules", display="gottron_papules")
    assert codes.coding_for("antibody", "Mi-2").system == "urn:myositis-cds:codes:antibody"
    assert codes.lookup("urn:myositis-cds:codes:measure", "mmt8") == ("measure", "mmt8")
    assert codes.lookup("urn:myositis-cds:codes:measure", "mmt9") is None
    assert codes.lookup("urn:myositis-cds:codes:drug", "prednisone") == ("drug", "prednisone")
    assert codes.lookup("urn:myositis-cds:codes:drug", "Prednisone 5 MG") is None
    assert codes.lookup(LOINC, "8867-4") is None
    with pytest.raises(ValueError, match="not in the record vocabulary"):
        codes.coding_for("finding", "headache")


def test_a_site_file_adds_codes_in_front(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE, encoding="utf-8")
    codes = load_codes(site)
    assert codes.lookup(LOINC, "99999-1") == ("antibody", "Mi-2")
    assert codes.coding_for("antibody", "Mi-2") == Coding(system=LOINC, code="99999-1")
    assert [c.code for c in codes.codings_for("lab", "CK")] == ["CK-SERUM", "2157-6", "CK"]
    mi2 = observation(LOINC, "99999-1", valueString="positive")
    assert patient_document([patient(), mi2], mapping=FhirMapping(codes=codes)).document["antibodies"] == [
        {"target": "Mi-2", "result": "positive", "date": "2026-01-12"}]


@pytest.mark.parametrize(("text", "path", "expected"), [
    ('format = "other"\n', "format", "'myositis-cds/fhir-codes@1'"),
    (SITE + "[labs]\nCK = [\"a|b\"]\n", "labs", "a table named lab, body"),
    (SITE.replace('"Mi-2"', '"Mi-3"'), "antibody.Mi-3", "one of Mi-2α"),
    (SITE.replace("http://loinc.org|99999-1", "99999-1"), "antibody.Mi-2[0]", "\"system|code\""),
    (SITE.replace('["http://loinc.org|99999-1"]', "[]"), "antibody.Mi-2", "a non-empty list"),
    (SITE.replace("99999-1", "2157-6"), "antibody.Mi-2", "a coding not already meaning lab 'CK'"),
    (SITE + '[drug]\n"Prednisone" = ["a|b"]\n', "drug.Prednisone", "a lower-case generic drug name"),
    (SITE + '[finding]\nfever = ["urn:myositis-cds:codes:finding|fever"]\n', "finding.fever",
     "outside the project-local systems"),
])
def test_bad_site_files_name_the_entry(tmp_path: Path, text: str, path: str, expected: str) -> None:
    site = tmp_path / "site.toml"
    site.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_codes(site)
    assert len(caught.value.errors) == 1
    error = caught.value.errors[0]
    assert error.path.endswith(path)
    assert expected in error.expected


def test_unreadable_and_malformed_site_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="a readable TOML code table"):
        load_codes(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[lab\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="valid TOML"):
        load_codes(bad)


# --- the unmapped report ------------------------------------------------------------------------

def test_report_counts_merges_and_shows_the_commonest_codes() -> None:
    first = UnmappedReport()
    first.add("Observation", "unknown_code", system=LOINC, code="8867-4", display="Heart rate")
    first.add("Observation", "unknown_code", system=LOINC, code="8867-4")
    second = UnmappedReport()
    second.add("Observation", "unknown_code", system=LOINC, code="9279-1", display="Respiratory rate")
    second.add("Encounter", "unsupported_resource_type", count=4)
    first.merge(second)
    assert first.total == 7
    assert first.count("Observation", "unknown_code") == 3
    assert first.count("Observation", "unknown_code", system=LOINC, code="8867-4") == 2
    assert first.count("Claim", "unsupported_resource_type") == 0
    assert first.to_dict(examples=1) == {
        "format": "myositis-cds/fhir-unmapped@1", "total": 7, "groups": [
            {"resource_type": "Encounter", "reason": "unsupported_resource_type",
             "description": "a resource type the importer does not read", "count": 4,
             "distinct_codes": 1, "examples": []},
            {"resource_type": "Observation", "reason": "unknown_code",
             "description": "no coding of the resource is in the code tables", "count": 3,
             "distinct_codes": 2,
             "examples": [{"system": LOINC, "code": "8867-4", "display": "Heart rate", "count": 2}]},
        ]}
    assert first.to_text() == (
        "FHIR import: 7 item(s) not mapped\n"
        "        4  Encounter: unsupported_resource_type (a resource type the importer does not read)\n"
        "        3  Observation: unknown_code (no coding of the resource is in the code tables)\n"
        "                2 × http://loinc.org|8867-4 'Heart rate'\n"
        "                1 × http://loinc.org|9279-1 'Respiratory rate'\n")


def test_report_refuses_unknown_reasons_and_says_when_empty() -> None:
    report = UnmappedReport()
    assert report.to_text() == "FHIR import: everything was mapped\n"
    with pytest.raises(ValueError, match="reason: got 'odd'"):
        report.add("Observation", "odd")
