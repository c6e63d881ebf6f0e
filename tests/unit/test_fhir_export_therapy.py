"""The therapy-aware plan (pack 2026.2) in the exported CarePlan: actions, safety items, current
therapy — exact on the example records."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import myositis_cds as cds
from myositis_cds.adapters.fhir.codes import load_codes
from myositis_cds.adapters.fhir.exporting.assessment import assessment_bundle
from myositis_cds.adapters.fhir.exporting.common import validate_bundle
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import to_dict
from tests.conftest import EXAMPLES, TODAY, load_example

UCUM = "http://unitsofmeasure.org"


def _document(name: str) -> dict[str, Any]:
    return to_dict(cds.assess_document(load_example(name), as_of=TODAY))


def _care_plan(document: dict[str, Any]) -> dict[str, Any]:
    params = default_params()
    bundle = assessment_bundle(document, citations=params.pack.citations, codes=load_codes(),
                               rule_titles={r.id: r.title for r in params.pack.rules.values()})
    assert validate_bundle(bundle) == []
    plans: list[dict[str, Any]] = [e["resource"] for e in bundle["entry"]
                                   if e["resource"]["resourceType"] == "CarePlan"]
    assert len(plans) == 1
    return plans[0]


def _details(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["detail"] for a in plan["activity"]]


def _row(detail: dict[str, Any]) -> tuple[Any, ...]:
    codings = detail["code"]["coding"]
    return (codings[0]["code"], codings[1]["code"], detail["status"], detail.get("kind"),
            detail["code"]["text"])


def _extensions(detail: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(e["url"].rsplit(":", 1)[1],
             e.get("valueQuantity") or e.get("valueRange") or e["valueCodeableConcept"]["text"])
            for e in detail.get("extension", ())]


def test_the_actions_lead_the_plan_with_reason_citations_rule_and_the_recorded_dose() -> None:
    taper, keep = _details(_care_plan(_document("over-40-no-screening")))[:2]
    assert [_row(taper), _row(keep)] == [
        ("ACTION-TAPER", "taper", "not-started", "MedicationRequest",
         "Taper prednisone (now 60 mg/day)"),
        ("ACTION-CONTINUE", "continue", "in-progress", "MedicationRequest",
         "Continue methotrexate (15 mg/week)")]
    assert taper["code"]["coding"][0] == {
        "system": "urn:myositis-cds:rule", "version": "2026.2", "code": "ACTION-TAPER",
        "display": "Taper the glucocorticoid according to clinical response and CK normalisation"}
    assert taper["code"]["coding"][1] == {"system": "urn:myositis-cds:plan-action",
                                          "code": "taper", "display": "Taper"}
    reason = ("Taper prednisone according to clinical response and CK normalisation: ≥ 0.5 "
              "mg/kg/day × 71 kg = 35.5 mg/day since 2026-09-22 for more than 4 weeks, TIS 50 "
              "(moderate), CK 150 within normal limits (ULN 170, 2026-11-16).")
    assert taper["reasonCode"] == [{"text": reason}]
    assert taper["description"] == f"Taper prednisone (now 60 mg/day)\n{reason}"
    assert [r["display"] for r in taper["reasonReference"]] == ["MI2-SUMMARY"]
    assert taper["productCodeableConcept"] == {"coding": [
        {"system": "urn:myositis-cds:codes:drug", "code": "prednisone", "display": "prednisone"}],
        "text": "prednisone"}
    assert _extensions(taper) == [("recorded-dose", {"value": 60.0, "unit": "mg/day",
                                                     "system": UCUM, "code": "mg/d"})]
    assert _extensions(keep) == [("recorded-dose", {"value": 15.0, "unit": "mg/week",
                                                    "system": UCUM, "code": "mg/wk"})]


def test_an_action_on_a_class_of_agent_lists_the_agents_to_choose_and_names_no_product() -> None:
    add, keep = _details(_care_plan(_document("incomplete-data")))[:2]
    assert _row(add) == ("ACTION-ADD", "add", "not-started", "MedicationRequest",
                         "Add a steroid-sparing agent: azathioprine, methotrexate or "
                         "mycophenolate mofetil")
    assert "productCodeableConcept" not in add
    assert _extensions(add) == [("option", "azathioprine"), ("option", "methotrexate"),
                                ("option", "mycophenolate_mofetil")]
    assert _row(keep)[4] == "Continue prednisone (50 mg/day)"


def test_an_untreated_child_gets_doses_to_give_from_the_childrens_table() -> None:
    plan = _care_plan(_document("juvenile-under-25kg"))
    details = _details(plan)
    assert [_row(d) for d in details[:4]] == [
        ("ACTION-START", "start", "not-started", "MedicationRequest", "Start prednisone (38 mg/day)"),
        ("ACTION-START", "start", "not-started", "MedicationRequest",
         "Start a steroid-sparing agent: azathioprine, methotrexate or mycophenolate mofetil"),
        ("ACTION-PULSE", "pulse", "not-started", "MedicationRequest",
         "Pulse methylprednisolone IV (0.57 g/day)"),
        ("ACTION-ADD", "add", "not-started", "MedicationRequest",
         "Add a second-line agent: IVIG, rituximab or cyclosporine")]
    dose = {"value": 0.57, "unit": "g/day", "system": UCUM, "code": "g/d"}
    assert _extensions(details[2]) == [("dose-range", {"low": dose, "high": dose})]
    assert "dosing children; therapy phase untreated;" in plan["description"]
    assert plan["note"][0]["text"] == (
        "Current therapy as of 2026-11-21: phase untreated — no immunosuppressive course has "
        "started; disease activity active.\nActive agents: none.")


def test_a_drug_free_remission_is_surveillance_with_no_options() -> None:
    plan = _care_plan(_document("drug-free-remission"))
    details = _details(plan)
    assert _row(details[0]) == ("ACTION-SURVEILLANCE", "surveillance", "not-started", None,
                                "Surveillance")
    assert details[0]["reasonCode"][0]["text"].startswith("Off therapy (drug free remission): no "
                                                          "regimen. Follow the anti-Mi-2 titer")
    assert not [d for d in details if d["code"]["coding"][0]["code"].startswith("PLAN-")]
    assert {d["status"] for d in details[1:10]} == {"cancelled"}  # safety: not applicable
    assert plan["extension"] == [{"url": "urn:myositis-cds:extension:therapy-phase", "valueCoding": {
        "system": "urn:myositis-cds:therapy-phase", "code": "drug_free_remission",
        "display": "drug-free remission"}}]


def test_safety_items_are_activities_with_their_tests_coded_and_the_date_due() -> None:
    details = _details(_care_plan(_document("over-40-no-screening")))
    assert [_row(d)[:4] for d in details[2:11]] == [
        ("SAFETY-HBV", "SAFETY-HBV", "not-started", "ServiceRequest"),
        ("SAFETY-HCV", "SAFETY-HCV", "not-started", "ServiceRequest"),
        ("SAFETY-HIV", "SAFETY-HIV", "not-started", "ServiceRequest"),
        ("SAFETY-TB", "SAFETY-TB", "not-started", "ServiceRequest"),
        ("SAFETY-PJP", "SAFETY-PJP", "not-started", "MedicationRequest"),
        ("SAFETY-BONE", "SAFETY-BONE", "not-started", "MedicationRequest"),
        ("SAFETY-VACCINATION", "SAFETY-VACCINATION", "not-started", None),
        ("SAFETY-PREGNANCY", "SAFETY-PREGNANCY", "cancelled", None),
        ("SAFETY-MONITORING-BLOODS", "SAFETY-MONITORING-BLOODS", "not-started", "ServiceRequest")]
    hbv, bloods = details[2], details[10]
    assert hbv["code"]["coding"][2] == {"system": "urn:myositis-cds:codes:investigation",
                                        "code": "hbv_serology", "display": "hbv_serology"}
    assert hbv["statusReason"]["coding"] == [{"system": "urn:myositis-cds:assessment:safety-status",
                                              "code": "missing"}]
    assert [c["code"] for c in bloods["code"]["coding"][2:]] == [
        "wbc", "neutrophils", "platelets", "haemoglobin", "creatinine", "albumin", "1742-6"]
    assert bloods["code"]["text"] == "Monitoring bloods (methotrexate)"
    assert bloods["scheduledPeriod"] == {"start": "2026-11-03"}
    assert bloods["statusReason"]["coding"][0]["code"] == "overdue"
    assert bloods["description"].splitlines()[0] == (
        "Monitoring bloods (methotrexate) — overdue: Methotrexate monitoring bloods overdue: the "
        "occasion of 2026-11-03 has no full blood count, creatinine, ALT or AST and albumin within "
        "7 days (0 of 3 occasions met).")
    assert [r["display"] for r in bloods["reasonReference"]] == ["BSR-DMARD-2017"]


def test_the_current_therapy_is_a_note_in_words_and_the_phase_an_extension() -> None:
    plan = _care_plan(_document("taper-several-entries"))
    assert plan["note"][0]["text"] == (
        "Current therapy as of 2026-11-21: phase maintenance — course started 2026-05-05 (≥ 3 "
        "months ago), latest TIS at least minimal (major); disease activity active.\n"
        "Active agents: calcium and vitamin D 1 g daily oral since 2026-05-05 (200 days on this "
        "dose); folic acid 5 mg weekly oral since 2026-05-06 (199 days on this dose); methotrexate "
        "20 mg weekly subcutaneous since 2026-06-02 (172 days on this dose); prednisone 15 mg daily "
        "oral since 2026-10-20 (32 days on this dose; 0.2 mg/kg).\n"
        "Glucocorticoid (prednisone-equivalent): 15 mg/day now; 0 days at ≥ 20 mg/day; 6795 mg "
        "this course, 6795 mg in the record.")
    assert plan["extension"][0]["valueCoding"]["code"] == "maintenance"
    assert "; therapy phase maintenance;" in plan["description"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).stem)
def test_every_example_has_one_activity_per_action_and_safety_item_first(path: Path) -> None:
    document = _document(Path(path).stem)
    details = _details(_care_plan(document))
    expected = ([a["rule_id"] for a in document["treatment_plan"]["actions"]]
                + [s["rule_id"] for s in document["safety"]])
    assert [d["code"]["coding"][0]["code"] for d in details[:len(expected)]] == expected


def test_an_action_or_safety_status_outside_the_contract_is_an_error_naming_the_field() -> None:
    document = _document("over-40-no-screening")
    wrong = copy.deepcopy(document)
    wrong["treatment_plan"]["actions"][0]["action"] = "stop"
    with pytest.raises(ValueError, match=r"treatment_plan\.actions\[\]\.action: got 'stop'"):
        _care_plan(wrong)
    wrong = copy.deepcopy(document)
    wrong["safety"][0]["status"] = "later"
    with pytest.raises(ValueError, match=r"safety\[\]\.status: got 'later'"):
        _care_plan(wrong)
