"""Byte-for-byte golden outputs: every example and 2,000 generated patients, through the real CLI.

Speed work must not change a byte of any assessment. When the output is meant to change (a new
knowledge pack, a new field), regenerate the digests with ``make golden`` and review the diff.
"""

from __future__ import annotations

import pytest

from tests.golden_assessments import CHECKED, GOLDEN_FILE, compare, compute, read_digests


@pytest.mark.slow
def test_assessment_outputs_are_byte_identical_to_the_golden_digests() -> None:
    expected = read_digests()
    actual = compute(CHECKED)
    assert f"*all-{CHECKED}*" in actual
    problem = compare(expected, actual)
    assert problem is None, problem


def test_a_changed_record_is_named_with_the_command_that_regenerates() -> None:
    expected = read_digests()
    name = next(n for n in expected if n.startswith("generated/"))
    actual = {**expected, name: "0" * 64}
    problem = compare(expected, actual)
    assert problem is not None
    assert f"1 changed, 0 new, 0 missing record(s) against {GOLDEN_FILE.name}" in problem.replace(
        "tests/golden/", "")
    assert name in problem
    assert "make golden" in problem
