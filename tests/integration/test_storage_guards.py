"""The storage's own guards on SQLite and PostgreSQL: text no database can store, and the
durability of an acknowledged write (issue 13, items 10 and 13)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from myositis_cds.adapters.storage import Database
from myositis_cds.adapters.storage.database import UnstorableTextError, make_engine
from myositis_cds.errors import UsageError
from myositis_cds.services.ports import AuditEvent


@pytest.mark.parametrize("value", ["a\x00b", "a\ud800b", "\udfff"])
def test_text_no_database_can_store_is_a_usage_error_not_a_crash(database: Database,
                                                                 value: str) -> None:
    with database() as work, pytest.raises(UnstorableTextError, match="NUL character"):
        work.users.get(value)
    event = AuditEvent(at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC), actor=value,
                       action="auth.failed", patient_key=None, detail="")
    with database() as work, pytest.raises(UsageError):
        work.audit.append(event)
    with database() as work:
        assert work.audit.list() == []


def test_sqlite_commits_survive_power_loss(tmp_path: Path) -> None:
    """``synchronous=FULL`` in WAL mode: a commit is on disk when it returns (NORMAL may lose the
    last commits, and their audit events, at a power cut)."""
    engine = make_engine(f"sqlite:///{tmp_path}/x.sqlite3")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()
