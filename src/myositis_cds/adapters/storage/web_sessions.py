"""Web sessions and the sign-in limiter in the application database (shared by every server process).

A session cookie holds only a random 256-bit token; the table keeps its SHA-256 with the username,
the session's anti-forgery token and its times, so signing out ends a session at once in every
process, a disabled account is refused on its next request and a restart signs nobody out. The
idle time is refreshed at most every ``touch_every`` seconds (a write per request would serialise
the readers on SQLite), so a session may outlive its idle timeout by up to that much.

Failed sign-ins are kept per key (a client address, a username), stored as SHA-256 digests: the
table holds no address or username.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session as OrmSession

from myositis_cds.adapters.storage.models import SignInFailureRow, WebSessionRow

__all__ = ["Session", "SqlLoginLimiter", "SqlSessionStore"]

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


class SqlSessionStore:
    """Sessions by token, ended after ``lifetime`` or ``idle`` seconds; at most ``max_sessions``."""

    def __init__(self, engine: Engine, *, lifetime: float, idle: float, max_sessions: int,
                 clock: Clock = time.time, touch_every: float | None = None) -> None:
        self._engine = engine
        self._lifetime = lifetime
        self._idle = idle
        self._max = max_sessions
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
            if (orm.scalar(select(func.count()).select_from(WebSessionRow)) or 0) >= self._max:
                orm.execute(delete(WebSessionRow).where(
                    (WebSessionRow.started_at <= _at(now - self._lifetime))
                    | (WebSessionRow.last_seen_at <= _at(now - self._idle))))
                surplus = (orm.scalar(select(func.count()).select_from(WebSessionRow)) or 0) \
                    - self._max + 1
                if surplus > 0:  # the oldest sessions end first
                    oldest = select(WebSessionRow.token_digest).order_by(
                        WebSessionRow.started_at).limit(surplus)
                    orm.execute(delete(WebSessionRow).where(
                        WebSessionRow.token_digest.in_(oldest.scalar_subquery())))
            orm.add(WebSessionRow(token_digest=_digest(token), username=username,
                                  csrf_token=session.csrf_token, started_at=_at(now),
                                  last_seen_at=_at(now)))
        return token, session

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


class SqlLoginLimiter:
    """Failed sign-ins per key in a sliding window.

    After ``max_failures`` failures within ``window`` seconds a key is refused until the oldest of
    them leaves the window. At most ``max_keys`` keys are kept; the least recently failing keys are
    forgotten first, so the table stays bounded whatever an attacker sends.
    """

    def __init__(self, engine: Engine, *, max_failures: int, window: float, max_keys: int,
                 clock: Clock = time.time) -> None:
        self._engine = engine
        self._max_failures = max_failures
        self._window = window
        self._max_keys = max_keys
        self._clock = clock

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until every key may try again, or None when none is blocked."""
        now = self._clock()
        wait = 0.0
        with OrmSession(self._engine) as orm:
            for key in keys:
                times = orm.scalars(select(SignInFailureRow.at).where(
                    SignInFailureRow.key_digest == _digest(key),
                    SignInFailureRow.at > _at(now - self._window))
                    .order_by(SignInFailureRow.at)).all()
                if len(times) >= self._max_failures:
                    wait = max(wait, times[-self._max_failures].timestamp() + self._window - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with OrmSession(self._engine) as orm, orm.begin():
            orm.execute(delete(SignInFailureRow).where(
                SignInFailureRow.at <= _at(now - self._window)))
            for key in keys:
                orm.add(SignInFailureRow(key_digest=_digest(key), at=_at(now)))
            orm.flush()
            latest = func.max(SignInFailureRow.at)
            counted = select(SignInFailureRow.key_digest).group_by(SignInFailureRow.key_digest)
            surplus = (orm.scalar(select(func.count()).select_from(counted.subquery())) or 0) \
                - self._max_keys
            if surplus > 0:
                stale = counted.order_by(latest, SignInFailureRow.key_digest).limit(surplus)
                orm.execute(delete(SignInFailureRow).where(
                    SignInFailureRow.key_digest.in_(stale.scalar_subquery())))

    def succeeded(self, key: str) -> None:
        with OrmSession(self._engine) as orm, orm.begin():
            orm.execute(delete(SignInFailureRow).where(SignInFailureRow.key_digest == _digest(key)))

    def __len__(self) -> int:
        with OrmSession(self._engine) as orm:
            return int(orm.scalar(select(func.count(func.distinct(SignInFailureRow.key_digest))))
                       or 0)
