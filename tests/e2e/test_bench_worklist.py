"""Smoke test of ``benchmarks/bench_worklist.py --quick`` (timings are not asserted: see README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_worklist.py"


@pytest.mark.slow
def test_quick_benchmark_runs(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, str(BENCH), "--quick", "--output", str(output)],
                            capture_output=True, text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "1,000 patients: 10,000 resources (10.0/patient)" in result.stdout
    assert "TARGET ≥ 10,000 worklist patients/s on 2 cores (DuckDB, 1,000 patients): measured" \
        in result.stdout
    document = json.loads(output.read_text("utf-8"))
    assert [(run["engine"], run["patients"]) for run in document["runs"]] == [
        ("local", 1000), ("duckdb", 1000)]
    # Both engines produce the same number of rows from the same export.
    assert document["runs"][0]["rows"] == document["runs"][1]["rows"] > 0
    assert document["profile"]["assess_us"] > 0
