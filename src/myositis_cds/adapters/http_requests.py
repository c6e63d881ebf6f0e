"""One HTTP request to a configured server (an EHR's FHIR server, token endpoint or JWK Set URL),
with the standard library: redirects are not followed (a bearer token or a code never goes anywhere
else), the body is read up to a bound, an HTTP error status is an answer like any other, and an
unreachable server is an ``OSError`` whose text holds no URL query."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any, Final

__all__ = ["send"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # a redirect is answered as it is


_OPENER: Final = urllib.request.build_opener(_NoRedirect)


def send(request: urllib.request.Request, *, timeout: float, max_bytes: int) -> tuple[int, bytes]:
    """(status, body) of ``request``; the body is cut after ``max_bytes + 1`` bytes (a longer one
    is refused by the caller); raises ``OSError`` naming the kind of failure when no answer came."""
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status), response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        msg = type(reason).__name__ if not isinstance(reason, str) else reason
        raise OSError(msg) from None
