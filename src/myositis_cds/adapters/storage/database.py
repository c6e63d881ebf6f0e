"""Engines from a URL, and the SQLAlchemy unit of work.

A SQLite file by default (``sqlite:///<path>``; the folder is created; foreign keys, WAL and a busy
timeout are switched on for every connection), PostgreSQL through psycopg 3
(``postgresql+psycopg://...``; a plain ``postgresql://`` or ``postgres://`` URL is taken to mean
psycopg 3 too).

On both backends a statement on a table that does not exist (migrations not applied, or a table
gone) raises :class:`~myositis_cds.errors.DatabaseNotReadyError`: SQLite reports it as an
``OperationalError`` but PostgreSQL as a ``ProgrammingError``, which callers would otherwise have to
tell apart from a bug.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Self

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from myositis_cds.adapters.storage.patient_list import SqlPatientListStore
from myositis_cds.adapters.storage.repositories import (
    SqlAuditLog,
    SqlPatientRepository,
    SqlUserRepository,
)
from myositis_cds.adapters.storage.views import SqlViewStore
from myositis_cds.errors import DatabaseNotReadyError

__all__ = ["Database", "SqlUnitOfWork", "display_url", "make_engine", "normalise_url"]


def normalise_url(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: str | URL) -> str:
    """The URL with any password hidden, for messages."""
    return normalise_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    assert isinstance(dbapi_connection, sqlite3.Connection)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


SQLITE_POOL_SIZE = 20
"""Connections kept open per process on a SQLite file (at most twice as many at once)."""

_UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for "relation ... does not exist"


def _missing_table(context: ExceptionContext) -> None:
    original = context.original_exception
    missing = (getattr(original, "sqlstate", None) == _UNDEFINED_TABLE
               or (isinstance(original, sqlite3.OperationalError)
                   and str(original).startswith("no such table")))
    if missing:
        msg = ("the database lacks a table (its migrations were not applied?): run "
               "`myositis-cds db upgrade`")
        raise DatabaseNotReadyError(msg) from context.sqlalchemy_exception


def make_engine(url: str | URL) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Every request of every server thread holds a connection briefly: keep enough of them
        # open that a burst does not open (and set up) new ones.
        engine = create_engine(parsed, pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    event.listen(engine, "handle_error", _missing_table)
    return engine


class SqlUnitOfWork:
    """One session, one transaction: ``commit()`` or everything is rolled back on leaving."""

    patients: SqlPatientRepository
    users: SqlUserRepository
    audit: SqlAuditLog
    views: SqlViewStore
    patient_list: SqlPatientListStore

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._session: Session | None = None

    def __enter__(self) -> Self:
        self._session = self._sessions()
        self.patients = SqlPatientRepository(self._session)
        self.users = SqlUserRepository(self._session)
        self.audit = SqlAuditLog(self._session)
        self.views = SqlViewStore(self._session)
        self.patient_list = SqlPatientListStore(self._session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._session is None:
            return
        try:
            self._session.rollback()  # a no-op after commit()
        finally:
            self._session.close()
            self._session = None

    @property
    def session(self) -> Session:
        if self._session is None:
            msg = "the unit of work is used outside its `with` block"
            raise RuntimeError(msg)
        return self._session

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class Database:
    """One engine; calling it makes a fresh :class:`SqlUnitOfWork` (a ``UnitOfWorkFactory``)."""

    def __init__(self, url: str | URL) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions)

    def __repr__(self) -> str:
        return f"Database({display_url(self.url)!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.dispose()
