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

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from myositis_cds.adapters.storage.audit_batch import GroupCommit
from myositis_cds.adapters.storage.audit_chain import NewEvent
from myositis_cds.adapters.storage.patient_list import SqlPatientListStore
from myositis_cds.adapters.storage.repositories import (
    STORED_IN_SESSION,
    SqlAuditLog,
    SqlPatientRepository,
    SqlUserRepository,
)
from myositis_cds.adapters.storage.views import SqlViewStore
from myositis_cds.domain.clinic import StoredPatient
from myositis_cds.errors import DatabaseNotReadyError, DatabaseUnavailableError, UsageError

__all__ = ["Database", "SqlUnitOfWork", "UnstorableTextError", "display_url", "make_engine",
           "normalise_url"]


class UnstorableTextError(UsageError):
    """Text that no database can store (NUL, a lone surrogate) reached a statement."""


def normalise_url(url: str | URL) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        scheme = str(url).split(":", 1)[0][:40]
        msg = (f"database URL: got an unreadable URL (scheme {scheme!r}); expected "
               "sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE")
        raise UsageError(msg) from None
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
        cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
    finally:
        cursor.close()


_AUDIT_TABLES: Final = frozenset({"audit_log", "audit_chain"})
_TRIGGER_ACTIONS: Final = frozenset({
    sqlite3.SQLITE_DROP_TRIGGER, sqlite3.SQLITE_DROP_TEMP_TRIGGER, sqlite3.SQLITE_CREATE_TRIGGER,
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER})
_TABLE_ACTIONS: Final = frozenset({sqlite3.SQLITE_DROP_TABLE, sqlite3.SQLITE_DROP_TEMP_TABLE})


