"""Engine-wide guarantees: purity, provenance on every recommendation, the as-of boundary."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from myositis_cds import assess_document, to_dict
from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import evaluate_rule
from myositis_cds.engine.results import ResponseJudgement, WorkupItem
from tests.conftest import EXAMPLES, TODAY, load_example

AS_OF = TODAY


def assessed(name: str, as_of: dt.date = AS_OF) -> dict[str, Any]:
    return to_dict(assess_document(load_example(name), as_of=as_of, today=TODAY))


@pytest.mark.parametrize("example", [p.stem for p in EXAMPLES])
def test_every_recommendation_carries_its_provenance(example: str) -> None:
    document = assessed(example)
    citations = default_params().pack.citations
    items: list[dict[str, Any]] = [
        document["phenotype"], document["cancer_screening"], document["severity"],
        document["response"]["tis"], document["response"]["inadequate_response"],
        *document["workup"], *document["alerts"], *document["treatment_plan"]["regimens"],
        document["current_therapy"], *document["treatment_plan"]["actions"], *document["safety"],
    ]
    assert document["treatment_plan"]["actions"], "every patient gets at least one action"
    for item in items:
        assert item["rule_id"], item
        assert item["knowledge_version"] == "2026.2"
        assert item["citations"], item["rule_id"]
        assert all(key in citations for key in item["citations"])
        assert isinstance(item["inputs"], list)
    for alert in document["alerts"]:
        assert alert["inputs"], f"{alert['id']} names no triggering value"


@pytest.mark.parametrize("example", [p.stem for p in EXAMPLES])
def test_assessment_is_deterministic(example: str) -> None:
    assert assessed(example) == assessed(example)


def test_interpretations_that_affect_a_result_are_visible() -> None:
    document = assessed("over-40-no-screening")
    settings = {n["setting"] for n in document["cancer_screening"]["notes"] if n["setting"]}
    assert "screening_window_days" in settings
    tis_settings = {n["setting"] for n in document["response"]["tis"]["notes"]}
    assert {"tis_percent_change", "lab_visit_window_days"} <= tis_settings


def test_notes_from_the_reference_are_shown_with_the_drug() -> None:
    regimens = {r["drug"]: r for r in assessed("non-severe")["treatment_plan"]["regimens"]}
    texts = [n["text"] for n in regimens["prednisone"]["notes"]]
    assert any("100 mg/day" in t and "[NOTE]" in t for t in texts)
    assert regimens["prednisone"]["notes"][0]["citations"] == ["JTA-2019"]


def test_data_after_the_as_of_date_is_not_used() -> None:
    early = dt.date(2026, 6, 1)
    record = load_example("non-severe")
    baseline = assessed("non-severe", early)
    later = copy.deepcopy(record)
    later["labs"].append({"test": "CK", "value": 1, "unit": "U/L", "uln": 200,
                          "date": "2026-06-02"})
    later["findings"].append({"code": "dysphagia", "present": True, "date": "2026-06-02"})
    assert to_dict(assess_document(later, as_of=early, today=TODAY)) == baseline


def test_a_stop_after_the_as_of_date_was_not_known() -> None:
    record = {"id": "p", "diagnosis": {"name": "dermatomyositis", "date": "2026-01-01"},
              "treatments": [{"drug": "prednisone", "start": "2026-01-02", "stop": "2026-03-01"}]}
    document = to_dict(assess_document(record, as_of=dt.date(2026, 2, 1), today=TODAY))
    alert = next(a for a in document["alerts"] if a["id"] == "ALERT-DELAYED-IMMUNOSUPPRESSION")
    assert alert["inputs"][0]["value"] == "2026-01-02 to ongoing"


def test_evaluate_rule_runs_one_rule_with_its_requirements() -> None:
    record = parse_record(load_example("refractory-3-months"), today=TODAY)
    judgement = evaluate_rule("RESPONSE-INADEQUATE", record, AS_OF, default_params())
    assert isinstance(judgement, ResponseJudgement)
    assert judgement.status == "inadequate"
    item = evaluate_rule("WORKUP-PFT", record, AS_OF, default_params())
    assert isinstance(item, WorkupItem)
    assert item.status == "done"


def test_scope_follows_the_phenotype() -> None:
    assert assessed("non-severe")["scope"]["status"] == "in_scope"
    assert assessed("mi2-negative-dm")["scope"]["status"] == "out_of_scope"


def test_alerts_are_ordered_by_severity() -> None:
    ranks = {"critical": 0, "warning": 1, "info": 2}
    for example in EXAMPLES:
        severities = [ranks[a["severity"]] for a in assessed(example.stem)["alerts"]]
        assert severities == sorted(severities)


def test_note_citations_name_only_what_the_reference_attributes() -> None:
    """§5.2's [NOTE] is JTA-2019's; §5.3's "reviews" are unnamed, so they cite the reference itself."""
    regimens = {r["drug"]: r for r in assessed("severe-ild")["treatment_plan"]["regimens"]}
    assert regimens["cyclophosphamide"]["notes"][0]["citations"] == ["MYOSITIS-CDS-REF"]
    assert regimens["cyclosporine"]["notes"][0]["citations"] == ["MYOSITIS-CDS-REF"]
    assert "0.5–1 g/m²" in regimens["cyclophosphamide"]["notes"][0]["text"]
