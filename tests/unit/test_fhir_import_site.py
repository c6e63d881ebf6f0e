"""FHIR import with a site's facts: default ULNs, lab unit spellings, tablet strengths, where the
diagnosis date comes from; and repeated or contradictory measurements."""

from __future__ import annotations

from typing import Any

import pytest

from myositis_cds.adapters.fhir import UnmappedReport, load_codes, patient_document
from myositis_cds.adapters.fhir.mapping import DoseStrength, FhirMapping, LabDefault, LabUnit
from tests.unit.fhir_builders import (
    LOINC,
    RXNORM,
    SNOMED,
    concept,
    condition,
    observation,
    patient,
    quantity,
    request,
    status,
)

SITE = "http://hospital.example.org/lab"
CODES = load_codes()
MAPPING = FhirMapping(
    codes=CODES,
    lab_defaults={"CK": LabDefault(uln=200.0, unit="U/L")},
    lab_units={("CK", "IU/L"): LabUnit(unit="U/L", factor=1.0),
               ("ALT", "mU/mL"): LabUnit(unit="U/L", factor=1.0)},
    dose_strengths={(RXNORM, "312615"): DoseStrength(amount=20.0, unit="mg")})


def _import(*resources: dict[str, Any], mapping: FhirMapping = MAPPING) -> tuple[
        dict[str, Any], UnmappedReport]:
    result = patient_document([patient(), *resources], mapping=mapping)
    return result.document, result.unmapped


def _ck(value: float, **fields: Any) -> dict[str, Any]:
    return observation(LOINC, "2157-6", valueQuantity=quantity(value, "U/L"), **fields)


# --- default ULN ---------------------------------------------------------------------------------

def test_a_ck_without_reference_range_gets_the_site_default_uln() -> None:
    document, report = _import(_ck(4200))
    assert document["labs"] == [{"test": "CK", "value": 4200, "unit": "U/L", "uln": 200.0,
                                 "date": "2026-01-12"}]
    assert report.count("Observation", "uln_site_default", system=LOINC, code="2157-6") == 1


def test_the_result_s_own_reference_range_wins_over_the_default() -> None:
    document, report = _import(_ck(4200, referenceRange=[{"high": quantity(170, "U/L")}]))
    assert document["labs"][0]["uln"] == 170
    assert not report


def test_no_default_in_another_unit_or_without_a_site_file() -> None:
    ukat = observation(LOINC, "2157-6", valueQuantity=quantity(70, "ukat/L"))
    document, _ = _import(ukat)
    assert "uln" not in document["labs"][0]  # the default is in U/L: never converted silently
    document, report = _import(_ck(4200), mapping=FhirMapping(codes=CODES))
    assert "uln" not in document["labs"][0]
    assert not report


def test_a_mismatched_reference_range_does_not_fall_back_to_the_default() -> None:
    document, report = _import(_ck(4200, referenceRange=[{"high": quantity(3, "ukat/L")}]))
    assert "uln" not in document["labs"][0]
    assert report.count("Observation", "uln_unit_mismatch") == 1


# --- lab unit spellings --------------------------------------------------------------------------

def test_a_site_unit_spelling_converts_value_and_uln() -> None:
    alt = observation(LOINC, "1742-6", valueQuantity={"value": 84, "unit": "mU/mL"},
                      referenceRange=[{"high": {"value": 40, "unit": "mU/mL"}}])
    ck = observation(LOINC, "2157-6", valueQuantity={"value": 900, "unit": "IU/L"})
    document, report = _import(alt, ck)
    assert document["labs"] == [
        {"test": "ALT", "value": 84.0, "unit": "U/L", "uln": 40.0, "date": "2026-01-12"},
        {"test": "CK", "value": 900.0, "unit": "U/L", "uln": 200.0, "date": "2026-01-12"}]
    assert report.count("Observation", "unit_not_accepted") == 0
    # A spelling is per test: IU/L of ALT is not listed.
    _, report = _import(observation(LOINC, "1742-6", valueQuantity={"value": 84, "unit": "IU/L"}))
    assert report.count("Observation", "unit_not_accepted") == 1


# --- doses in tablets ----------------------------------------------------------------------------

