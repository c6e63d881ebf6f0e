"""Server-side sessions, anti-forgery tokens and the sign-in rate limiter (all in memory, bounded).

A session cookie holds only a random 256-bit token; the session (username, anti-forgery token,
times) stays on the server, keyed by the token's SHA-256, so signing out ends it at once and a
disabled account is refused on its next request. Sessions live in this process's memory: a restart
signs everyone out, and the application runs as one process.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "LoginLimiter",
    "Session",
    "SessionStore",
    "login_form_token",
    "same_token",
    "verify_login_form_token",
]

Clock = Callable[[], float]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two tokens; False for a missing one."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass(slots=True, kw_only=True)
class Session:
    username: str
    csrf_token: str
    """The synchroniser token every state-changing request of this session must carry."""
    started: float
    last_seen: float


class SessionStore:
    """Sessions by token, ended after ``lifetime`` or ``idle`` seconds; at most ``max_sessions``."""

    def __init__(self, *, lifetime: float, idle: float, max_sessions: int,
                 clock: Clock = time.monotonic) -> None:
        self._lifetime = lifetime
        self._idle = idle
        self._max = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.started >= self._lifetime or now - session.last_seen >= self._idle

    def create(self, username: str) -> tuple[str, Session]:
        """A new session; returns the cookie token (known only to the client) and the session."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        session = Session(username=username, csrf_token=secrets.token_urlsafe(32), started=now,
                          last_seen=now)
        with self._lock:
            if len(self._sessions) >= self._max:
                for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
                    del self._sessions[key]
            while len(self._sessions) >= self._max:
                self._sessions.popitem(last=False)  # the oldest session ends first
            self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token`` (its idle time restarts), or None."""
        if not token:
            return None
        key = _digest(token)
        now = self._clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[key]
                return None
            session.last_seen = now
            return session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def __len__(self) -> int:
        return len(self._sessions)


class LoginLimiter:
    """Failed sign-ins per key (a client address, a username) in a sliding window.

    After ``max_failures`` failures within ``window`` seconds a key is refused until the oldest of
    them leaves the window. At most ``max_keys`` keys are tracked; the least recently failing key is
    forgotten first, so memory stays bounded whatever an attacker sends.
    """

    def __init__(self, *, max_failures: int, window: float, max_keys: int,
                 clock: Clock = time.monotonic) -> None:
        self._max_failures = max_failures
        self._window = window
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until every key may try again, or None when none is blocked."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if times is None:
                    continue
                while times and now - times[0] >= self._window:
                    times.popleft()
                if not times:
                    del self._failures[key]
                elif len(times) >= self._max_failures:
                    wait = max(wait, times[0] + self._window - now)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                times = self._failures.pop(key, None) or deque(maxlen=self._max_failures)
                times.append(now)
                self._failures[key] = times  # now the most recent
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)


def login_form_token(secret: bytes) -> tuple[str, str]:
    """``(cookie value, form value)`` protecting the sign-in form against login forgery.

    The form value is the cookie's nonce with its HMAC: a forged form from another site can carry
    neither our cookie's nonce nor a valid HMAC for a nonce of its own.
    """
    nonce = secrets.token_urlsafe(16)
    mac = hmac.new(secret, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()
    return nonce, f"{nonce}.{mac}"


def verify_login_form_token(secret: bytes, cookie: str | None, form: str | None) -> bool:
    if not cookie or not form or "." not in form:
        return False
    nonce, _, mac = form.partition(".")
    expected = hmac.new(secret, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()
    return same_token(expected, mac) and same_token(cookie, nonce)
