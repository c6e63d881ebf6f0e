"""The act-now summary's lines: which open items are urgent (never folded away on a phone), and
the phase line that a phone shortens."""

from __future__ import annotations

import pytest

from myositis_cds.adapters.record_json import parse_record
from myositis_cds.bootstrap import default_params
from myositis_cds.engine import assess
from myositis_cds.presentation.act_now import ActNow, build_act_now
from myositis_cds.presentation.assessment_builder import ResultViews
from tests.conftest import EXAMPLES, TODAY, load_example

NAMES = [p.stem for p in EXAMPLES]


def _act_now(name: str) -> ActNow:
    params = default_params()
    assessment = assess(parse_record(load_example(name), today=TODAY), TODAY, params)
    return build_act_now(ResultViews(dict(params.pack.citations)), assessment)


@pytest.mark.parametrize("name", NAMES)
def test_overdue_inadequate_and_missing_past_its_date_are_urgent(name: str) -> None:
    for line in _act_now(name).due:
        past = line.date != "—" and line.date <= TODAY.isoformat()
        expected = line.status in ("overdue", "inadequate") or (line.status == "missing" and past)
        assert line.urgent is expected, (name, line.what, line.status, line.date)


def test_a_missing_prophylaxis_past_its_date_is_urgent_and_undated_items_are_not() -> None:
    lines = {line.what: line for line in _act_now("refractory-3-months").due}
    assert lines["Pneumocystis prophylaxis"].status == "missing"
    assert lines["Pneumocystis prophylaxis"].urgent
    assert not lines["Bone protection"].urgent
    assert lines["Response to first-line treatment"].urgent
    assert lines["Cancer screen"].urgent


@pytest.mark.parametrize("name", ["refractory-3-months", "drug-free-remission", "juvenile"])
def test_the_phase_line_is_its_name_reasons_and_activity(name: str) -> None:
    act = _act_now(name)
    reasons = f" — {act.phase_reasons}" if act.phase_reasons else ""
    assert act.phase == f"{act.phase_name}{reasons}. Disease activity: {act.activity}."
    assert act.phase_name[:1].isupper()
    assert act.phase_reasons == "" or act.phase_reasons not in act.phase_name
