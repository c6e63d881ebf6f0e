"""Sessions, anti-forgery tokens and the sign-in rate limiter.

Sessions and failed sign-ins live in the application database
(:mod:`myositis_cds.adapters.storage.web_sessions`), shared by every server process; this module
adds the token comparisons and the sign-in form's anti-forgery token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from myositis_cds.adapters.storage.sign_in_limits import (
    AddressWindow,
    SignInLimitedError,
    SqlLoginLimiter,
    UserDelay,
)
from myositis_cds.adapters.storage.web_sessions import Session, SessionLimitError, SqlSessionStore

__all__ = [
    "AddressWindow",
    "Session",
    "SessionLimitError",
    "SignInLimitedError",
    "SqlLoginLimiter",
    "SqlSessionStore",
    "UserDelay",
    "login_form_token",
    "same_token",
    "verify_login_form_token",
]


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two tokens; False for a missing one."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


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
