"""A bounded, seeded fuzz of every command that reads a file (issue 13): exit 0, or exit 2 with a
message naming the input; never a traceback or an internal error; peak memory under 500 MB.

Each command's campaign runs in a child process (:mod:`tests.fuzz_cli`), which reports its own peak
resident memory. ``python -m tests.fuzz_cli --mutants 2000`` runs a larger campaign.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.fuzz_cli import COMMANDS, MAX_RSS_KIB

MUTANTS = {"plot": 15, "worklist": 20, "titers": 20, "cohort": 20}
"""Mutants per command in ``make test`` (30 unless listed: the slower commands get fewer)."""
SEED = 13


@pytest.mark.parametrize("command", COMMANDS)
def test_mutated_inputs_never_crash_the_command_line(command: str) -> None:
    mutants = MUTANTS.get(command, 30)
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_cli", "--command", command, "--mutants", str(mutants),
         "--seed", str(SEED)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.stdout, done.stderr
    (campaign,) = json.loads(done.stdout)
    assert campaign["mutants"] == mutants
    assert campaign["failures"] == [], json.dumps(campaign["failures"], indent=1)
    assert set(campaign["exits"]) <= {"0", "2"}
    assert campaign["max_rss_mib"] * 1024 < MAX_RSS_KIB
    assert done.returncode == 0
