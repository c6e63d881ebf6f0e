"""Operational settings of the web application (not clinical settings).

These say how the server runs: where the database is, how sessions and cookies behave and how
sign-in attempts are limited. They change nothing in an assessment; the clinical [INTERP] settings
stay in the knowledge pack and a site's settings file.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from myositis_cds.bootstrap import SiteConfig, site_from_environment
from myositis_cds.entrypoints.web.cds_hooks.config import CdsHooksConfig, config_from_environment
from myositis_cds.entrypoints.web.smart.config import SmartConfig, smart_config_from_environment

__all__ = ["WebSettings"]


def _random_key() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """How the web application runs. Every field has a safe default except the database URL."""
    # Sign-in limits: per address a window, per username a progressive delay (docs/security.md).

    database_url: str
    """SQLAlchemy URL of the application database (SQLite file or PostgreSQL)."""
    secret_key: bytes = field(default_factory=_random_key, repr=False)
    """Signs the sign-in form's anti-forgery token. A random key per process by default: a restart
    only invalidates sign-in forms that are open at that moment (sessions are in the database)."""
    secure_cookies: bool = False
    """Mark cookies ``Secure`` even when the request arrived over plain HTTP (behind a TLS proxy).
    Requests that arrive over HTTPS always get ``Secure`` cookies."""
    session_lifetime: dt.timedelta = dt.timedelta(hours=8)
    """A session ends this long after sign-in, whatever happens."""
    session_idle_timeout: dt.timedelta = dt.timedelta(minutes=30)
    """A session ends when unused for this long."""
    max_sessions: int = 10_000
    """Sessions kept at most: when all are in use, a new sign-in is refused (503) rather than
    ending someone else's session."""
    max_sessions_per_user: int = 10
    """Sessions one user may hold (browsers, devices); a new sign-in ends that user's oldest."""
    login_max_failures: int = 5
    """Failed sign-ins allowed per client address within ``login_window``, and per username
    before its progressive delay starts."""
    login_window: dt.timedelta = dt.timedelta(minutes=15)
    """The client address's window."""
    login_delay: dt.timedelta = dt.timedelta(minutes=1)
    """The username's first delay after ``login_max_failures`` failures; it doubles with every
    further failure, up to ``login_max_delay``. A success or an administrator's ``users unlock``
    ends it. A delay, not a lockout: the owner can always sign in again after at most
    ``login_max_delay``."""
    login_max_delay: dt.timedelta = dt.timedelta(minutes=15)
    login_memory: dt.timedelta = dt.timedelta(hours=24)
    """How long a username's failures count (after that it starts afresh)."""
    rate_limit_max_keys: int = 10_000
    """Client addresses and usernames tracked by the sign-in limiter at most (least recent dropped)."""
    max_upload_bytes: int = 5 * 1024 * 1024
    """Largest JSON body or uploaded record file accepted."""
    render_on_write: bool = True
    """Render a patient's page and trend figures in the background as soon as the web
    application stores its record (off: when they are first asked for)."""
    figure_wait: dt.timedelta = dt.timedelta(seconds=2)
    """How long a request for a trend figure that is not drawn yet waits for the background
    renderer; after that the figure's URL shows "being drawn" (reload to see it)."""
    cds_hooks: CdsHooksConfig | None = None
    """The CDS Hooks service's public URL and registered EHR clients (``MYOSITIS_CDS_CDS_CLIENTS``,
    ``MYOSITIS_CDS_PUBLIC_URL``); None: every call to ``/cds-services`` is refused (401)."""
    smart: SmartConfig | None = None
    """The SMART App Launch set-up (``MYOSITIS_CDS_SMART``): the EHRs the app may be launched
    from; None: ``/launch`` answers that it is not set up."""
    site: SiteConfig = field(default_factory=SiteConfig)
    """The site configuration (``MYOSITIS_CDS_SITE``): what the EHR's codes mean to the CDS Hooks
    service and the SMART launch, exactly as to ``import-fhir`` and the worklist."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        """Settings for a server process: ``MYOSITIS_CDS_DATABASE_URL`` (required here),
        ``MYOSITIS_CDS_SECRET_KEY`` (the same in every process of one server; random if unset) and
        ``MYOSITIS_CDS_SECURE_COOKIES`` (``1``, ``true`` or ``yes``); the CDS Hooks clients file
        ``MYOSITIS_CDS_CDS_CLIENTS`` with ``MYOSITIS_CDS_PUBLIC_URL``; the site configuration
        ``MYOSITIS_CDS_SITE``."""
        env = os.environ if environ is None else environ
        url = env.get("MYOSITIS_CDS_DATABASE_URL", "")
        if not url:
            msg = "MYOSITIS_CDS_DATABASE_URL: not set; expected the application database's URL"
            raise ValueError(msg)
        key = env.get("MYOSITIS_CDS_SECRET_KEY", "").encode()
        return cls(database_url=url, secret_key=key or _random_key(),
                   secure_cookies=env.get("MYOSITIS_CDS_SECURE_COOKIES", "").lower()
                   in ("1", "true", "yes"),
                   cds_hooks=config_from_environment(env), site=site_from_environment(env),
                   smart=smart_config_from_environment(env))

    def __post_init__(self) -> None:
        if len(self.secret_key) < 16:
            msg = f"secret_key: got {len(self.secret_key)} bytes; expected at least 16 random bytes"
            raise ValueError(msg)
        for name in ("max_sessions", "max_sessions_per_user", "login_max_failures",
                     "rate_limit_max_keys", "max_upload_bytes"):
            if getattr(self, name) < 1:
                msg = f"{name}: got {getattr(self, name)}; expected a positive number"
                raise ValueError(msg)
        for name in ("session_lifetime", "session_idle_timeout", "login_window", "login_delay",
                     "login_max_delay", "login_memory"):
            if getattr(self, name) <= dt.timedelta(0):
                msg = f"{name}: got {getattr(self, name)}; expected a positive duration"
                raise ValueError(msg)
        if self.figure_wait < dt.timedelta(0):
            msg = f"figure_wait: got {self.figure_wait}; expected no wait or a positive duration"
            raise ValueError(msg)
