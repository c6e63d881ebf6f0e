"""ASGI middleware: security headers on every response, and an access log without patient data.

The log line names the method, the route's path *template* (``/api/v1/patients/{patient_id}``,
never the id itself or a query string), the status, the duration and the signed-in username.
A failure inside the application still gets a plain 500 response carrying the security headers
(no traceback); the exception is then re-raised for the server's error log.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "FRAMED_PATHS", "SECURITY_HEADERS", "SecurityMiddleware",
           "framed_policy", "logger"]

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

    def __init__(self, app: ASGIApp, *, max_body: int, frame_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_body = max_body
        self.framed = framed_policy(frame_origins) if frame_origins else None

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

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
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
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not response_started:
                await _refusal(scope, 500, "internal error: the request was not completed; the "
                               "error has been logged")(scope, receive, send_with_headers)
            raise
        finally:
            state = scope.get("state") or {}
            logger.info("%s %s %d %.1fms user=%s", scope.get("method", "-"), _template(scope), status,
                        (time.perf_counter() - started) * 1000, state.get("username") or "-")
