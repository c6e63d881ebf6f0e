"""The OAuth 2.0 side of SMART App Launch 2.x: discovery, PKCE, the authorization request and the
token exchange (authorization code grant, public client or confidential with Basic auth).

- Discovery: ``{iss}/.well-known/smart-configuration`` gives the authorization and token
  endpoints; SMART 2.0 requires PKCE with S256, so a server that does not list
  ``code_challenge_methods_supported: ["S256", ...]`` is refused. Cached per EHR for an hour.
- PKCE: a 64-character verifier from ``secrets``, its S256 challenge (RFC 7636).
- The authorization request names ``aud`` = the EHR's FHIR base (so a token cannot be meant for
  another server), the ``state`` bound to the browser, and ``launch`` for an EHR launch.
- The token response must be a Bearer token with a ``patient`` in context and a scope granting
  patient-level reads; the token itself is used once, to read the chart, and never kept.

Requests follow no redirects, time out, and never log a token, a code or a URL's query.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import orjson

from myositis_cds import bootstrap
from myositis_cds.adapters.http_requests import send
from myositis_cds.entrypoints.web.smart.config import SmartEhr

__all__ = ["Endpoints", "LaunchError", "TokenAnswer", "challenge", "discover", "exchange_code",
           "new_verifier", "reads_patient_data"]

_MAX_BODY: Final = 1024 * 1024
_CACHE_SECONDS: Final = 3600.0
_FHIR_ID_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


class LaunchError(Exception):
    """The launch cannot go on; ``status`` for the page, the message for the user (no secrets)."""

    def __init__(self, message: str, *, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def _call(request: urllib.request.Request, timeout: float, what: str) -> dict[str, Any]:
    try:
        status, body = send(request, timeout=timeout, max_bytes=_MAX_BODY)
    except OSError as exc:
        msg = f"the EHR's {what} could not be reached ({exc})"
        raise LaunchError(msg) from None
    try:
        data = bootstrap.decode_json(body, max_bytes=_MAX_BODY) if len(body) <= _MAX_BODY else None
    except orjson.JSONDecodeError:
        data = None
    if status != 200 or not isinstance(data, dict):
        error = data.get("error") if isinstance(data, dict) else None
        msg = f"the EHR's {what} answered HTTP {status}" + (
            f" ({str(error)[:80]})" if isinstance(error, str) else "")
        raise LaunchError(msg)
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoints:
    authorize: str
    token: str


_DISCOVERED: dict[str, tuple[float, Endpoints]] = {}
_LOCK: Final = threading.Lock()


def discover(ehr: SmartEhr, *, timeout: float) -> Endpoints:
    """The EHR's endpoints from its ``.well-known/smart-configuration`` (cached an hour)."""
    with _LOCK:
        cached = _DISCOVERED.get(ehr.iss)
        if cached is not None and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
    request = urllib.request.Request(  # noqa: S310 - a configured EHR only
        f"{ehr.iss}/.well-known/smart-configuration", headers={"Accept": "application/json"})
    data = _call(request, timeout, "SMART configuration")
    authorize, token = data.get("authorization_endpoint"), data.get("token_endpoint")
    methods = data.get("code_challenge_methods_supported")
    if not isinstance(authorize, str) or not isinstance(token, str):
        msg = "the EHR's SMART configuration names no authorization or token endpoint"
        raise LaunchError(msg)
    if not isinstance(methods, list) or "S256" not in methods:
        msg = ("the EHR's SMART configuration does not support PKCE with S256 (required by SMART "
               "App Launch 2.0)")
        raise LaunchError(msg)
    found = Endpoints(authorize=authorize, token=token)
    with _LOCK:
        _DISCOVERED[ehr.iss] = (time.monotonic(), found)
    return found


def new_verifier() -> str:
    """A PKCE code verifier: 64 URL-safe characters (RFC 7636 allows 43 to 128)."""
    return secrets.token_urlsafe(48)


def challenge(verifier: str) -> str:
    """The S256 code challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenAnswer:
    access_token: str
    patient: str
    scope: str
    expires_in: int | None


def reads_patient_data(scope: str) -> bool:
    """Whether a granted scope lets the app read the patient's data (``patient/*.read``, SMART v2
    ``patient/*.rs``, or read scopes per resource type)."""
    for item in scope.split():
        context, _, rest = item.partition("/")
        permission = rest.rpartition(".")[2].split("?")[0]
        if context == "patient" and (permission in ("read", "*") or
                                     ("r" in permission and set(permission) <= set("cruds"))):
            return True
    return False


def exchange_code(ehr: SmartEhr, endpoints: Endpoints, *, code: str, verifier: str,
                  redirect_uri: str, timeout: float) -> TokenAnswer:
    """The access token for an authorization code (PKCE verifier; Basic auth for a confidential
    client), checked: Bearer, a patient in context, a scope that reads patient data."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier, "client_id": ehr.client_id}
    headers = {"Accept": "application/json",
               "Content-Type": "application/x-www-form-urlencoded"}
    if ehr.client_secret is not None:
        basic = f"{ehr.client_id}:{ehr.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(basic).decode()
    request = urllib.request.Request(endpoints.token, data=urlencode(form).encode(),  # noqa: S310
                                     headers=headers, method="POST")
    data = _call(request, timeout, "token endpoint")
    token, patient = data.get("access_token"), data.get("patient")
    scope = data.get("scope") if isinstance(data.get("scope"), str) else ""
    if not isinstance(token, str) or str(data.get("token_type", "")).lower() != "bearer":
        msg = "the EHR's token endpoint gave no Bearer access token"
        raise LaunchError(msg)
    if not isinstance(patient, str) or not patient or not set(patient) <= _FHIR_ID_CHARS:
        msg = "the EHR gave no patient in context: launch the app from a patient's chart"
        raise LaunchError(msg, status=400)
    if not reads_patient_data(str(scope)):
        msg = "the EHR did not grant reading the patient's data (scope patient/*.read)"
        raise LaunchError(msg, status=403)
    expires = data.get("expires_in")
    return TokenAnswer(access_token=token, patient=patient, scope=str(scope),
                       expires_in=expires if isinstance(expires, int) else None)
