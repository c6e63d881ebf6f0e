"""An EHR's public keys from its JWK Set URL, cached (CDS Hooks 2.0, "Trusting CDS Clients").

A client registered with ``jwks_url`` has its keys fetched from that URL — the configured one
only: a JWT's ``jku`` header is never followed — and kept for ``ttl`` seconds. A token signed with
a ``kid`` not in the cache makes the keys be fetched again (the EHR rotated them), but at most once
per ``min_refresh`` seconds, so that tokens with made-up kids cannot make the service hammer the
EHR. A failed fetch keeps the keys already known (and is retried after ``min_refresh``); the log
names the URL's host and the reason, never a key. Every key fetched is checked as a configured one
(:func:`~.config.parse_jwks`: EC P-384 or RSA ≥ 2048 bits, public, ``use`` sig).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from myositis_cds import bootstrap
from myositis_cds.adapters.http_requests import send
from myositis_cds.errors import SettingsError

__all__ = ["JwksFetch", "RemoteJwks", "is_jwks_url", "urllib_jwks_fetch"]

logger = logging.getLogger("myositis_cds.web.cds_hooks")

JwksFetch = Callable[[str, float], bytes]
"""``(url, timeout) -> body`` of one GET; raises ``OSError`` (or ``ValueError``) on failure."""
_MAX_BODY: Final = 1024 * 1024
_LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def is_jwks_url(value: object) -> bool:
    """An https URL (or http on the loopback interface, for a test EHR on the same machine)."""
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return bool(parts.hostname) and (
        parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK))


def urllib_jwks_fetch(url: str, timeout: float) -> bytes:
    """One GET of a JWK Set (no redirects, at most 1 MiB, HTTP 200 only)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - configured URL
    status, body = send(request, timeout=timeout, max_bytes=_MAX_BODY)
    if status != 200:
        msg = f"HTTP {status}"
        raise OSError(msg)
    if len(body) > _MAX_BODY:
        msg = "larger than 1 MiB"
        raise OSError(msg)
    return body


@dataclass(slots=True, kw_only=True, eq=False)
class RemoteJwks:
    """The keys of one client's JWK Set URL, fetched on first use and cached (module docstring)."""

    url: str
    where: str
    """Where it is configured (``client[0].jwks_url``), to name it in errors."""
    ttl: float = 3600.0
    min_refresh: float = 60.0
    timeout: float = 5.0
    fetch: JwksFetch = urllib_jwks_fetch
    parse: Callable[[object, str], Mapping[str, Any]] | None = None
    """The JWK Set parser (``config.parse_jwks``; injected to avoid an import cycle)."""
    clock: Callable[[], float] = time.monotonic
    _keys: Mapping[str, Any] = field(default_factory=dict)
    _fetched_at: float | None = None
    _tried_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key(self, kid: str) -> Any:
        """The client key with this ``kid`` (a :class:`~.config.ClientKey`), or None."""
        with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.ttl
            unknown = kid not in self._keys
            may_try = self._tried_at is None or now - self._tried_at >= self.min_refresh
            if (stale or unknown) and may_try:
                self._refresh(now)
            return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        self._tried_at = now
        host = urlsplit(self.url).hostname
        try:
            body = self.fetch(self.url, self.timeout)
            document = bootstrap.decode_json(body, max_bytes=len(body))
            if self.parse is None:
                msg = "RemoteJwks.parse is not set"
                raise RuntimeError(msg)
            keys = self.parse(document, f"{self.where} ({host})")
        except (OSError, ValueError, orjson.JSONDecodeError) as exc:
            logger.warning("CDS Hooks JWK Set of %s not refreshed: %s", host,
                           type(exc).__name__ if not isinstance(exc, OSError) else exc)
            return
        except SettingsError as exc:
            logger.warning("CDS Hooks JWK Set of %s refused: %d problem(s), e.g. %s", host,
                           len(exc.errors), exc.errors[0].expected if exc.errors else "-")
            return
        self._keys = dict(keys)
        self._fetched_at = now
