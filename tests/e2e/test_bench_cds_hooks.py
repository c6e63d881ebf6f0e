"""Smoke test of ``benchmarks/bench_cds_hooks.py --quick`` (timings are not asserted: see README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_cds_hooks.py"


@pytest.mark.slow
def test_quick_benchmark_runs_without_failures() -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True,
                            text=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith(f"{len(EXAMPLES)} example patients as prefetch:")
    assert lines[2].startswith("sequential: 200 calls, 1 client(s): p50 ")
    assert lines[2].endswith("; 0 failures; 487 cards")
    assert lines[3].startswith("concurrent: 200 calls, 4 client(s): p50 ")
    verdicts = [line for line in lines if line.startswith("TARGET ")]
    assert len(verdicts) == 1
    assert verdicts[0].startswith("TARGET p99 < 50 ms (sequential calls): measured ")
    assert verdicts[0].endswith(" — met") or "of one call in-process" in verdicts[0]
    saved = json.loads((BENCH.parent / "results" / "bench_cds_hooks.json").read_text("utf-8"))
    assert saved["results"]["sequential"]["failures"] == 0
    assert set(saved["call_breakdown_ms"]) == {
        "verify_jwt_ms", "parse_request_ms", "resolve_prefetch_ms", "import_and_validate_ms",
        "assess_ms", "build_cards_ms", "encode_json_ms"}
