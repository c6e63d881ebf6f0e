"""``myositis-cds serve``: forwarded headers are trusted only from the proxies named (issue 13, item 8)."""

from __future__ import annotations

import argparse
from typing import Any

import pytest
import uvicorn
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from myositis_cds.entrypoints.cli.serve import add_serve_parser, uvicorn_options
from myositis_cds.errors import UsageError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_parser(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


async def _app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
    raise AssertionError


def _loaded(options: dict[str, Any]) -> object:
    config = uvicorn.Config(_app, **{**options, "log_config": None, "workers": None})
    config.load()
    return config.loaded_app


def test_forwarded_headers_are_ignored_by_default_even_with_uvicorns_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    options = uvicorn_options(_args())
    assert options["proxy_headers"] is False
    assert options["forwarded_allow_ips"] == []
    assert not isinstance(_loaded(options), ProxyHeadersMiddleware)


def test_named_proxies_are_trusted() -> None:
    options = uvicorn_options(_args("--forwarded-allow-ips", "10.0.0.5, 10.0.0.6"))
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ["10.0.0.5", "10.0.0.6"]
    assert isinstance(_loaded(options), ProxyHeadersMiddleware)


def test_tls_needs_both_certificate_and_key() -> None:
    assert uvicorn_options(_args("--ssl-certfile", "c.pem", "--ssl-keyfile", "k.pem"))[
        "ssl_certfile"] == "c.pem"
    with pytest.raises(UsageError, match="--ssl-keyfile"):
        uvicorn_options(_args("--ssl-certfile", "c.pem"))


def test_workers_still_importing_on_a_loaded_machine_are_not_killed() -> None:
    """uvicorn's supervisor kills a worker that does not answer its health check in time (5 s by
    default): under load the app's imports took 28 s and the workers were restarted for ever."""
    options = uvicorn_options(_args("--workers", "2"))
    assert options["timeout_worker_healthcheck"] >= 60
    config = uvicorn.Config(_app, **{**options, "log_config": None})
    assert config.timeout_worker_healthcheck == options["timeout_worker_healthcheck"]