def _guard_audit_schema(action: int, arg1: str | None, arg2: str | None, _database: str | None,
                        _source: str | None) -> int:
    """SQLite's authorizer for the application's connections: the statements that would take the
    audit log's protection away are refused before they run — dropping, creating or altering
    triggers of ``audit_log``/``audit_chain``, dropping or altering those tables, writing the
    schema by hand (``PRAGMA writable_schema``) and attaching the file a second time under
    another name. Migrations use connections without it (``make_engine(guard_audit=False)``)."""
    if action in _TRIGGER_ACTIONS and arg2 in _AUDIT_TABLES:
        return sqlite3.SQLITE_DENY
    if action in _TABLE_ACTIONS and arg1 in _AUDIT_TABLES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_ALTER_TABLE and arg2 in _AUDIT_TABLES:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() == "writable_schema":
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_ATTACH:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _sqlite_guard(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    assert isinstance(dbapi_connection, sqlite3.Connection)
    dbapi_connection.set_authorizer(_guard_audit_schema)


SQLITE_POOL_SIZE = 20
"""Connections kept open per process on a SQLite file (at most twice as many at once)."""

_UNDEFINED_TABLE = "42P01"  # PostgreSQL's SQLSTATE for "relation ... does not exist"


_SQLITE_UNUSABLE: Final = ("unable to open database file", "database is locked", "disk i/o error",
                            "file is not a database", "database or disk is full",
                            "attempt to write a readonly database", "database disk image is malformed")


def _unusable(original: BaseException | None, wrapped: BaseException | None) -> bool:
    """The database cannot be used at all (as opposed to a statement being wrong): SQLite says so
    in its message (it reports a syntax error the same way), psycopg by the error's class."""
    if isinstance(original, sqlite3.Error):
        return str(original).lower().startswith(_SQLITE_UNUSABLE)
    return isinstance(wrapped, OperationalError | InterfaceError)


def _database_errors(context: ExceptionContext) -> None:
    """A missing table, and a database that cannot be used (down, refused, locked), as the
    package's own errors: the command line prints them (exit 2) and the web answers 503."""
    _missing_table(context)
    if context.is_pre_ping:  # the pool handles a failed ping itself (it reconnects)
        return
    original = context.original_exception
    if _unusable(original, context.sqlalchemy_exception):
        engine = context.engine
        where = f"the database {display_url(engine.url)}" if engine is not None else "the database"
        first = (str(original).strip().splitlines() or [type(original).__name__])[0][:200]
        msg = (f"{where} cannot be used ({first}): check that it is running and reachable and "
               f"that the URL and credentials are right (MYOSITIS_CDS_DATABASE_URL or "
               f"--database-url)")
        raise DatabaseUnavailableError(msg) from context.sqlalchemy_exception


def _missing_table(context: ExceptionContext) -> None:
    original = context.original_exception
    missing = (getattr(original, "sqlstate", None) == _UNDEFINED_TABLE
               or (isinstance(original, sqlite3.OperationalError)
                   and str(original).startswith("no such table")))
    if missing:
        msg = ("the database lacks a table (its migrations were not applied?): run "
               "`myositis-cds db upgrade`")
        raise DatabaseNotReadyError(msg) from context.sqlalchemy_exception


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _unstorable(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value or (not value.isascii() and _SURROGATE.search(value) is not None)
    if isinstance(value, dict):
        return any(_unstorable(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_unstorable(v) for v in value)
    return False


def _refuse_unstorable_text(_conn: object, _cursor: object, _statement: str, parameters: object,
                            _context: object, _executemany: bool) -> None:
    """The last line of defence: no text holding NUL or a lone surrogate reaches either database
    (PostgreSQL cannot store NUL; neither can encode a lone surrogate). The edges refuse such text
    first, naming its field; anything that gets past them is refused here, not a server error."""
    if _unstorable(parameters):
        msg = ("text holding a NUL character (U+0000) or a lone surrogate cannot be stored: "
               "remove it and try again")
        raise UnstorableTextError(msg)


def make_engine(url: str | URL, *, guard_audit: bool = True) -> Engine:
    """An engine on ``url``. ``guard_audit``: on SQLite, refuse statements that would remove the
    audit log's protection (see :func:`_guard_audit_schema`); only migrations go without it."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        msg = (f"database URL: got the backend {parsed.get_backend_name()!r}; expected sqlite:///PATH "
               "or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE")
        raise UsageError(msg)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                msg = (f"the database {display_url(parsed)} cannot be used: its folder cannot be "
                       f"created ({exc.strerror})")
                raise DatabaseUnavailableError(msg) from None
        # Every request of every server thread holds a connection briefly: keep enough of them
        # open that a burst does not open (and set up) new ones.
        engine = create_engine(parsed, pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
        event.listen(engine, "connect", _sqlite_pragmas)
        if guard_audit:
            event.listen(engine, "connect", _sqlite_guard)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    event.listen(engine, "handle_error", _database_errors)
    event.listen(engine, "before_cursor_execute", _refuse_unstorable_text)
    return engine


class SqlUnitOfWork:
    """One session, one transaction: ``commit()`` or everything is rolled back on leaving."""

    patients: SqlPatientRepository
    users: SqlUserRepository
    audit: SqlAuditLog
    views: SqlViewStore
    patient_list: SqlPatientListStore

    def __init__(self, sessions: sessionmaker[Session], group: GroupCommit | None = None) -> None:
        self._sessions = sessions
        self._group = group or GroupCommit(sessions)
        self._session: Session | None = None
        self._reads: list[NewEvent] = []

    def __enter__(self) -> Self:
        self._session = self._sessions()
        self._reads.clear()
        self.patients = SqlPatientRepository(self._session)
        self.users = SqlUserRepository(self._session)
        self.audit = SqlAuditLog(self._session, self._reads)
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
        """Commit; then, if reads were recorded (``audit.append_read``), return only once their
        events are committed too (:class:`~.audit_batch.GroupCommit`)."""
        self.session.commit()
        if self._reads:
            reads = list(self._reads)
            self._reads.clear()
            self._group.commit(reads)

    def rollback(self) -> None:
        self._reads.clear()
        self.session.rollback()


class Database:
    """One engine; calling it makes a fresh :class:`SqlUnitOfWork` (a ``UnitOfWorkFactory``)."""

    def __init__(self, url: str | URL) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._group = GroupCommit(self._sessions)
        self._when_stored: list[Callable[[StoredPatient], None]] = []
        event.listen(self._sessions, "after_commit", self._committed)
        for name in ("after_rollback", "after_soft_rollback"):
            event.listen(self._sessions, name, self._forget)

    def when_stored(self, listener: Callable[[StoredPatient], None]) -> None:
        """Call ``listener`` with every patient created or replaced through this database, once
        its transaction has committed (e.g. to render its page and figures in the background).
        It runs on the committing thread: it must return at once and not raise."""
        self._when_stored.append(listener)

    def _committed(self, session: Session) -> None:
        stored: dict[int, StoredPatient] = session.info.pop(STORED_IN_SESSION, {})
        for patient in stored.values():
            for listener in self._when_stored:
                listener(patient)

    @staticmethod
    def _forget(session: Session, *_: object) -> None:
        session.info.pop(STORED_IN_SESSION, None)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions, self._group)

    def __repr__(self) -> str:
        return f"Database({display_url(self.url)!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.dispose()
