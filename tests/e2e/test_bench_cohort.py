"""Smoke test of ``benchmarks/bench_cohort.py --quick`` (the timings are not asserted: see README)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cohort.py"


@pytest.mark.slow
def test_quick_benchmark_runs() -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("table1: 2000 patients × 30 variables")
    assert lines[1].startswith("mixed model: 200 patients × 10 visits (2000 observations)")
