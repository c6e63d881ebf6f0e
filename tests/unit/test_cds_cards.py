"""CDS Hooks cards from assessment documents: summaries, indicators, escaping, which patients."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from myositis_cds.entrypoints.web.cds_hooks.cards import (
    INDICATOR,
    MAX_SUMMARY,
    CardContext,
    applies,
    build_cards,
    card_rules,
    invalid_record_card,
    markdown_text,
    summary,
)
from myositis_cds.entrypoints.web.clinical import Clinic
from tests.conftest import TODAY, load_example


def _context() -> CardContext:
    numbers = itertools.count(1)
    pack = Clinic().params.pack
    return CardContext(source_label="src", source_url="https://cds.example.org/",
                       citations=dict(pack.citations),
                       rule_titles={k: r.title for k, r in pack.rules.items()},
                       rule_citations={k: r.citations for k, r in pack.rules.items()},
                       new_uuid=lambda: f"card-{next(numbers)}")


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
    clinic = Clinic()
    assessment = clinic.assessment(load_example("incomplete-data"), TODAY)
    cards = build_cards(assessment, context=_context(), not_provided=("procedures",))
    assert [c["uuid"] for c in cards] == ["card-1", "card-2", "card-3", "card-4", "card-5"]
    assert card_rules(assessment) == ["ALERT-DELAYED-IMMUNOSUPPRESSION",
                                      "ALERT-INCOMPLETE-MSA-PANEL", "ALERT-DOSE-CHECK",
                                      "ALERT-SCREEN-AGE40", "PLAN"]
    assert "**Not provided by the EHR**: procedures —" in cards[-1]["detail"]
    assert all("links" not in c for c in cards)


def test_an_unknown_severity_is_an_error_not_a_guess() -> None:
    clinic = Clinic()
    assessment = clinic.assessment(load_example("incomplete-data"), TODAY)
    assessment["alerts"][0]["severity"] = "urgent"
    with pytest.raises(KeyError, match="urgent"):
        build_cards(assessment, context=_context())


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
    assessment = Clinic().assessment(load_example("non-severe"), TODAY)
    assessment["response"]["tis"].update(status="complete", score=82.5, category="major")
    plan = build_cards(assessment, context=_context())[-1]
    assert "**Response**: TIS complete 82.5 (major); IMACS definition of improvement" \
        in plan["detail"]
