"""Engine result → worklist rows: the mapping of docs/worklist.md on the example patients."""

from __future__ import annotations

import datetime as dt
import json

import orjson

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.domain.worklist import CachedResult, WorklistItem
from myositis_cds.engine import assess, plain
from myositis_cds.services.population import WorklistEvaluator
from myositis_cds.services.worklist import error_item, sort_key, worklist_items
from tests.conftest import EXAMPLES, TODAY

# (patient, severity, rule ID, item, status, due) of every example on 2026-11-21, in worklist order.
EXPECTED = [
    ("ex-incomplete-data", "critical", "ALERT-DELAYED-IMMUNOSUPPRESSION",
     "ALERT-DELAYED-IMMUNOSUPPRESSION", "fired", None),
    ("ex-methotrexate-daily", "critical", "ALERT-DOSE-CHECK",
     "ALERT-DOSE-CHECK methotrexate", "fired", None),
    ("ex-stopped-while-active", "critical", "ALERT-DELAYED-IMMUNOSUPPRESSION",
     "ALERT-DELAYED-IMMUNOSUPPRESSION", "fired", None),
    ("ex-incomplete-data", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-incomplete-data", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-incomplete-data", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-incomplete-data", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-incomplete-data", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-11-06"),
    ("ex-incomplete-data", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-juvenile", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-juvenile", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-juvenile", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-juvenile", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-juvenile", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-03-10"),
    ("ex-juvenile", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-juvenile-under-25kg", "warning", "ALERT-DELAYED-IMMUNOSUPPRESSION",
     "ALERT-DELAYED-IMMUNOSUPPRESSION", "fired", None),
    ("ex-methotrexate-daily", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-methotrexate-daily", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-methotrexate-daily", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-methotrexate-daily", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-methotrexate-daily", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-09-01"),
    ("ex-methotrexate-daily", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-mi2-negative-dm", "warning", "ALERT-MONITORING-BLOODS-OVERDUE",
     "ALERT-MONITORING-BLOODS-OVERDUE methotrexate", "fired", None),
    ("ex-mi2-negative-dm", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-mi2-negative-dm", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-mi2-negative-dm", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-mi2-negative-dm", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-mi2-negative-dm", "warning", "SAFETY-MONITORING-BLOODS",
     "SAFETY-MONITORING-BLOODS methotrexate", "overdue", "2026-11-10"),
    ("ex-mi2-negative-dm", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-05-12"),
    ("ex-mi2-negative-dm", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-non-severe", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-non-severe", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-non-severe", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-non-severe", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-non-severe", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-07-13"),
    ("ex-non-severe", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-over-40-no-screening", "warning", "ALERT-CK-NORMAL-ACTIVE-SKIN",
     "ALERT-CK-NORMAL-ACTIVE-SKIN", "fired", None),
    ("ex-over-40-no-screening", "warning", "ALERT-MONITORING-BLOODS-OVERDUE",
     "ALERT-MONITORING-BLOODS-OVERDUE methotrexate", "fired", None),
    ("ex-over-40-no-screening", "warning", "ALERT-SCREEN-AGE40", "ALERT-SCREEN-AGE40", "fired", None),
    ("ex-over-40-no-screening", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-over-40-no-screening", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-over-40-no-screening", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-over-40-no-screening", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-over-40-no-screening", "warning", "SAFETY-MONITORING-BLOODS",
     "SAFETY-MONITORING-BLOODS methotrexate", "overdue", "2026-11-03"),
    ("ex-over-40-no-screening", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-10-20"),
    ("ex-over-40-no-screening", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-refractory-3-months", "warning", "ALERT-MONITORING-BLOODS-OVERDUE",
     "ALERT-MONITORING-BLOODS-OVERDUE azathioprine", "fired", None),
    ("ex-refractory-3-months", "warning", "RESPONSE-INADEQUATE",
     "inadequate_response", "inadequate", "2026-11-09"),
    ("ex-refractory-3-months", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-refractory-3-months", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-refractory-3-months", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-refractory-3-months", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-refractory-3-months", "warning", "SAFETY-MONITORING-BLOODS",
     "SAFETY-MONITORING-BLOODS azathioprine", "overdue", "2026-10-19"),
    ("ex-refractory-3-months", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-08-10"),
    ("ex-refractory-3-months", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-refractory-3-months", "warning", "SCREEN-CANCER", "occasion 2026-07-10", "overdue", "2026-07-10"),
    ("ex-relapse-after-remission", "warning", "RESPONSE-INADEQUATE",
     "inadequate_response", "inadequate", "2026-11-16"),
    ("ex-relapse-after-remission", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-relapse-after-remission", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-08-11"),
    ("ex-severe-ild", "warning", "ALERT-DOSE-CHECK", "ALERT-DOSE-CHECK ivig", "fired", None),
    ("ex-severe-ild", "warning", "ALERT-MONITORING-BLOODS-OVERDUE",
     "ALERT-MONITORING-BLOODS-OVERDUE mycophenolate_mofetil", "fired", None),
    ("ex-severe-ild", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-severe-ild", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-severe-ild", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-severe-ild", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-severe-ild", "warning", "SAFETY-MONITORING-BLOODS",
     "SAFETY-MONITORING-BLOODS mycophenolate_mofetil", "overdue", "2026-10-23"),
    ("ex-severe-ild", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-10-06"),
    ("ex-severe-ild", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-taper-several-entries", "warning", "ALERT-CK-NORMAL-ACTIVE-SKIN",
     "ALERT-CK-NORMAL-ACTIVE-SKIN", "fired", None),
    ("ex-tif1-gamma-copositive", "warning", "ALERT-COEXISTING-MSA", "ALERT-COEXISTING-MSA", "fired", None),
    ("ex-tif1-gamma-copositive", "warning", "ALERT-MONITORING-BLOODS-OVERDUE",
     "ALERT-MONITORING-BLOODS-OVERDUE methotrexate", "fired", None),
    ("ex-tif1-gamma-copositive", "warning", "SAFETY-BONE", "SAFETY-BONE", "missing", None),
    ("ex-tif1-gamma-copositive", "warning", "SAFETY-HBV", "SAFETY-HBV", "missing", None),
    ("ex-tif1-gamma-copositive", "warning", "SAFETY-HCV", "SAFETY-HCV", "missing", None),
    ("ex-tif1-gamma-copositive", "warning", "SAFETY-HIV", "SAFETY-HIV", "missing", None),
    ("ex-tif1-gamma-copositive", "warning", "SAFETY-MONITORING-BLOODS",
     "SAFETY-MONITORING-BLOODS methotrexate", "overdue", "2026-11-03"),
    ("ex-tif1-gamma-copositive", "warning", "SAFETY-PJP", "SAFETY-PJP", "missing", "2026-11-03"),
    ("ex-tif1-gamma-copositive", "warning", "SAFETY-TB", "SAFETY-TB", "missing", None),
    ("ex-drug-free-remission", "info", "ALERT-CONTINUE-MONITORING",
     "ALERT-CONTINUE-MONITORING", "fired", None),
    ("ex-incomplete-data", "info", "ALERT-DOSE-CHECK", "ALERT-DOSE-CHECK", "not_evaluable", None),
    ("ex-incomplete-data", "info", "ALERT-INCOMPLETE-MSA-PANEL",
     "ALERT-INCOMPLETE-MSA-PANEL", "fired", None),
    ("ex-incomplete-data", "info", "ALERT-SCREEN-AGE40", "ALERT-SCREEN-AGE40", "not_evaluable", None),
    ("ex-incomplete-data", "info", "PLAN-AZATHIOPRINE", "azathioprine", "not_evaluable", None),
    ("ex-incomplete-data", "info", "PLAN-CYCLOSPORINE", "cyclosporine", "not_evaluable", None),
    ("ex-incomplete-data", "info", "PLAN-IVIG", "ivig", "not_evaluable", None),
    ("ex-incomplete-data", "info", "PLAN-PREDNISONE", "prednisone", "not_evaluable", None),
    ("ex-incomplete-data", "info", "SCREEN-CANCER", "level", "not_evaluable", None),
    ("ex-incomplete-data", "info", "SCREEN-CANCER", "occasion 2026-10-08", "due", "2026-10-08"),
    ("ex-incomplete-data", "info", "SEVERITY-TIER", "tier", "not_evaluable", None),
    ("ex-incomplete-data", "info", "WORKUP-CHEST-XRAY", "WORKUP-CHEST-XRAY", "missing", None),
    ("ex-incomplete-data", "info", "WORKUP-EMG", "WORKUP-EMG", "missing", None),
    ("ex-incomplete-data", "info", "WORKUP-ENZYMES", "WORKUP-ENZYMES", "missing", None),
    ("ex-incomplete-data", "info", "WORKUP-HRCT", "WORKUP-HRCT", "missing", None),
    ("ex-incomplete-data", "info", "WORKUP-MSA-PANEL", "WORKUP-MSA-PANEL", "missing", None),
    ("ex-incomplete-data", "info", "WORKUP-PFT", "WORKUP-PFT", "missing", None),
    ("ex-juvenile", "info", "ALERT-INCOMPLETE-MSA-PANEL", "ALERT-INCOMPLETE-MSA-PANEL", "fired", None),
    ("ex-juvenile", "info", "WORKUP-EMG", "WORKUP-EMG", "missing", None),
    ("ex-juvenile", "info", "WORKUP-MSA-PANEL", "WORKUP-MSA-PANEL", "missing", None),
    ("ex-juvenile-under-25kg", "info", "SAFETY-HBV", "SAFETY-HBV", "due", None),
    ("ex-juvenile-under-25kg", "info", "SAFETY-HCV", "SAFETY-HCV", "due", None),
    ("ex-juvenile-under-25kg", "info", "SAFETY-HIV", "SAFETY-HIV", "due", None),
    ("ex-juvenile-under-25kg", "info", "SAFETY-TB", "SAFETY-TB", "due", None),
    ("ex-methotrexate-daily", "info", "SAFETY-MONITORING-BLOODS",
     "SAFETY-MONITORING-BLOODS methotrexate", "due", "2026-12-01"),
    ("ex-non-severe", "info", "ALERT-TAPER-DUE", "ALERT-TAPER-DUE", "fired", None),
    ("ex-over-40-no-screening", "info", "ALERT-INCOMPLETE-MSA-PANEL",
     "ALERT-INCOMPLETE-MSA-PANEL", "fired", None),
    ("ex-over-40-no-screening", "info", "ALERT-TAPER-DUE", "ALERT-TAPER-DUE", "fired", None),
    ("ex-over-40-no-screening", "info", "SCREEN-CANCER", "occasion 2026-09-21", "due", "2026-09-21"),
    ("ex-over-40-no-screening", "info", "WORKUP-MSA-PANEL", "WORKUP-MSA-PANEL", "missing", None),
    ("ex-stopped-while-active", "info", "SAFETY-HIV", "SAFETY-HIV", "due", None),
    ("ex-stopped-while-active", "info", "SAFETY-TB", "SAFETY-TB", "due", None),
    ("ex-tif1-gamma-copositive", "info", "SCREEN-CANCER", "occasion 2026-10-05", "due", "2026-10-05"),
]


def _example_rows() -> list[WorklistItem]:
    rows = []
    for path in EXAMPLES:
        record = parse_record(json.loads(path.read_text("utf-8")), today=TODAY)
        rows += worklist_items(record.id, assess(record, TODAY, default_params()))
    return sorted(rows, key=sort_key)


def test_examples_give_the_documented_rows() -> None:
    rows = _example_rows()
    assert [(r.patient_key, r.severity, r.rule_id, r.item, r.status,
             r.due.isoformat() if r.due else None) for r in rows] == EXPECTED


def test_triggering_values_are_the_result_inputs() -> None:
    rows = {(r.patient_key, r.item): r for r in _example_rows()}
    delayed = rows[("ex-incomplete-data", "ALERT-DELAYED-IMMUNOSUPPRESSION")]
    assert orjson.loads(delayed.values) == [
        {"source": "$.treatments[0]", "name": "prednisone", "value": "2026-10-09 to ongoing",
         "date": "2026-10-09", "unit": None}]
    assert delayed.kind == "alert"
    assert delayed.scope == "in_scope"
    overdue = rows[("ex-refractory-3-months", "occasion 2026-07-10")]
    assert orjson.loads(overdue.values)["window"] == ["2026-04-11", "2026-10-08"]
    missing = rows[("ex-juvenile", "WORKUP-MSA-PANEL")]
    assert orjson.loads(missing.values) == {"missing": ["HMGCR"]}


def test_the_values_are_the_bytes_of_the_inputs_json_document() -> None:
    """The rows' values are written straight from the result objects: the same text as the inputs
    in the assessment's JSON document."""
    for path in EXAMPLES:
        record = parse_record(json.loads(path.read_text("utf-8")), today=TODAY)
        assessment = assess(record, TODAY, default_params())
        rows = {(r.kind, r.item): r.values for r in worklist_items(record.id, assessment)}
        for alert in assessment.alerts:
            item = f"{alert.id} {alert.drug}" if alert.drug else alert.id
            assert rows[("alert", item)] == orjson.dumps(plain(alert.inputs)).decode()
        for check in assessment.safety:
            item = f"{check.id} {check.drug}" if check.drug else check.id
            if ("safety", item) in rows:
                assert rows[("safety", item)] == orjson.dumps(plain(check.inputs)).decode()


def test_an_invalid_record_is_a_row_not_a_gap() -> None:
    evaluator = WorklistEvaluator(as_of=TODAY, params=default_params(),
                                  parse=lambda data, *, prefix, source: parse_record(
                                      data, today=TODAY, prefix=prefix, source=source))
    result = evaluator("p1", {"format": "myositis-cds/patient-record@1", "id": "p1",
                              "labs": [{"test": "CK", "value": -5, "unit": "U/L",
                                        "date": "2026-01-01"}]})
    assert result.invalid is True
    assert result.recheck_on == TODAY  # never reused
    (row,) = result.rows
    assert (row.severity, row.rule_id, row.status) == ("warning", "RECORD-INVALID", "invalid")
    assert {"path": "$.labs[0].value", "value": -5,
            "expected": "greater than or equal to 0"} in orjson.loads(row.values)
    assert error_item("p1", []).values == "[]"


def test_cached_rows_are_reused_only_inside_their_window() -> None:
    cached = CachedResult(content_hash="h", as_of=dt.date(2026, 11, 1),
                          recheck_on=dt.date(2026, 11, 10), rows=())
    assert cached.valid_on("h", dt.date(2026, 11, 1))
    assert cached.valid_on("h", dt.date(2026, 11, 9))
    assert not cached.valid_on("h", dt.date(2026, 11, 10))  # recheck_on itself is recomputed
    assert not cached.valid_on("h", dt.date(2026, 10, 31))  # an earlier as-of date
    assert not cached.valid_on("other", dt.date(2026, 11, 5))
