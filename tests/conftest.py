"""Shared fixtures: the fixed clock of the test-suite, the example records and a PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import PostgresServer, run_postgres_server

TODAY = dt.date(2026, 11, 21)
"""The date the example records were written for; tests pin 'today' to it."""

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.fixture(autouse=True)
def _pin_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYOSITIS_CDS_TODAY", TODAY.isoformat())


def load_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / f"{name}.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (see :mod:`tests.postgres`); started on first use."""
    yield from run_postgres_server()
