"""Clinical scenarios as data: every scenario in ``tests/scenarios/*.json`` is assessed and matched.

Each file is ``{"scenarios": [...]}``; each scenario has ``name``, ``why`` (one line citing the
clinical-reference section), ``as_of``, optional ``settings`` (site-setting overrides), ``patient``
(a ``patient-record@1`` object), ``expect`` (a fragment of the ``assessment@1`` output, matched by
:mod:`tests.scenario_matching`) and, for a suspected engine defect, ``xfail`` (the reason).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import make_params
from myositis_cds.engine import assess, to_dict
from tests.scenario_matching import assert_matches

TODAY = dt.date(2026, 11, 21)
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
REQUIRED_KEYS = frozenset({"name", "why", "as_of", "patient", "expect"})
OPTIONAL_KEYS = frozenset({"settings", "xfail"})


def _load(path: Path) -> list[dict[str, Any]]:
    document = json.loads(path.read_text("utf-8"))
    if not isinstance(document, dict) or set(document) != {"scenarios"}:
        msg = f"{path.name}: expected an object with the single key 'scenarios'"
        raise ValueError(msg)
    scenarios: list[dict[str, Any]] = document["scenarios"]
    return scenarios


def _collect() -> list[Any]:
    params: list[Any] = []
    for path in sorted(SCENARIO_DIR.glob("*.json")):
        for scenario in _load(path):
            test_id = f"{path.stem}/{scenario.get('name')}"
            marks = []
            if scenario.get("xfail"):
                marks.append(pytest.mark.xfail(strict=True, reason=str(scenario["xfail"])))
            params.append(pytest.param(path.stem, scenario, id=test_id, marks=marks))
    return params


SCENARIOS = _collect()


def test_scenario_files_are_well_formed() -> None:
    files = sorted(SCENARIO_DIR.glob("*.json"))
    assert files, f"no scenario files in {SCENARIO_DIR}"
    seen: set[str] = set()
    for path in files:
        scenarios = _load(path)
        assert scenarios, f"{path.name} has no scenarios"
        for scenario in scenarios:
            keys = set(scenario)
            label = f"{path.stem}/{scenario.get('name')}"
            assert keys >= REQUIRED_KEYS, f"{label}: missing {sorted(REQUIRED_KEYS - keys)}"
            assert keys <= REQUIRED_KEYS | OPTIONAL_KEYS, (
                f"{label}: unknown keys {sorted(keys - REQUIRED_KEYS - OPTIONAL_KEYS)}")
            assert isinstance(scenario["name"], str), label
            assert scenario["name"], label
            assert isinstance(scenario["why"], str), label
            assert "§" in scenario["why"], f"{label}: 'why' must cite a clinical-reference section (§)"
            assert label not in seen, f"duplicate scenario {label}"
            seen.add(label)
            assert isinstance(scenario["expect"], dict), f"{label}: 'expect' must be an object"
            assert scenario["expect"], f"{label}: 'expect' must not be empty"
            dt.date.fromisoformat(scenario["as_of"])


@pytest.mark.parametrize(("group", "scenario"), SCENARIOS)
def test_scenario(group: str, scenario: Mapping[str, Any]) -> None:
    params = make_params(overrides=scenario.get("settings"))
    record = parse_record(scenario["patient"], today=TODAY)
    as_of = dt.date.fromisoformat(scenario["as_of"])
    actual = to_dict(assess(record, as_of, params))
    try:
        assert_matches(scenario["expect"], actual)
    except AssertionError as error:
        msg = f"scenario {group}/{scenario['name']} ({scenario['why']})\n{error}"
        raise AssertionError(msg) from None
