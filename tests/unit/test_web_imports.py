"""The web application's worker processes load only what they serve (issue 15, item 4): not the
command line's worklist engines (DuckDB, pyarrow), which made each worker's start-up seconds longer."""

from __future__ import annotations

import subprocess
import sys


def test_the_web_application_does_not_import_the_command_line_or_its_engines() -> None:
    probe = ("import sys; import myositis_cds.entrypoints.web.app; "
             "print(sorted(m for m in ('duckdb', 'pyarrow', 'myositis_cds.entrypoints.cli') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=300)
    assert done.stdout.strip() == "[]"
