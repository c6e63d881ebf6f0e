"""Smoke test of the stage table of ``benchmarks/bench_assess.py`` (timings are not asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_assess import STAGE_NOTES, print_stages, stages


def test_every_stage_is_timed_on_the_same_records_against_decode(capsys: pytest.CaptureFixture[str]) -> None:
    result = stages(20)
    assert list(result["stages"]) == list(STAGE_NOTES)
    assert result["stages"]["decode"]["x_decode"] == 1.0
    assert all(row["median_us"] > 0 for row in result["stages"].values())
    assert result["patients_per_s_total"] > 0
    print_stages(result)
    out = capsys.readouterr().out
    assert "stages over 20 generated patients" in out
    assert "validated assessments/s (JSON in → JSON out) on one core" in out
    assert "TARGET ≥ 10,000 validated assessments/s per core: measured " in out
    assert "limited by " in out
    assert "of the measured parts" in out  # the limit is named from this run's stages
