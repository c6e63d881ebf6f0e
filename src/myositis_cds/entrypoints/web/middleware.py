"""ASGI middleware: security headers on every response, and an access log without patient data.

The log line names the method, the route's path *template* (``/api/v1/patients/{patient_id}``,
never the id itself or a query string), the status, the duration and the signed-in username.
A failure inside the application still gets a plain 500 response carrying the security headers
(no traceback); the log names the exception's type and where it was raised, never its message
(a database error's message can quote the statement's parameters, i.e. patient data).

A request whose path, query string or headers hold a NUL character (``%00`` included) is refused
(400) before any route sees it: PostgreSQL cannot store NUL, and no log should carry one.
Responses served over TLS (or with ``Secure`` cookies configured behind a TLS-terminating proxy)
carry ``Strict-Transport-Security``.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "FRAMED_PATHS", "HSTS", "SECURITY_HEADERS",
           "SecurityMiddleware", "framed_policy", "logger"]

logger = logging.getLogger("myositis_cds.web")

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS: Final[dict[str, str]] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


HSTS: Final = "max-age=31536000"
"""One year; without ``includeSubDomains`` (other hosts of the hospital's domain are not ours)."""


def _holds_nul(scope: Scope) -> bool:
    query = bytes(scope.get("query_string", b"")).lower()
    if "\x00" in str(scope.get("path", "")) or b"\x00" in query or b"%00" in query:
        return True
    return any(b"\x00" in value or b"%00" in value.lower() for name, value in scope.get("headers", ())
               if name != b"authorization")


def _template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "/static" if str(scope.get("path", "")).startswith("/static/") else "<no route>"


def _refusal(scope: Scope, status: int, message: str) -> Response:
    if str(scope.get("path", "")).startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status)
    return PlainTextResponse(message[:1].upper() + message[1:] + ".", status_code=status)


FRAMED_PATHS: Final = ("/launch", "/smart/")
"""The SMART launch's pages: the only ones an EHR may show in a frame (its configured origins)."""


def framed_policy(origins: tuple[str, ...]) -> str:
    """The Content Security Policy of a framed page: the same, ``frame-ancestors`` the origins."""
    return CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'",
                                           "frame-ancestors " + " ".join(origins))


class SecurityMiddleware:
    """Adds the security headers, logs each request, and refuses bodies over ``max_body`` bytes
    (by their ``Content-Length``; the routes check the bytes they actually read as well).

    Every page forbids framing (``frame-ancestors 'none'``, ``X-Frame-Options: DENY``) except the
    SMART launch's (:data:`FRAMED_PATHS`), which the configured EHR origins ``frame_origins`` may
    frame (no ``X-Frame-Options``: it cannot name origins)."""

    def __init__(self, app: ASGIApp, *, max_body: int, frame_origins: tuple[str, ...] = (),
                 hsts_behind_proxy: bool = False) -> None:
        self.app = app
        self.max_body = max_body
        self.framed = framed_policy(frame_origins) if frame_origins else None
        self.hsts_behind_proxy = hsts_behind_proxy
        """Send HSTS on plain-HTTP requests too: a TLS-terminating proxy is in front (the
        deployment said so by asking for ``Secure`` cookies)."""

    def _too_large(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                return not value.isdigit() or int(value) > self.max_body
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        response_started = False
        path = str(scope.get("path", ""))
        cacheable = path.startswith("/static/")
        framed = self.framed is not None and (path == "/launch" or path.startswith("/smart/"))
        hsts = self.hsts_behind_proxy or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                own_policy = headers.get("content-security-policy")
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if hsts:
                    headers["Strict-Transport-Security"] = HSTS
                if own_policy is not None and own_policy.startswith(CONTENT_SECURITY_POLICY + ";"):
                    headers["Content-Security-Policy"] = own_policy  # the default, narrowed further
                if framed and self.framed is not None:
                    headers["Content-Security-Policy"] = self.framed
                    del headers["X-Frame-Options"]
                if "cache-control" not in headers:  # a route may allow private caching itself
                    headers["Cache-Control"] = "private, max-age=300" if cacheable else "no-store"
            await send(message)

        try:
            if self._too_large(scope):
                response = _refusal(scope, 413, f"the request body is larger than {self.max_body} bytes")
                await response(scope, receive, send_with_headers)
                return
            if _holds_nul(scope):
                response = _refusal(scope, 400, "the request's path, query or headers hold a NUL "
                                    "character (%00): it is not accepted anywhere")
                await response(scope, receive, send_with_headers)
                return
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            _log_failure(scope, exc)
            if not response_started:
                await _refusal(scope, 500, "internal error: the request was not completed; the "
                               "error has been logged")(scope, receive, send_with_headers)
        finally:
            state = scope.get("state") or {}
            logger.info("%s %s %d %.1fms user=%s", scope.get("method", "-"), _template(scope), status,
                        (time.perf_counter() - started) * 1000, state.get("username") or "-")


def _log_failure(scope: Scope, exc: BaseException) -> None:
    """The exception's type and the frames it passed through (file, line, function): enough to
    find the bug, and nothing of the request's data (no message, no locals)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
                        for f in reversed(frames[-8:]))
    logger.error("unhandled %s in %s %s at %s", type(exc).__name__, scope.get("method", "-"),
                 _template(scope), where or "-")
