"""The assessment → FHIR R4B mapping (DetectedIssue, CarePlan, citations), value by value."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import typing
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

import myositis_cds as cds
from myositis_cds.adapters.fhir.codes import load_codes
from myositis_cds.adapters.fhir.exporting.assessment import assessment_bundle
from myositis_cds.adapters.fhir.exporting.common import (
    citation_uri,
    patient_resource_id,
    patient_url,
    resolve_input,
    validate_bundle,
)
from myositis_cds.adapters.fhir.exporting.record import record_entries
from myositis_cds.adapters.fhir.exporting.tables import SEVERITY
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import to_dict
from myositis_cds.engine.results import Alert
from tests.conftest import TODAY, load_example

CITATIONS = {
    "PF2019": "Pinal-Fernandez I, et al. Neurology 2019;93(19):e1768–e1777. "
              "doi:10.1212/WNL.0000000000008443, PMID 31594859",
    "MI2-SUMMARY": "Anti-Mi-2 positive dermatomyositis: management summary",
    "JTA-2019": "Review of adult idiopathic inflammatory myopathy treatment, J Transl Autoimmun 2019",
}
TITLES = {"ALERT-DELAYED-IMMUNOSUPPRESSION": "Immunosuppression delayed",
          "ALERT-SCREEN-AGE40": "Age ≥ 40 without an enhanced screen"}


def _input(source: str, name: str, value: object, date: str | None,
           unit: str | None = None) -> dict[str, Any]:
    return {"source": source, "name": name, "value": value, "date": date, "unit": unit}


def _regimen(drug: str, rule_id: str, low: float | None, high: float | None, unit: str, *,
             status: str = "ok", reason: str | None = None,
             safety: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"drug": drug, "role": "glucocorticoid", "tier": "non_severe", "dose_min": low,
            "dose_max": high, "unit": unit, "basis": "per kg", "schedule": "daily", "status": status,
            "reason": reason, "notes": [], "safety": safety or [], "rule_id": rule_id,
            "knowledge_version": "2026.2", "citations": ["MI2-SUMMARY", "JTA-2019"], "inputs": []}


def _workup(item_id: str, status: str, date: str | None = None, missing: list[str] | None = None,
            reasons: list[str] | None = None) -> dict[str, Any]:
    return {"id": item_id, "title": item_id.title(), "status": status, "date": date,
            "missing": missing or [], "reasons": reasons or [], "rule_id": item_id,
            "knowledge_version": "2026.2", "citations": ["MI2-SUMMARY"], "inputs": [], "notes": []}


def _occasion(due: str, status: str, start: str, end: str, by: str | None = None) -> dict[str, Any]:
    return {"due": due, "status": status, "satisfied_by": by, "window_start": start, "window_end": end}


ASSESSMENT: dict[str, Any] = {
    "format": "myositis-cds/assessment@1", "patient_id": "p-1", "as_of": "2026-04-20",
    "knowledge": {"pack": "anti-mi2-dm", "version": "2026.2"},
    "severity": {"tier": "non_severe", "reasons": ["dysphagia absent"], "notes": []},
    "cancer_screening": {
        "level": "standard", "reasons": ["age 34 < 40"],
        "required_investigations": ["age_appropriate_cancer_screening"],
        "occasions": [_occasion("2025-01-10", "done", "2024-10-12", "2025-04-10", by="2025-01-20"),
                      _occasion("2026-01-10", "overdue", "2025-10-12", "2026-04-10")],
        "rule_id": "SCREEN-CANCER", "citations": ["MI2-SUMMARY"],
        "notes": [{"kind": "interpretation", "text": "window 90 days", "setting": "x", "citations": []}]},
    "workup": [_workup("WORKUP-PFT", "done", date="2025-01-15"),
               _workup("WORKUP-ENZYMES", "missing", missing=["aldolase", "LDH"]),
               _workup("WORKUP-HRCT", "not_required", reasons=["PFTs normal"])],
    "treatment_plan": {"tier": "non_severe", "notes": [], "regimens": [
        _regimen("prednisone", "PLAN-PREDNISONE", 60.0, 68.0, "mg/day", safety=[
            {"rule_id": "SAFETY-GIOP", "severity": "info", "message": "Calcium and vitamin D.",
             "citations": ["PF2019"]}]),
        _regimen("azathioprine", "PLAN-AZATHIOPRINE", None, None, "mg/day", status="not_evaluable",
                 reason="weight missing")]},
    "alerts": [
        {"id": "ALERT-DELAYED-IMMUNOSUPPRESSION", "severity": "critical", "title": "Delayed",
         "message": "No immunosuppression 40 days after diagnosis.",
         "rule_id": "ALERT-DELAYED-IMMUNOSUPPRESSION", "knowledge_version": "2026.2",
         "citations": ["PF2019", "MI2-SUMMARY"],
         "inputs": [_input("$.diagnosis.date", "diagnosis_date", "2026-03-11", "2026-03-11"),
                    _input("$.labs[2]", "CK", 4200.0, "2026-03-11", "U/L")],
         "notes": [{"kind": "interpretation", "text": "critical after 28 days", "setting": "d",
                    "citations": []}]},
        {"id": "ALERT-INCOMPLETE-MSA-PANEL", "severity": "info", "title": "Panel incomplete",
         "message": "Never tested: SRP.", "rule_id": "ALERT-INCOMPLETE-MSA-PANEL",
         "knowledge_version": "2026.2", "citations": ["MI2-SUMMARY"],
         "inputs": [_input("$.antibodies", "SRP", "not tested", None)], "notes": []}],
    "alerts_not_evaluable": [{"id": "ALERT-SCREEN-AGE40", "reason": "birth date missing"}],
}


def _export(doc: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return assessment_bundle(doc or ASSESSMENT, citations=CITATIONS, codes=load_codes(),
                             rule_titles=TITLES, **kwargs)


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _by_url(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def test_the_bundle_is_valid_fhir_r4b() -> None:
    bundle = _export()
    assert validate_bundle(bundle) == []
    model = Bundle.model_validate(bundle)
    assert model.type == "collection"
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == [
        "Patient", "DetectedIssue", "DetectedIssue", "DetectedIssue", "CarePlan",
        "DocumentReference", "DocumentReference", "DocumentReference", "DocumentReference"]


def test_every_fired_alert_is_a_final_detected_issue_with_its_rule_severity_and_citations() -> None:
    bundle = _export()
    issues = _resources(bundle, "DetectedIssue")
    assert [(i["status"], i["code"]["coding"][0]["code"], i.get("severity")) for i in issues] == [
        ("final", "ALERT-DELAYED-IMMUNOSUPPRESSION", "high"),
        ("final", "ALERT-INCOMPLETE-MSA-PANEL", "low"),
        ("registered", "ALERT-SCREEN-AGE40", None)]
    first = issues[0]
    assert first["code"]["coding"][0] == {
        "system": "urn:myositis-cds:rule", "version": "2026.2",
        "code": "ALERT-DELAYED-IMMUNOSUPPRESSION", "display": "Immunosuppression delayed"}
    assert first["detail"] == "No immunosuppression 40 days after diagnosis.\ncritical after 28 days"
    assert first["patient"] == {"reference": patient_url("p-1"), "type": "Patient"}
    assert first["identifiedDateTime"] == "2026-04-20"
    assert first["reference"] == "https://doi.org/10.1212/WNL.0000000000008443"
    assert [e["valueReference"]["display"] for e in first["extension"]] == ["PF2019", "MI2-SUMMARY"]
    assert [e["code"][0]["text"] for e in first["evidence"]] == [
        "diagnosis_date = 2026-03-11 on 2026-03-11 ($.diagnosis.date)",
        "CK = 4200.0 U/L on 2026-03-11 ($.labs[2])"]
    assert "implicated" not in first  # no record resources in this Bundle
    assert first["meta"]["tag"] == [
        {"system": "urn:myositis-cds:knowledge-pack", "code": "anti-mi2-dm", "version": "2026.2"},
        {"system": "urn:myositis-cds:alert-evaluation", "code": "fired"}]
    assert issues[1]["reference"] == "urn:myositis-cds:citation:MI2-SUMMARY"


def test_an_alert_that_could_not_be_evaluated_is_exported_not_dropped() -> None:
    issue = _resources(_export(), "DetectedIssue")[2]
    assert issue["status"] == "registered"
    assert "severity" not in issue
    assert issue["code"]["text"] == "Age ≥ 40 without an enhanced screen"
    assert issue["detail"].startswith("Not evaluable: birth date missing.")
    assert issue["meta"]["tag"][1] == {"system": "urn:myositis-cds:alert-evaluation",
                                       "code": "not_evaluable"}


def test_severity_table_covers_every_alert_severity() -> None:
    severities = typing.get_args(typing.get_type_hints(Alert)["severity"])
    assert SEVERITY == {"critical": "high", "warning": "moderate", "info": "low"}
    assert set(SEVERITY) == set(severities)


def test_a_status_outside_the_contract_is_an_error_naming_it() -> None:
    doc = copy.deepcopy(ASSESSMENT)
    doc["alerts"][1]["severity"] = "urgent"
    with pytest.raises(ValueError, match=r"alerts\[\]\.severity: got 'urgent'; expected one of "
                                         r"critical, warning, info"):
        _export(doc)
    doc = copy.deepcopy(ASSESSMENT)
    doc["workup"][0]["status"] = "partly"
    with pytest.raises(ValueError, match=r"workup\[\]\.status: got 'partly'"):
        _export(doc)


def test_the_plan_is_one_care_plan_with_an_activity_per_recommendation() -> None:
    (plan,) = _resources(_export(), "CarePlan")
    assert (plan["status"], plan["intent"], plan["subject"]["reference"]) == (
        "active", "proposal", patient_url("p-1"))
    details = [a["detail"] for a in plan["activity"]]
    assert [(d["code"]["coding"][0]["code"], d["status"], d.get("kind")) for d in details] == [
        ("PLAN-PREDNISONE", "not-started", "MedicationRequest"),
        ("SAFETY-GIOP", "not-started", None),
        ("PLAN-AZATHIOPRINE", "not-started", "MedicationRequest"),
        ("SCREEN-CANCER", "completed", "ServiceRequest"),
        ("SCREEN-CANCER", "not-started", "ServiceRequest"),
        ("WORKUP-PFT", "completed", "ServiceRequest"),
        ("WORKUP-ENZYMES", "not-started", "ServiceRequest"),
        ("WORKUP-HRCT", "cancelled", "ServiceRequest")]
    assert all(d["code"]["coding"][0]["version"] == "2026.2" for d in details)
    prednisone, _, azathioprine, done, overdue, pft, enzymes, hrct = details
    assert prednisone["extension"] == [{"url": "urn:myositis-cds:extension:dose-range", "valueRange": {
        "low": {"value": 60.0, "unit": "mg/day", "system": "http://unitsofmeasure.org", "code": "mg/d"},
        "high": {"value": 68.0, "unit": "mg/day", "system": "http://unitsofmeasure.org", "code": "mg/d"}}}]
    assert prednisone["productCodeableConcept"]["coding"][0] == {
        "system": "urn:myositis-cds:codes:drug", "code": "prednisone", "display": "prednisone"}
    assert prednisone["description"] == "prednisone 60–68 mg/day (per kg); daily"
    assert "extension" not in azathioprine
    assert azathioprine["statusReason"] == {
        "coding": [{"system": "urn:myositis-cds:assessment:regimen-status", "code": "not_evaluable"}],
        "text": "dose not evaluable: weight missing"}
    assert done["scheduledPeriod"] == {"start": "2024-10-12", "end": "2025-04-10"}
    assert overdue["scheduledPeriod"] == {"start": "2025-10-12", "end": "2026-04-10"}
    assert overdue["statusReason"]["coding"][0]["code"] == "overdue"
    assert [c["code"] for c in overdue["code"]["coding"]] == [
        "SCREEN-CANCER", "age_appropriate_cancer_screening"]
    assert pft["description"] == "Workup-Pft — done 2025-01-15"
    assert enzymes["description"] == "Workup-Enzymes — missing: aldolase, LDH"
    assert hrct["statusReason"] == {
        "coding": [{"system": "urn:myositis-cds:assessment:workup-status", "code": "not_required"}],
        "text": "PFTs normal"}
    assert plan["note"] == [{"text": "window 90 days"}]


def test_each_citation_is_one_document_reference_that_its_citers_reference() -> None:
    bundle = _export()
    resources = _by_url(bundle)
    citations = [r for r in _resources(bundle, "DocumentReference")
                 if r["identifier"][0]["system"] == "urn:myositis-cds:citation"]
    assert [c["identifier"][0]["value"] for c in citations] == ["PF2019", "MI2-SUMMARY", "JTA-2019"]
    assert citations[0]["content"][0]["attachment"] == {
        "title": CITATIONS["PF2019"], "url": "https://doi.org/10.1212/WNL.0000000000008443"}
    assert citations[1]["content"][0]["attachment"] == {"title": CITATIONS["MI2-SUMMARY"]}
    (plan,) = _resources(bundle, "CarePlan")
    cited = [ref for a in plan["activity"] for ref in a["detail"].get("reasonReference", [])]
    cited += [e["valueReference"] for i in _resources(bundle, "DetectedIssue")
              for e in i.get("extension", [])]
    for ref in cited:
        target = resources[ref["reference"]]
        assert target["identifier"][0]["value"] == ref["display"]


def test_the_assessment_document_travels_with_the_plan() -> None:
    bundle = _export()
    (plan,) = _resources(bundle, "CarePlan")
    document = _by_url(bundle)[plan["supportingInfo"][0]["reference"]]
    attachment = document["content"][0]["attachment"]
    assert attachment["contentType"] == "application/json"
    assert json.loads(base64.b64decode(attachment["data"])) == ASSESSMENT
    without = _export(with_document=False)
    assert "supportingInfo" not in _resources(without, "CarePlan")[0]


def test_entry_urls_are_stable_and_the_patient_is_shared_across_dates() -> None:
    later = copy.deepcopy(ASSESSMENT)
    later["as_of"] = "2026-05-01"
    first, again, other = _export(), _export(), _export(later)
    assert first == again
    assert first["entry"][0] == other["entry"][0]
    assert first["entry"][0]["resource"]["id"] == "p-1"
    assert first["entry"][1]["fullUrl"] != other["entry"][1]["fullUrl"]


def test_validation_reports_a_code_outside_a_required_binding_and_a_missing_element() -> None:
    bundle = _export()
    bundle["entry"][1]["resource"]["severity"] = "severe"
    assert validate_bundle(bundle) == [
        "Bundle.entry[1].resource.severity: got 'severe'; expected one of high, moderate, low"]
    del bundle["entry"][4]["resource"]["intent"]
    problems = validate_bundle(bundle)
    assert len(problems) == 1
    assert "intent" in problems[0]


def test_validation_reports_a_repeated_full_url_and_a_dangling_reference() -> None:
    bundle = _export()
    bundle["entry"][2]["fullUrl"] = bundle["entry"][1]["fullUrl"]
    bundle["entry"][4]["resource"]["subject"]["reference"] = "urn:uuid:0"
    assert validate_bundle(bundle) == [
        f"Bundle.entry[2].fullUrl: got {bundle['entry'][1]['fullUrl']!r}; expected a fullUrl not "
        "already used in the Bundle (bdl-7)",
        "Bundle.entry[4].resource.subject.reference: got 'urn:uuid:0'; expected the fullUrl of an "
        "entry of the Bundle"]


@pytest.mark.parametrize(("source", "expected"), [
    ("$.labs[2]", "lab"), ("$.labs[2].value", "lab"), ("$.assessments[0].mmt8", "mmt8"),
    ("$.assessments[0].haq", None), ("$.antibodies", None), ("$", None)])
def test_inputs_resolve_to_the_longest_known_path(source: str, expected: str | None) -> None:
    urls = {"$.labs[2]": "lab", "$.assessments[0].mmt8": "mmt8"}
    assert resolve_input(source, urls) == expected


def test_citation_uris_and_patient_ids() -> None:
    assert citation_uri("X", "a doi:10.1002/art.40064); and doi:10.1136/x") == \
        "https://doi.org/10.1002/art.40064"
    assert citation_uri("HAQ-DI", "Stanford HAQ") == "urn:myositis-cds:citation:HAQ-DI"
    assert patient_resource_id("demo-001") == "demo-001"
    derived = patient_resource_id("MRN 12/34")
    assert derived != "MRN 12/34"
    assert len(derived) == 36


def test_an_example_assessment_maps_to_exact_issues_and_activities() -> None:
    params = default_params()
    record = load_example("over-40-no-screening")
    document = to_dict(cds.assess_document(record, as_of=TODAY))
    titles = {rule.id: rule.title for rule in params.pack.rules.values()}
    parsed = parse_record(record, today=TODAY)
    bundle = assessment_bundle(document, citations=params.pack.citations, codes=load_codes(),
                               rule_titles=titles, record=record_entries(parsed))
    assert validate_bundle(bundle) == []
    issues = _resources(bundle, "DetectedIssue")
    assert [(i["code"]["coding"][0]["code"], i["severity"]) for i in issues] == [
        ("ALERT-CK-NORMAL-ACTIVE-SKIN", "moderate"), ("ALERT-MONITORING-BLOODS-OVERDUE", "moderate"),
        ("ALERT-SCREEN-AGE40", "moderate"), ("ALERT-INCOMPLETE-MSA-PANEL", "low"),
        ("ALERT-TAPER-DUE", "low")]
    resources = _by_url(bundle)
    implicated = [resources[r["reference"]] for r in issues[0]["implicated"]]
    assert [(r["resourceType"], r["code"]["text"]) for r in implicated] == [
        ("Observation", "CK"), ("Condition", "heliotrope_rash"), ("Condition", "gottron_papules"),
        ("Condition", "v_sign"), ("Observation", "cdasi_activity")]
    assert len(_resources(bundle, "Patient")) == 1
    (plan,) = _resources(bundle, "CarePlan")
    assert [a["detail"]["code"]["coding"][0]["code"] for a in plan["activity"]] == [
        "ACTION-TAPER", "ACTION-CONTINUE", "SAFETY-HBV", "SAFETY-HCV", "SAFETY-HIV", "SAFETY-TB",
        "SAFETY-PJP", "SAFETY-BONE", "SAFETY-VACCINATION", "SAFETY-PREGNANCY",
        "SAFETY-MONITORING-BLOODS", "PLAN-PREDNISONE", "SAFETY-PJP-PROPHYLAXIS", "SAFETY-GIOP",
        "PLAN-METHOTREXATE",
        "SAFETY-METHOTREXATE-FOLATE", "PLAN-AZATHIOPRINE", "SAFETY-AZATHIOPRINE-TPMT",
        "PLAN-MYCOPHENOLATE", "SCREEN-CANCER", "SCREEN-CANCER", "SCREEN-CANCER", "SCREEN-CANCER",
        "WORKUP-SKIN-EXAM", "WORKUP-MMT8", "WORKUP-ENZYMES", "WORKUP-MSA-PANEL", "WORKUP-PFT",
        "WORKUP-CHEST-XRAY", "WORKUP-HRCT", "WORKUP-EMG"]
    assert [a["detail"]["status"] for a in plan["activity"]][19:] == [
        "not-started", "scheduled", "scheduled", "scheduled", "completed", "completed", "completed",
        "not-started", "completed", "completed", "cancelled", "completed"]
    assert dt.date.fromisoformat(plan["created"]) == TODAY
