"""The sign-in limiter in the application database: an attempt is reserved before the password is
checked, atomically, in every server process.

``reserve`` runs one short transaction *before* the (slow, argon2) password check: it locks one
row per key (``sign_in_keys``, an upsert, always in the same order), counts the key's recent
attempts and either refuses (:class:`SignInLimitedError` with the seconds to wait) or records the
attempt. Concurrent sign-ins for the same key therefore queue on that row — on SQLite behind the
database's write lock, on PostgreSQL behind the row lock — and each sees every attempt before it:
40 parallel wrong passwords give at most ``max_failures`` password checks, not 32. A success
removes its own attempt (and, for the username, every failure); a failure keeps it.

Two policies:

- per client address, a **window**: ``max_failures`` attempts within ``window`` seconds, then the
  address waits until the oldest leaves the window;
- per username, a **progressive delay** rather than a lockout: ``max_failures`` attempts are free,
  then each further attempt must wait ``delay``, ``2 × delay``, ``4 × delay``... (at most
  ``max_delay``) after the previous one. Failures are remembered for ``memory`` seconds. A guesser
  gets a few tries a hour; the account's owner is never locked out for good, and an administrator
  can clear the delay at once (``users unlock``, audited).

Keys are stored as SHA-256 digests: the tables hold no address or username. At most ``max_keys``
keys are kept (the least recently used are forgotten first), whatever an attacker sends.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as OrmSession

from myositis_cds.adapters.storage.models import SignInFailureRow, SignInKeyRow
from myositis_cds.errors import MyositisCdsError

__all__ = [
    "AddressWindow",
    "Reservation",
    "SignInLimitedError",
    "SqlLoginLimiter",
    "UserDelay",
    "address_key",
    "key_digest",
    "user_key",
]

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``)."""


def address_key(address: str) -> str:
    return f"address:{address}"


def user_key(username: str) -> str:
    return f"user:{username.casefold()}"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class SignInLimitedError(MyositisCdsError):
    """Too many recent attempts for this address or username: try again in ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed sign-in attempts: try again in {retry_after} seconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressWindow:
    """At most ``max_failures`` attempts within ``window`` seconds."""

    max_failures: int
    window: float

    @property
    def memory(self) -> float:
        return self.window

    def wait(self, times: Sequence[float], now: float) -> float:
        if len(times) < self.max_failures:
            return 0.0
        return times[-self.max_failures] + self.window - now


@dataclass(frozen=True, slots=True, kw_only=True)
class UserDelay:
    """``max_failures`` free attempts, then ``delay`` doubling per attempt up to ``max_delay``."""

    max_failures: int
    delay: float
    max_delay: float
    memory: float

    def wait(self, times: Sequence[float], now: float) -> float:
        extra = len(times) - self.max_failures + 1
        if extra <= 0:
            return 0.0
        step = min(self.max_delay, self.delay * 2.0 ** min(extra - 1, 60))
        return times[-1] + step - now


Policy = AddressWindow | UserDelay


@dataclass(frozen=True, slots=True)
class Reservation:
    """Attempts recorded by :meth:`SqlLoginLimiter.reserve` (row ids per key digest)."""

    rows: tuple[tuple[str, int], ...]


class SqlLoginLimiter:
    """Sign-in attempts per client address (:class:`AddressWindow`) and per username
    (:class:`UserDelay`), reserved before the password is checked."""

    def __init__(self, engine: Engine, *, address: AddressWindow, user: UserDelay, max_keys: int,
                 clock: Clock = time.time) -> None:
        self._engine = engine
        self._address = address
        self._user = user
        self._max_keys = max_keys
        self._clock = clock

    def _lock(self, orm: OrmSession, digest: str, now: float) -> None:
        """Upsert the key's row: the lock every attempt on this key queues behind."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        values = {"key_digest": digest, "last_attempt_at": _at(now)}
        statement = dialect.insert(SignInKeyRow).values(**values)
        orm.execute(statement.on_conflict_do_update(index_elements=["key_digest"],
                                                    set_={"last_attempt_at": _at(now)}))

    def reserve(self, *, address: str, username: str) -> Reservation:
        """Record an attempt for both keys, or raise :class:`SignInLimitedError` (nothing kept)."""
        now = self._clock()
        keys: list[tuple[str, Policy]] = sorted(
            [(key_digest(address_key(address)), self._address),
             (key_digest(user_key(username)), self._user)], key=lambda pair: pair[0])
        with OrmSession(self._engine) as orm, orm.begin():
            for digest, _policy in keys:
                self._lock(orm, digest, now)
            wait = 0.0
            for digest, policy in keys:
                wait = max(wait, policy.wait(self._times(orm, digest, now - policy.memory), now))
            if wait > 0:
                raise SignInLimitedError(max(1, math.ceil(wait)))  # rolls the upserts back
            rows = [SignInFailureRow(key_digest=digest, at=_at(now)) for digest, _ in keys]
            orm.add_all(rows)
            orm.flush()
            self._forget(orm, now)
            return Reservation(rows=tuple((row.key_digest, row.id) for row in rows))

    def _forget(self, orm: OrmSession, now: float) -> None:
        """Drop attempts older than any policy remembers, and the least recent keys over
        ``max_keys``."""
        oldest = now - max(self._address.memory, self._user.memory)
        orm.execute(delete(SignInFailureRow).where(SignInFailureRow.at <= _at(oldest)))
        surplus = (orm.scalar(select(func.count()).select_from(SignInKeyRow)) or 0) - self._max_keys
        if surplus > 0:
            stale = (select(SignInKeyRow.key_digest)
                     .order_by(SignInKeyRow.last_attempt_at, SignInKeyRow.key_digest)
                     .limit(surplus).scalar_subquery())
            orm.execute(delete(SignInFailureRow).where(SignInFailureRow.key_digest.in_(stale)))
            orm.execute(delete(SignInKeyRow).where(SignInKeyRow.key_digest.in_(stale)))

    def succeeded(self, reservation: Reservation, *, username: str) -> None:
        """The password was right: the attempt was no failure, and the username starts afresh
        (an administrator's unlock does the same through the user repository)."""
        digest = key_digest(user_key(username))
        with OrmSession(self._engine) as orm, orm.begin():
            orm.execute(delete(SignInFailureRow).where(
                SignInFailureRow.id.in_([row_id for _digest, row_id in reservation.rows])
                | (SignInFailureRow.key_digest == digest)))
            orm.execute(delete(SignInKeyRow).where(SignInKeyRow.key_digest == digest))

    def retry_after(self, *, address: str | None = None, username: str | None = None) -> int | None:
        """Seconds until this address and username may try again (None: neither is held back)."""
        now = self._clock()
        keys: list[tuple[str, Policy]] = []
        if address is not None:
            keys.append((key_digest(address_key(address)), self._address))
        if username is not None:
            keys.append((key_digest(user_key(username)), self._user))
        wait = 0.0
        with OrmSession(self._engine) as orm:
            for digest, policy in keys:
                wait = max(wait, policy.wait(self._times(orm, digest, now - policy.memory), now))
        return max(1, math.ceil(wait)) if wait > 0 else None

    @staticmethod
    def _times(orm: OrmSession, digest: str, since: float) -> list[float]:
        return [at.timestamp() for at in orm.scalars(
            select(SignInFailureRow.at)
            .where(SignInFailureRow.key_digest == digest, SignInFailureRow.at > _at(since))
            .order_by(SignInFailureRow.at))]

    def __len__(self) -> int:
        with OrmSession(self._engine) as orm:
            return int(orm.scalar(select(func.count()).select_from(SignInKeyRow)) or 0)
