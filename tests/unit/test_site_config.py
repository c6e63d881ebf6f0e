"""The site configuration (myositis-cds/site@1): one file read by every reader of FHIR data."""

from __future__ import annotations

from pathlib import Path

import pytest

from myositis_cds.adapters.fhir.mapping import DEFAULT_DIAGNOSIS_DATE_ORDER, DoseStrength, LabDefault
from myositis_cds.adapters.site import (
    DEFAULT_BYTES_PER_PARTITION,
    SiteConfig,
    SparkPartitioning,
    load_site,
    site_from_environment,
)
from myositis_cds.errors import SettingsError

DOCS_EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "site-example.toml"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _site(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_loads() -> None:
    site = load_site(DOCS_EXAMPLE)
    assert site.source == str(DOCS_EXAMPLE)
    assert site.mapping.codes.lookup(RXNORM, "312615") == ("drug", "prednisone")
    assert site.mapping.codes.lookup("http://loinc.org", "2157-6") == ("lab", "CK")  # built in
    assert site.mapping.lab_defaults["CK"] == LabDefault(uln=200.0, unit="U/L")
    assert site.mapping.dose_strengths[RXNORM, "312615"] == DoseStrength(amount=20.0, unit="mg")
    assert site.mapping.dose_strengths[RXNORM, "105586"] == DoseStrength(amount=10.0, unit="mg")
    assert site.mapping.diagnosis_date_order == DEFAULT_DIAGNOSIS_DATE_ORDER


def test_without_a_file_the_built_in_tables_and_no_site_facts() -> None:
    site = load_site(None)
    assert site == SiteConfig()
    assert not site.mapping.lab_defaults
    assert not site.mapping.dose_strengths
    assert site_from_environment({}) == SiteConfig()


def test_the_environment_names_the_file(tmp_path: Path) -> None:
    path = _site(tmp_path, 'format = "myositis-cds/site@1"\nname = "North"\n')
    assert site_from_environment({"MYOSITIS_CDS_SITE": str(path)}).name == "North"


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = _site(tmp_path, """format = "myositis-cds/site@0"
colour = "blue"
[codes.antibody]
"Mi-3" = ["http://loinc.org|1"]
[lab_default_uln]
CK = { value = -1, unit = "U/L" }
[[lab_unit]]
test = "CK"
unit = "IU/L"
record_unit = "U/L"
factor = 0
[[dose_strength]]
coding = "rxnorm 312615"
amount = 20
unit = "mg"
[fhir]
diagnosis_date_order = ["onsetDateTime", "abatementDateTime"]
[spark]
partitions = 0
""")
    with pytest.raises(SettingsError) as raised:
        load_site(path)
    where = sorted(error.path.removeprefix(f"{path}:") for error in raised.value.errors)
    assert where == ["codes:antibody.Mi-3", "colour", "dose_strength[0].coding",
                     "fhir.diagnosis_date_order", "format", "lab_default_uln.CK",
                     "lab_unit[0].factor", "spark.partitions"]
    message = str(raised.value)
    assert "got 'rxnorm 312615'" in message
    assert "expected a list of distinct names from recordedDate, onsetDateTime" in message


def test_a_coding_given_two_meanings_is_refused(tmp_path: Path) -> None:
    path = _site(tmp_path, 'format = "myositis-cds/site@1"\n[codes.lab]\nALT = '
                           '["http://loinc.org|2157-6"]\n')
    with pytest.raises(SettingsError, match="a coding not already meaning lab 'CK'"):
        load_site(path)


@pytest.mark.parametrize(("partitioning", "size", "cores", "expected"), [
    (SparkPartitioning(), 0, 2, 2),  # never fewer than the cores
    (SparkPartitioning(), 10 * DEFAULT_BYTES_PER_PARTITION + 1, 4, 11),  # one per 32 MiB
    (SparkPartitioning(), 10 * DEFAULT_BYTES_PER_PARTITION, 64, 64),
    (SparkPartitioning(partitions=7), 10**12, 64, 7),  # the site's number wins
    (SparkPartitioning(bytes_per_partition=2**20), 5 * 2**20, 1, 5),
])
def test_spark_partitions_follow_the_data_size_and_the_site(
        partitioning: SparkPartitioning, size: int, cores: int, expected: int) -> None:
    assert partitioning.count(input_bytes=size, cores=cores) == expected
