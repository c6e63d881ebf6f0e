"""CDS Hooks cards from assessment documents: summaries, indicators, escaping, which patients."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from myositis_cds.entrypoints.web.cds_hooks.cards import (
    INDICATOR,
    MAX_SUMMARY,
    CardContext,
    act_now_of,
    applies,
    build_cards,
    card_rules,
    invalid_record_card,
    markdown_text,
    summary,
)
from myositis_cds.entrypoints.web.clinical import Clinic
from myositis_cds.presentation import assessment_document
from myositis_cds.presentation.act_now import ActNow
from myositis_cds.services import assess_document
from tests.conftest import TODAY, load_example


def _context(*, patient_id: str | None = None) -> CardContext:
    numbers = itertools.count(1)
    pack = Clinic().params.pack
    return CardContext(source_label="src", source_url="https://cds.example.org/",
                       citations=dict(pack.citations),
                       rule_titles={k: r.title for k, r in pack.rules.items()},
                       rule_citations={k: r.citations for k, r in pack.rules.items()},
                       new_uuid=lambda: f"card-{next(numbers)}", patient_id=patient_id,
                       coding_of=None if patient_id is None else _local_coding)


def _local_coding(category: str, name: str) -> dict[str, Any]:
    return {"system": f"urn:test:{category}", "code": name}


def _assessed(name: str) -> tuple[dict[str, Any], ActNow]:
    """The assessment@1 document of an example and its act-now summary (what the service builds)."""
    clinic = Clinic()
    typed = assess_document(load_example(name), parse=clinic.parse, as_of=TODAY,
                            params=clinic.params)
    return assessment_document(typed), act_now_of(typed, clinic.params.pack.citations)


def test_the_indicator_table_is_the_identity_on_the_pack_severities() -> None:
    assert dict(INDICATOR) == {"info": "info", "warning": "warning", "critical": "critical"}


def test_summaries_stay_under_140_characters() -> None:
    assert summary("x" * 139) == "x" * 139
    long = " ".join(["word"] * 60)
    cut = summary(long)
    assert len(cut) <= MAX_SUMMARY
    assert cut.endswith("word…")
    assert summary("a\n  b") == "a b"
    assert len(summary("y" * 400)) == MAX_SUMMARY


def test_record_text_cannot_become_a_link_an_image_or_html() -> None:
    text = markdown_text("![x](javascript:alert(1)) <script> *bold* # heading|`code`")
    assert text == r"\!\[x\](javascript:alert(1)) \<script\> \*bold\* \# heading\|\`code\`"
    assert markdown_text("two\nlines") == "two lines"


def test_cards_of_a_document_are_built_in_order_with_fresh_uuids() -> None:
    assessment, act = _assessed("incomplete-data")
    cards = build_cards(assessment, act=act, context=_context(), not_provided=("procedures",))
    assert [c["uuid"] for c in cards] == ["card-1", "card-2", "card-3", "card-4", "card-5"]
    assert card_rules(assessment) == ["ALERT-DELAYED-IMMUNOSUPPRESSION",
                                      "ALERT-INCOMPLETE-MSA-PANEL", "ALERT-DOSE-CHECK",
                                      "ALERT-SCREEN-AGE40", "PLAN"]
    assert "**Not provided by the EHR**: procedures —" in cards[-1]["detail"]
    assert all("links" not in c for c in cards)


def test_an_unknown_severity_is_an_error_not_a_guess() -> None:
    assessment, act = _assessed("incomplete-data")
    assessment["alerts"][0]["severity"] = "urgent"
    with pytest.raises(KeyError, match="urgent"):
        build_cards(assessment, act=act, context=_context())


@pytest.mark.parametrize(("scope", "document", "expected"), [
    ("in_scope", {}, True),
    ("out_of_scope", {"diagnosis": {"name": "dermatomyositis"}}, False),
    ("not_evaluable", {}, False),
    ("not_evaluable", {"antibodies": [{"target": "Jo-1"}]}, False),
    ("not_evaluable", {"antibodies": [{"target": "Mi-2"}]}, True),
    ("not_evaluable", {"diagnosis": {"name": "dermatomyositis"}}, True),
])
def test_which_patients_get_cards(scope: str, document: dict[str, Any], expected: bool) -> None:
    assert applies({"scope": {"status": scope}}, document) is expected


def test_an_invalid_record_is_a_warning_that_nothing_was_assessed() -> None:
    card = invalid_record_card([{"path": "$.labs[0].value", "value": -5,
                                 "expected": "greater than or equal to 0"}], context=_context())
    assert (card["indicator"], card["summary"]) == (
        "warning", "myositis-cds could not assess this patient: the EHR data did not validate")
    assert "- `$.labs[0].value`: expected greater than or equal to 0" in card["detail"]
    assert "-5" not in card["detail"]


def test_the_plan_card_separates_the_tis_status_from_its_score() -> None:
    """Regression: the card read "TIS complete82.5 (major)" (the space was trimmed away)."""
    assessment, act = _assessed("non-severe")
    assessment["response"]["tis"].update(status="complete", score=82.5, category="major")
    plan = build_cards(assessment, act=act, context=_context())[-1]
    assert "**Response**: TIS complete 82.5 (major); IMACS definition of improvement" \
        in plan["detail"]


def test_the_plan_card_leads_with_the_actions_in_the_act_now_words() -> None:
    assessment, act = _assessed("over-40-no-screening")
    plan = build_cards(assessment, act=act, context=_context())[-1]
    assert plan["summary"] == ("Anti-Mi-2 DM plan: Taper prednisone; cancer screening enhanced: due "
                               "2026-09-21; 1 work-up item(s) open")
    assert plan["detail"].split("\n\n**Current therapy**")[0].splitlines() == [
        "**What to do now**", "",
        "- **Taper** Prednisone (now 60 mg/day): Taper prednisone according to clinical response "
        "and CK normalisation: ≥ 0.5 mg/kg/day × 71 kg = 35.5 mg/day since 2026-09-22 for more "
        "than 4 weeks, TIS 50 (moderate), CK 150 within normal limits (ULN 170, 2026-11-16).",
        "- **Continue** Methotrexate (15 mg/week)", "",
        "**Phase**: Induction — course started 2026-09-22 (less than 3 months ago). Disease "
        "activity: active."]
    assert ("**Current therapy**: Prednisone 60 mg daily (0.85 mg/kg), since 2026-09-22 (60 days "
            "on this dose); Methotrexate 15 mg weekly, since 2026-09-22 (60 days on this dose)\n"
            "- Glucocorticoid: 60 mg/day prednisone-equivalent now; 61 days at ≥ 20 mg/day; "
            "3660 mg this course") in plan["detail"]
    assert ("- Overdue: Monitoring bloods: Methotrexate, due 2026-11-03 — Methotrexate monitoring "
            "bloods overdue: the occasion of 2026-11-03") in plan["detail"]
    assert plan["detail"].index("**What to do now**") < plan["detail"].index("**Scope**")
    assert "BSR-DMARD-2017" in plan["detail"].split("**References**")[1]


@pytest.mark.parametrize(("name", "summary_text"), [
    ("drug-free-remission", "Anti-Mi-2 DM plan: Surveillance; cancer screening enhanced; work-up "
                            "complete"),
    ("methotrexate-daily", "Anti-Mi-2 DM plan: Review dose methotrexate; cancer screening "
                           "enhanced: upcoming 2027-08-03; work-up complete"),
    ("taper-several-entries", "Anti-Mi-2 DM plan: Continue the current therapy; cancer screening "
                              "enhanced: upcoming 2027-05-04; work-up complete"),
    ("juvenile-under-25kg", "Anti-Mi-2 DM plan: Start prednisone; start a steroid-sparing agent; "
                            "pulse methylprednisolone IV; add a second-line agent; cancer…"),
])
def test_the_plan_summary_names_the_changes_first(name: str, summary_text: str) -> None:
    assessment, act = _assessed(name)
    assert build_cards(assessment, act=act, context=_context())[-1]["summary"] == summary_text


def test_actions_that_begin_an_agent_offer_draft_prescriptions_without_a_dose() -> None:
    assessment, act = _assessed("incomplete-data")
    cards = build_cards(assessment, act=act, context=_context(patient_id="pat-1"))
    delayed = cards[0]
    assert [s["label"] for s in delayed["suggestions"]] == [
        "Add azathioprine (one of 3: a steroid-sparing agent)",
        "Add methotrexate (one of 3: a steroid-sparing agent)",
        "Add mycophenolate mofetil (one of 3: a steroid-sparing agent)"]
    (action,) = delayed["suggestions"][1]["actions"]
    reason = ("Prednisone running without a steroid-sparing or second-line agent: add a "
              "steroid-sparing agent (azathioprine, methotrexate, mycophenolate mofetil).")
    assert action["resource"] == {
        "resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
        "medicationCodeableConcept": {"text": "methotrexate",
                                      "coding": [{"system": "urn:test:drug", "code": "methotrexate"}]},
        "subject": {"reference": "Patient/pat-1"},
        "reasonCode": [{"coding": [{"system": "urn:myositis-cds:rule", "code": "ACTION-ADD",
                                    "version": "2026.2"}], "text": reason}]}
    plan_labels = [s["label"] for s in cards[-1]["suggestions"]]
    assert plan_labels[:12] == [
        "Add azathioprine (one of 3: a steroid-sparing agent)",
        "Add methotrexate (one of 3: a steroid-sparing agent)",
        "Add mycophenolate mofetil (one of 3: a steroid-sparing agent)",
        "Order hepatitis B serology", "Order hepatitis C serology", "Order HIV serology",
        "Order tuberculosis screening",
        "Start atovaquone (Pneumocystis prophylaxis, one of 4)",
        "Start dapsone (Pneumocystis prophylaxis, one of 4)",
        "Start pentamidine (Pneumocystis prophylaxis, one of 4)",
        "Start co-trimoxazole (Pneumocystis prophylaxis, one of 4)",
        "Start calcium and vitamin D (bone protection)"]
    assert not [label for label in plan_labels if label.startswith("Continue")]


def test_overdue_bloods_offer_the_tests_of_an_occasion_and_prophylaxis_names_the_interaction() -> None:
    assessment, act = _assessed("over-40-no-screening")
    cards = build_cards(assessment, act=act, context=_context(patient_id="pat-1"))
    assert cards[1]["summary"] == "Drug-monitoring bloods overdue"
    (bloods,) = cards[1]["suggestions"]
    assert bloods["label"] == "Order monitoring bloods (methotrexate)"
    assert [(a["resource"]["resourceType"], a["resource"]["code"]["coding"][0]["code"])
            for a in bloods["actions"]] == [
        ("ServiceRequest", t) for t in ("wbc", "neutrophils", "platelets", "haemoglobin",
                                        "creatinine", "albumin", "ALT")]
    assert {a["resource"]["reasonCode"][0]["coding"][0]["code"] for a in bloods["actions"]} == {
        "SAFETY-MONITORING-BLOODS"}
    (cotrimoxazole,) = [s for s in cards[-1]["suggestions"] if "co-trimoxazole" in s["label"]]
    assert cotrimoxazole["actions"][0]["resource"]["reasonCode"][0]["text"].endswith(
        "With methotrexate: note the interaction of trimethoprim–sulfamethoxazole with "
        "methotrexate.")
    assert cotrimoxazole["actions"][0]["description"].endswith("dose, route and timing to be written")
    assert "dosageInstruction" not in cotrimoxazole["actions"][0]["resource"]


def test_nothing_to_begin_and_nothing_open_offers_no_therapy_suggestion() -> None:
    assessment, act = _assessed("drug-free-remission")
    cards = build_cards(assessment, act=act, context=_context(patient_id="pat-1"))
    assert all("suggestions" not in c for c in cards)
