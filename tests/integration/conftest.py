"""Databases for the storage and service tests: a SQLite file and PostgreSQL, each fresh per test.

The PostgreSQL server (``postgres_server``, in ``tests/conftest.py``) and how it is found or started
are described in :mod:`tests.postgres`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from myositis_cds.adapters.storage import Database
from tests.postgres import BACKENDS, PostgresServer, database_url_on

__all__ = ["PostgresServer"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    yield from database_url_on(request.param, request, tmp_path, migrated=True)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on each backend."""
    yield from database_url_on(request.param, request, tmp_path, migrated=False)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The unit-of-work factory on :func:`database_url`; disposed afterwards."""
    with Database(database_url) as db:
        yield db
