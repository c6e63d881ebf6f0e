"""Web sessions in the application database (shared by every server process).

A session cookie holds only a random 256-bit token; the table keeps its SHA-256 with the username,
the session's anti-forgery token and its times, so signing out ends a session at once in every
process, a disabled account is refused on its next request and a restart signs nobody out. The
idle time is refreshed at most every ``touch_every`` seconds (a write per request would serialise
the readers on SQLite), so a session may outlive its idle timeout by up to that much.

The sign-in limiter is in :mod:`.sign_in_limits`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, delete, func, select, update
from sqlalchemy.orm import Session as OrmSession

from myositis_cds.adapters.storage.models import UserRow, WebSessionRow
from myositis_cds.adapters.storage.repositories import user_of_row
from myositis_cds.domain.clinic import User
from myositis_cds.errors import MyositisCdsError

__all__ = ["Session", "SessionLimitError", "SqlSessionStore"]

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``)."""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    username: str
    csrf_token: str
    """The synchroniser token every state-changing request of this session must carry."""
    started: float
    last_seen: float


_SIGNED_IN = (select(WebSessionRow.token_digest, WebSessionRow.csrf_token, WebSessionRow.started_at,
                     WebSessionRow.last_seen_at, UserRow.username, UserRow.password_hash,
                     UserRow.role, UserRow.active, UserRow.created_at,
                     UserRow.password_temporary_until)
              .select_from(WebSessionRow)
              .join(UserRow, UserRow.username == WebSessionRow.username, isouter=True)
              .where(WebSessionRow.token_digest == bindparam("key")))
_END = delete(WebSessionRow).where(WebSessionRow.token_digest == bindparam("key"))
_TOUCH = (update(WebSessionRow).where(WebSessionRow.token_digest == bindparam("key"))
          .values(last_seen_at=bindparam("last_seen_at")))


class SessionLimitError(MyositisCdsError):
    """Every session the server may hold is in use (none of them is ended to make room)."""


class SqlSessionStore:
    """Sessions by token, ended after ``lifetime`` or ``idle`` seconds.

    Each user holds at most ``max_per_user`` sessions: a new sign-in ends that user's oldest
    beyond it, never another user's. The table holds at most ``max_sessions``: when it is full
    (after ending the expired ones) a new session is refused (:class:`SessionLimitError`), so that
    one account signing in again and again cannot sign anyone else out.
    """

    def __init__(self, engine: Engine, *, lifetime: float, idle: float, max_sessions: int,
                 max_per_user: int = 10, clock: Clock = time.time,
                 touch_every: float | None = None) -> None:
        self._engine = engine
        self._lifetime = lifetime
        self._idle = idle
        self._max = max_sessions
        self._max_per_user = max_per_user
        self._clock = clock
        self._touch_every = min(60.0, idle / 10) if touch_every is None else touch_every

    def _expired(self, row: WebSessionRow, now: float) -> bool:
        return (now - row.started_at.timestamp() >= self._lifetime
                or now - row.last_seen_at.timestamp() >= self._idle)

    def create(self, username: str) -> tuple[str, Session]:
        """A new session; returns the cookie token (known only to the client) and the session."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(username=username, csrf_token=secrets.token_urlsafe(32), started=now,
                          last_seen=now)
        with OrmSession(self._engine) as orm, orm.begin():
            orm.add(WebSessionRow(token_digest=_digest(token), username=username,
                                  csrf_token=session.csrf_token, started_at=_at(now),
                                  last_seen_at=_at(now)))
            orm.flush()  # on SQLite the write lock is now held: the counts below are exact
            newest = (select(WebSessionRow.token_digest)
                      .where(WebSessionRow.username == username)
                      .order_by(WebSessionRow.started_at.desc(), WebSessionRow.token_digest)
                      .limit(self._max_per_user))
            orm.execute(delete(WebSessionRow).where(  # this user's oldest beyond the limit
                WebSessionRow.username == username,
                WebSessionRow.token_digest.not_in(newest.scalar_subquery())))
            if self._count(orm) > self._max:
                orm.execute(delete(WebSessionRow).where(
                    (WebSessionRow.started_at <= _at(now - self._lifetime))
                    | (WebSessionRow.last_seen_at <= _at(now - self._idle))))
                if self._count(orm) > self._max:  # raising rolls the new session back
                    msg = (f"the server holds its maximum of {self._max} sessions: try signing in "
                           "again in a few minutes, or ask the administrator")
                    raise SessionLimitError(msg)
        return token, session

    @staticmethod
    def _count(orm: OrmSession) -> int:
        return int(orm.scalar(select(func.count()).select_from(WebSessionRow)) or 0)

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its idle time restarts), or None."""
        if not token:
            return None
        key = _digest(token)
        now = self._clock()
        with OrmSession(self._engine) as orm, orm.begin():
            row = orm.get(WebSessionRow, key)
            if row is None:
                return None
            if self._expired(row, now):
                orm.delete(row)
                return None
            last_seen = row.last_seen_at.timestamp()
            if now - last_seen >= self._touch_every:
                orm.execute(update(WebSessionRow).where(WebSessionRow.token_digest == key)
                            .values(last_seen_at=_at(now)))
                last_seen = now
            return Session(username=row.username, csrf_token=row.csrf_token,
                           started=row.started_at.timestamp(), last_seen=last_seen)

    def signed_in(self, token: str | None) -> tuple[Session, User] | None:
        """The live session of ``token`` and its account, in one query (every request asks): None
        when there is no such session, it expired, or its account is gone or disabled (the
        session then ends). The idle time restarts as in :meth:`get`."""
        if not token:
            return None
        key = _digest(token)
        now = self._clock()
        with self._engine.begin() as connection:
            row = connection.execute(_SIGNED_IN, {"key": key}).one_or_none()
            if row is None:
                return None
            started, last_seen = row.started_at.timestamp(), row.last_seen_at.timestamp()
            if (now - started >= self._lifetime or now - last_seen >= self._idle
                    or row.username is None or not row.active):
                connection.execute(_END, {"key": key})
                return None
            if now - last_seen >= self._touch_every:
                connection.execute(_TOUCH, {"key": key, "last_seen_at": _at(now)})
                last_seen = now
        session = Session(username=row.username, csrf_token=row.csrf_token, started=started,
                          last_seen=last_seen)
        return session, user_of_row(row)

    def end(self, token: str | None) -> None:
        if token:
            with OrmSession(self._engine) as orm, orm.begin():
                orm.execute(delete(WebSessionRow).where(WebSessionRow.token_digest == _digest(token)))

    def end_user_sessions(self, username: str, *, keep: str | None = None) -> None:
        """End every session of ``username`` but the one of token ``keep`` (after a password
        change or reset)."""
        stmt = delete(WebSessionRow).where(WebSessionRow.username == username)
        if keep:
            stmt = stmt.where(WebSessionRow.token_digest != _digest(keep))
        with OrmSession(self._engine) as orm, orm.begin():
            orm.execute(stmt)

    def __len__(self) -> int:
        with OrmSession(self._engine) as orm:
            return int(orm.scalar(select(func.count()).select_from(WebSessionRow)) or 0)