def _prednisone(code: str, dose: dict[str, Any]) -> dict[str, Any]:
    return request(concept(RXNORM, code), dosageInstruction=[{
        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": dose}]}])


@pytest.mark.parametrize("dose", [{"value": 3}, {"value": 3, "unit": "tablet"},
                                  {"value": 3, "unit": "{tbl}", "system": "http://unitsofmeasure.org",
                                   "code": "{tbl}"}])
def test_tablets_become_mg_with_the_site_strength(dose: dict[str, Any], tmp_path: Any) -> None:
    site = tmp_path / "codes.toml"
    site.write_text(f'format = "myositis-cds/fhir-codes@1"\n[drug]\nprednisone = '
                    f'["{RXNORM}|312615", "{RXNORM}|8640"]\n', encoding="utf-8")
    mapping = FhirMapping(codes=load_codes(site), dose_strengths=MAPPING.dose_strengths)
    document, report = _import(_prednisone("312615", dose), mapping=mapping)
    assert document["treatments"] == [{"drug": "prednisone", "dose": 60.0, "unit": "mg",
                                       "frequency": "daily", "start": "2026-01-13", "stop": None}]
    assert report.count("MedicationRequest", "dose_site_strength") == 1
    # Another product of the same drug without a strength: the dose is left out, not "3".
    document, report = _import(_prednisone("8640", dose), mapping=mapping)
    assert document["treatments"] == [{"drug": "prednisone", "frequency": "daily",
                                       "start": "2026-01-13", "stop": None}]
    assert report.count("MedicationRequest", "dose_unit_unknown", system=RXNORM, code="8640") == 1


def test_a_dose_with_an_amount_unit_is_kept_as_written(tmp_path: Any) -> None:
    site = tmp_path / "codes.toml"
    site.write_text(f'format = "myositis-cds/fhir-codes@1"\n[drug]\nprednisone = '
                    f'["{RXNORM}|312615"]\n', encoding="utf-8")
    mapping = FhirMapping(codes=load_codes(site), dose_strengths=MAPPING.dose_strengths)
    document, report = _import(_prednisone("312615", {"value": 40, "unit": "mg"}), mapping=mapping)
    assert document["treatments"][0]["dose"] == 40
    assert document["treatments"][0]["unit"] == "mg"
    assert not report


# --- diagnosis date ------------------------------------------------------------------------------

def test_an_onset_only_diagnosis_is_dated_by_its_onset() -> None:
    document, _ = _import(condition(SNOMED, "396230008",
                                    onsetDateTime="2024-05-10T22:55:45.323979+00:00"))
    assert document["diagnosis"] == {"name": "dermatomyositis", "date": "2024-05-10",
                                     "symptom_onset_date": "2024-05-10"}
    document, _ = _import(condition(SNOMED, "396230008", onsetPeriod={"start": "2024-05-01"}))
    assert document["diagnosis"]["date"] == "2024-05-01"


def test_recorded_date_first_by_default_and_the_site_may_put_the_onset_first() -> None:
    dm = condition(SNOMED, "396230008", onsetDateTime="2015-03-01", recordedDate="2024-11-20")
    document, _ = _import(dm)
    assert document["diagnosis"]["date"] == "2024-11-20"
    migrated = FhirMapping(codes=CODES, diagnosis_date_order=("onsetDateTime", "recordedDate"))
    document, _ = _import(dm, mapping=migrated)
    assert document["diagnosis"] == {"name": "dermatomyositis", "date": "2015-03-01",
                                     "symptom_onset_date": "2015-03-01"}


# --- repeats and contradictions ------------------------------------------------------------------

def test_a_repeated_lab_is_kept_once_and_a_missing_uln_is_filled_from_the_repeat() -> None:
    with_range = _ck(4200, referenceRange=[{"high": quantity(170, "U/L")}])
    document, report = _import(_ck(4200), with_range, mapping=FhirMapping(codes=CODES))
    assert document["labs"] == [{"test": "CK", "value": 4200, "unit": "U/L", "uln": 170,
                                 "date": "2026-01-12"}]
    assert report.count("Observation", "duplicate_value") == 1


def test_contradictory_labs_of_one_day_are_all_left_out() -> None:
    document, report = _import(_ck(4200), _ck(420), _ck(900, effectiveDateTime="2026-01-13"))
    assert document["labs"] == [{"test": "CK", "value": 900, "unit": "U/L", "uln": 200.0,
                                 "date": "2026-01-13"}]
    assert report.count("Observation", "conflicting_values", system=LOINC, code="2157-6") == 2


def test_antibody_results_of_one_day_that_disagree_are_left_out() -> None:
    mi2 = "urn:myositis-cds:codes:antibody"
    positive = observation(mi2, "Mi-2", valueString="positive")
    document, report = _import(positive, observation(mi2, "Mi-2", valueString="negative"),
                               observation(mi2, "TIF1-gamma", valueString="negative"),
                               observation(mi2, "TIF1-gamma", valueString="negative"))
    assert document["antibodies"] == [{"target": "TIF1-gamma", "result": "negative",
                                       "date": "2026-01-12"}]
    assert report.count("Observation", "conflicting_values") == 2
    assert report.count("Observation", "duplicate_value") == 1


def test_a_finding_recorded_twice_is_kept_once_and_contradictions_are_left_out() -> None:
    active = status("condition-clinical", "active")
    refuted = status("condition-ver-status", "refuted")
    document, report = _import(
        condition(SNOMED, "40739000", onsetDateTime="2026-01-10", clinicalStatus=active),
        condition(SNOMED, "40739000", onsetDateTime="2026-01-10", clinicalStatus=active),
        condition(SNOMED, "233703007", onsetDateTime="2026-01-10", clinicalStatus=active),
        condition(SNOMED, "233703007", recordedDate="2026-01-10", verificationStatus=refuted))
    assert document["findings"] == [{"code": "dysphagia", "present": True, "date": "2026-01-10"}]
    assert report.count("Condition", "duplicate_value") == 1
    assert report.count("Condition", "conflicting_values", system=SNOMED, code="233703007") == 2


def test_identical_orders_collapse_but_two_doses_on_one_day_are_two_treatments(
        tmp_path: Any) -> None:
    site = tmp_path / "codes.toml"
    site.write_text(f'format = "myositis-cds/fhir-codes@1"\n[drug]\nprednisone = '
                    f'["{RXNORM}|312615"]\n', encoding="utf-8")
    mapping = FhirMapping(codes=load_codes(site))
    forty = _prednisone("312615", {"value": 40, "unit": "mg"})
    twenty = _prednisone("312615", {"value": 20, "unit": "mg"})
    document, report = _import(forty, forty, twenty, mapping=mapping)
    assert [t["dose"] for t in document["treatments"]] == [40, 20]
    assert report.count("MedicationRequest", "duplicate_value") == 1
