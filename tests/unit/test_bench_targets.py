"""The verdict line of every benchmark (``benchmarks/targets.py``): met or not, by how much, and
the limit named from the run's own breakdown."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from targets import Verdict, largest_part, verdict


def test_a_rate_below_its_goal_says_how_many_times_short_and_why() -> None:
    line = verdict("≥ 10,000 assessments/s", measured=250.0, goal=10_000, unit="/s",
                   higher_is_better=True, limit="assess")
    assert line == ("TARGET ≥ 10,000 assessments/s: measured 250.0 /s — NOT met, 40.0× short; "
                    "limited by assess")


def test_a_latency_over_its_goal_says_how_many_times_over() -> None:
    line = verdict("p99 < 100 ms", measured=769.0, goal=100.0, unit="ms", higher_is_better=False,
                   limit="CPU")
    assert line == "TARGET p99 < 100 ms: measured 769.0 ms — NOT met, 7.7× over; limited by CPU"


def test_met_targets_name_no_limit_and_the_edges_are_exact() -> None:
    assert verdict("r", measured=200.0, goal=200.0, unit="/s", higher_is_better=True,
                   limit="x") == "TARGET r: measured 200.0 /s — met"
    assert not Verdict("p99", 100.0, 100.0, "ms", higher_is_better=False, limit="x").met  # "<"
    assert Verdict("p99", 99.9, 100.0, "ms", higher_is_better=False, limit="x").met
    assert Verdict("r", 0.0, 200.0, "/s", higher_is_better=True, limit="x").factor == float("inf")


@given(st.floats(min_value=1e-3, max_value=1e6), st.floats(min_value=1e-3, max_value=1e6),
       st.booleans())
def test_met_exactly_when_the_factor_is_at_most_one(measured: float, goal: float,
                                                    higher: bool) -> None:
    result = Verdict("t", measured, goal, "u", higher_is_better=higher, limit="l")
    if result.met:
        assert result.factor <= 1.0
    else:
        assert result.factor >= 1.0
        assert "NOT met" in result.line()


def test_the_largest_part_is_named_with_its_share() -> None:
    assert largest_part({"decode": 10.0, "assess": 70.0, "output": 20.0}) == (
        "assess (70.0 µs, 70% of the measured parts)")
    assert largest_part({"read": 3.0, "skipped": 0.0}, unit="ms") == (
        "read (3.0 ms, 100% of the measured parts)")
    assert largest_part({}) == "nothing measured"


def test_the_web_verdict_works_the_limit_out_from_the_measured_rate() -> None:
    from bench_web import web_verdicts  # noqa: PLC0415 - imports the web benchmark's client

    results = {"patient_page_random": {"p99_ms": 225.7, "requests_per_s": 138.0},
               "assess_api": {"p99_ms": 60.0, "requests_per_s": 400.0}}
    breakdown = {"read_with_stored_view_ms": 4.1, "decode_view_ms": 0.4, "render_parts_ms": 217.4,
                 "figures_drawn_ms": 646.7, "figures_cached_ms": 0.0}
    page, api = web_verdicts("sqlite", results, breakdown)
    cores = os.cpu_count() or 1
    per_request = 1000 * cores / 138.0
    assert page.startswith("TARGET p99 < 100 ms, patient page (pre-rendered, random ids), sqlite: "
                           "measured 225.7 ms — NOT met, 2.3× over; limited by CPU: "
                           f"{per_request:.1f} ms of the machine per request")
    assert f"≈ 20 × {per_request:.1f} ÷ {cores} = {20 * per_request / cores:.0f} ms" in page
    assert page.endswith("the page's own work is read_with_stored_view (4.1 ms, 91% of the "
                         "measured parts)")  # rendering and figures are not a pre-rendered view's
    assert api == "TARGET p99 < 100 ms, POST /api/v1/assess, sqlite: measured 60.0 ms — met"
