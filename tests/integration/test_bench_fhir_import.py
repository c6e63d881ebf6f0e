"""Smoke test of benchmarks/bench_fhir_import.py in its --quick mode (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_quick_benchmark_runs_and_writes_its_results() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_fhir_import.py"), "--quick"],
        capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "export: 5,000 resources" in done.stdout
    assert "b. map + validate (import)" in done.stdout
    results = json.loads((ROOT / "benchmarks" / "results" / "bench_fhir_import.json").read_text("utf-8"))
    assert results["quick"] is True
    assert results["resources"] == 5_000
    assert results["patients"] == 100
    assert results["resources_per_s_import"] > 0
