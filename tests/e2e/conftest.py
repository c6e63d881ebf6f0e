"""Databases for the end-to-end tests that run on both backends (see :mod:`tests.postgres`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import BACKENDS, database_url_on


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend (a test module may define its own)."""
    yield from database_url_on(request.param, request, tmp_path, migrated=True)
