"""Who is calling the CDS Hooks endpoints: the EHR's signed JWT, the replay store, and CORS.

Every call (discovery, service, feedback) carries ``Authorization: Bearer <JWT>`` signed by a
registered client (CDS Hooks 2.0, "Trusting CDS Clients"). The token is accepted only when:

- its header names ``alg`` ES384 or RS384 (never ``none``, never an HMAC or any other algorithm),
  ``typ`` ``JWT`` and a ``kid``;
- its ``iss`` is a registered client and ``kid`` one of that client's keys, of that algorithm;
- the signature verifies with that key;
- ``aud`` is (or contains) the URL of the endpoint called, under the configured public URL;
- ``exp``, ``iat``, ``jti`` and ``iss`` are present, ``exp`` and ``iat`` as JSON numbers (not
  ``"123"``), ``iss``, ``jti`` and ``aud`` as printable text (no NUL, no lone surrogate); it has
  not expired, was not issued in the future and does not live longer than
  ``max_token_lifetime`` (clock skew tolerated both ways);
- its ``(iss, jti)`` was never accepted before (until its ``exp``; kept in the database, so every
  server process refuses a replay).

Every refusal is the same bare 401; the log names only a reason code, never the token, its claims
or a header value.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Final, Protocol

import jwt
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myositis_cds.entrypoints.web.cds_hooks.config import ALLOWED_ALGORITHMS, CdsClient, CdsHooksConfig

__all__ = [
    "CDS_PREFIX",
    "MAX_TOKEN_LENGTH",
    "CdsCorsMiddleware",
    "ReplayGuard",
    "TokenRefusedError",
    "logger",
    "refusal",
    "verify_token",
]

logger = logging.getLogger("myositis_cds.web.cds_hooks")

CDS_PREFIX: Final = "/cds-services"
MAX_TOKEN_LENGTH: Final = 16_384
_REQUIRED_CLAIMS: Final = ("iss", "aud", "exp", "iat", "jti")
_MAX_JTI: Final = 256
_MAX_ISS: Final = 2048


class TokenRefusedError(Exception):
    """The request's JWT is refused; ``reason`` is a short code for the log (never token data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReplayGuard(Protocol):
    """Remembers accepted ``(iss, jti)`` pairs until they expire (shared by every server process:
    :class:`~myositis_cds.adapters.storage.cds_hooks.SqlReplayStore`)."""

    def remember(self, iss: str, jti: str, *, expires: float, now: float) -> bool:
        """True when the pair is new (it is then remembered until ``expires``), False if seen."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Unverified:
    alg: str
    kid: str
    iss: str


def _bearer(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise TokenRefusedError("missing_authorization")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise TokenRefusedError("wrong_scheme")
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or " " in token or token.count(".") != 2:
        raise TokenRefusedError("malformed")
    return token


def _unverified(token: str) -> _Unverified:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False,
                                            "verify_aud": False, "verify_iat": False,
                                            "verify_nbf": False, "verify_iss": False})
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise TokenRefusedError("malformed") from None
    alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ")
    if alg not in ALLOWED_ALGORITHMS:
        raise TokenRefusedError("alg_not_allowed")
    if not isinstance(typ, str) or typ.upper() != "JWT":
        raise TokenRefusedError("wrong_typ")
    if not isinstance(kid, str) or not kid:
        raise TokenRefusedError("missing_kid")
    _check_claim_types(claims)
    return _Unverified(alg=str(alg), kid=kid, iss=str(claims["iss"]))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_text(value: object, limit: int) -> bool:
    """Printable text (no NUL or other control character, no lone surrogate) of 1–limit chars."""
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def _check_claim_types(claims: dict[str, Any]) -> None:
    """The claims' types before anything reads them (PyJWT itself takes ``"exp": "123"`` as a
    number): ``exp``, ``iat`` (and ``nbf``) JSON numbers; ``iss`` and ``jti`` printable text, so
    that no NUL or lone surrogate reaches the replay store or a log; ``aud`` text or a list of it."""
    for name in _REQUIRED_CLAIMS:
        if name not in claims:
            raise TokenRefusedError("missing_claim")
    if not all(_is_number(claims[name]) for name in ("exp", "iat")) or (
            "nbf" in claims and not _is_number(claims["nbf"])):
        raise TokenRefusedError("bad_claim_type")
    if not _is_text(claims["jti"], _MAX_JTI):
        raise TokenRefusedError("bad_jti")
    if not _is_text(claims["iss"], _MAX_ISS):
        raise TokenRefusedError("bad_iss")
    aud = claims["aud"]
    audiences = aud if isinstance(aud, list) else [aud]
    if not audiences or not all(_is_text(a, _MAX_ISS) for a in audiences):
        raise TokenRefusedError("wrong_aud")


def _claims(token: str, *, client: CdsClient, unverified: _Unverified, audience: str,
            config: CdsHooksConfig) -> dict[str, Any]:
    key = client.key(unverified.kid)
    if key is None:
        raise TokenRefusedError("unknown_kid")
    if key.algorithm != unverified.alg:
        raise TokenRefusedError("alg_not_allowed")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=[key.algorithm], audience=audience, issuer=client.iss,
            leeway=config.clock_skew, options={"require": list(_REQUIRED_CLAIMS)})
    except jwt.MissingRequiredClaimError:
        raise TokenRefusedError("missing_claim") from None
    except jwt.InvalidSignatureError:
        raise TokenRefusedError("bad_signature") from None
    except jwt.ExpiredSignatureError:
        raise TokenRefusedError("expired") from None
    except jwt.InvalidAudienceError:
        raise TokenRefusedError("wrong_aud") from None
    except jwt.ImmatureSignatureError:
        raise TokenRefusedError("issued_in_future") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise TokenRefusedError("invalid") from None
    return claims


def verify_token(authorization: str | None, *, config: CdsHooksConfig | None, audience: str,
                 replay: ReplayGuard, now: float | None = None) -> CdsClient:
    """The registered client that signed the request's JWT for ``audience``; raises
    :class:`TokenRefusedError` otherwise."""
    token = _bearer(authorization)
    if config is None:
        raise TokenRefusedError("not_configured")
    unverified = _unverified(token)
    client = config.clients.get(unverified.iss)
    if client is None:
        raise TokenRefusedError("unknown_iss")
    claims = _claims(token, client=client, unverified=unverified, audience=audience, config=config)
    current = time.time() if now is None else now
    _check_claim_types(claims)  # the verified claims are the same; checked where they are used
    exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
    limit = config.max_token_lifetime + config.clock_skew
    if float(exp) - current > limit or float(exp) - float(iat) > limit:
        raise TokenRefusedError("lifetime_too_long")
    if float(exp) + config.clock_skew <= current:  # PyJWT checked it; the store relies on it too
        raise TokenRefusedError("expired")
    if not replay.remember(client.iss, jti, expires=float(exp) + config.clock_skew, now=current):
        raise TokenRefusedError("replayed")
    return client


def refusal() -> Response:
    """The one answer to every refused token: 401, no body, no detail."""
    return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})


_ALLOW_METHODS: Final = "GET, POST, OPTIONS"
_ALLOW_HEADERS: Final = "Authorization, Content-Type"


def _is_cds_path(path: str) -> bool:
    return path == CDS_PREFIX or path.startswith(CDS_PREFIX + "/")


class CdsCorsMiddleware:
    """CORS for the CDS Hooks paths only (browser-based CDS clients need it; CDS Hooks 2.0).

    Preflight ``OPTIONS`` requests are answered here (204) without authentication: they carry no
    token and reveal nothing. Other responses on these paths get ``Access-Control-Allow-Origin``
    for an allowed origin. Credentials (cookies) are never allowed: the JWT is the only credential.
    Every other path of the application is left untouched (no CORS).
    """

    def __init__(self, app: ASGIApp, *, origins: tuple[str, ...]) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(origins)

    def _allowed(self, origin: str | None) -> str | None:
        if origin is None:
            return None
        if self.any_origin:
            return "*"
        return origin if origin in self.origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_cds_path(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        allowed = self._allowed(headers.get("origin"))
        if scope.get("method") == "OPTIONS" and "access-control-request-method" in headers:
            answer = {"Vary": "Origin"}
            if allowed is not None:
                answer |= {"Access-Control-Allow-Origin": allowed,
                           "Access-Control-Allow-Methods": _ALLOW_METHODS,
                           "Access-Control-Allow-Headers": _ALLOW_HEADERS,
                           "Access-Control-Max-Age": "600"}
            await Response(status_code=204, headers=answer)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.append("Vary", "Origin")
                if allowed is not None:
                    out["Access-Control-Allow-Origin"] = allowed
                    out["Access-Control-Expose-Headers"] = "WWW-Authenticate"
            await send(message)

        await self.app(scope, receive, send_with_cors)
