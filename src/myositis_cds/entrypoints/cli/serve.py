"""``myositis-cds serve``: migrate the database, optionally seed the examples, run the web app.

When the database has no user yet, a clinician ``demo`` is created with a random temporary password
that is printed once to this terminal (and stored only as an argon2 hash): it must be replaced at
the first sign-in and lapses after ``TEMPORARY_PASSWORD_LIFETIME`` (``myositis-cds users
reset-password demo`` issues a new one). Seeding stores each
example patient not stored yet, acting as ``system:serve`` (audited). Operational settings come
from the environment: ``MYOSITIS_CDS_DATABASE_URL`` (or ``--database-url``),
``MYOSITIS_CDS_SECRET_KEY`` (default: random per start) and ``MYOSITIS_CDS_SECURE_COOKIES=1``
(behind a TLS-terminating proxy, whose address goes in ``--forwarded-allow-ips``; without it the
forwarded headers are ignored). ``--ssl-certfile``/``--ssl-keyfile`` serve HTTPS directly.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from myositis_cds import bootstrap
from myositis_cds.entrypoints.cli.common import example_names, examples_dir
from myositis_cds.errors import AlreadyExistsError, UsageError
from myositis_cds.services import patients, users
from myositis_cds.services.ports import SystemActor

__all__ = ["DEMO_USERNAME", "SERVE_ACTOR", "WORKER_STARTUP_SECONDS", "add_serve_parser",
           "cmd_serve", "prepare_database", "uvicorn_options"]

DEMO_USERNAME = "demo"
SERVE_ACTOR = SystemActor(username="system:serve")
WORKER_STARTUP_SECONDS = 120
"""How long uvicorn's supervisor waits for a worker process to answer its health check (its own
default, 5 s, kills and restarts workers that are still importing on a loaded machine, for ever)."""


def add_serve_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the clinic web application (applies the migrations "
                           "first)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                       "127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--site", help="the site configuration (TOML, myositis-cds/site@1) for the "
                       "CDS Hooks service and the SMART launch (default: $MYOSITIS_CDS_SITE)")
    serve.add_argument("--database-url", help="SQLAlchemy URL (default: MYOSITIS_CDS_DATABASE_URL "
                       "or ./var/myositis-cds.sqlite3)")
    serve.add_argument("--seed-examples", action="store_true",
                       help="store the example patients that are not stored yet")
    serve.add_argument("--workers", type=_workers, default=1,
                       help="server processes (default 1; sessions, sign-in limits and rendered "
                            "pages are shared through the database)")
    serve.add_argument("--forwarded-allow-ips", metavar="ADDRESSES", default="",
                       help="comma-separated addresses of the reverse proxies whose "
                            "X-Forwarded-For/-Proto headers are trusted (default: none, the "
                            "headers are ignored; sign-in limits then count the proxy's address)")
    serve.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM) ...")
    serve.add_argument("--ssl-keyfile", help="... and this private key (PEM)")
    serve.set_defaults(handler=cmd_serve)


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if not 1 <= workers <= 64:
        msg = f"got {value!r}; expected a whole number of processes from 1 to 64"
        raise argparse.ArgumentTypeError(msg)
    return workers


def prepare_database(url: str, *, seed_examples: bool) -> list[str]:
    """Migrate, seed and make sure someone can sign in; returns what to tell the operator."""
    revision = bootstrap.upgrade(url)
    lines = [f"database {bootstrap.display_url(url)} at revision {revision}"]
    warning = bootstrap.audit_owner_warning(url)
    if warning is not None:
        lines.append(warning)
    database = bootstrap.make_unit_of_work(url)
    try:
        if seed_examples:
            parse = bootstrap.make_live_parser()
            added = 0
            for name in example_names():
                document = json.loads((examples_dir() / f"{name}.json").read_text(encoding="utf-8"))
                try:
                    patients.create_patient(database, SERVE_ACTOR, document, parse=parse)
                except AlreadyExistsError:
                    continue
                added += 1
            lines.append(f"seeded {added} example patient(s) ({len(example_names()) - added} "
                         "already stored)")
        accounts = users.list_users(database, SERVE_ACTOR)
        if not accounts:
            password = users.generate_password()
            users.add_user(database, bootstrap.password_hasher(), SERVE_ACTOR, username=DEMO_USERNAME,
                           password=password, role="clinician", temporary=True)
            hours = int(users.TEMPORARY_PASSWORD_LIFETIME.total_seconds() // 3600)
            lines.append(f"created the clinician {DEMO_USERNAME!r} with the temporary password "
                         f"{password}  (shown only now, valid {hours} hours; you choose your own "
                         "at the first sign-in. Add real accounts with `myositis-cds users add`, "
                         "then `myositis-cds users disable demo`)")
        elif any(u.username == DEMO_USERNAME and u.active and u.must_change_password
                 for u in accounts):
            lines.append(f"the clinician {DEMO_USERNAME!r} still has its temporary password; if "
                         "it is lost or has lapsed, `myositis-cds users reset-password demo` "
                         "prints a new one")
        else:
            lines.append("accounts exist already (no demo login created): add one with "
                         "`myositis-cds users add USERNAME --role clinician`")
    finally:
        database.dispose()
    return lines


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415 - only when serving

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["myositis_cds"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    """How ``serve`` runs uvicorn. Proxy headers are trusted only from ``--forwarded-allow-ips``
    (uvicorn's own default trusts 127.0.0.1, so any local process, or a proxy that passes a
    client's header through, could choose its address for the sign-in limiter)."""
    proxies = [a.strip() for a in args.forwarded_allow_ips.split(",") if a.strip()]
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        msg = "--ssl-certfile and --ssl-keyfile: got only one; expected both (or neither)"
        raise UsageError(msg)
    return {"host": args.host, "port": args.port, "workers": args.workers, "access_log": False,
            "log_config": _log_config(), "server_header": False, "proxy_headers": bool(proxies),
            "forwarded_allow_ips": proxies or [], "ssl_certfile": args.ssl_certfile,
            "ssl_keyfile": args.ssl_keyfile, "timeout_worker_healthcheck": WORKER_STARTUP_SECONDS}


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - the server loads only to serve

    from myositis_cds.entrypoints.web.cds_hooks.config import config_from_environment  # noqa: PLC0415
    from myositis_cds.entrypoints.web.smart.config import (  # noqa: PLC0415
        smart_config_from_environment,
    )

    config_from_environment()  # a bad CDS Hooks clients file stops here (exit 2), not in a worker
    options = uvicorn_options(args)
    smart_config_from_environment()  # as does a bad SMART launch file
    if args.site:
        os.environ["MYOSITIS_CDS_SITE"] = str(Path(args.site).resolve())
    site = bootstrap.site_from_environment()  # as does a bad site configuration
    if site.source is not None:
        sys.stdout.write(f"site configuration {site.source}"
                         + (f" ({site.name})" if site.name else "") + "\n")
    url = args.database_url or bootstrap.database_url()
    for line in prepare_database(url, seed_examples=args.seed_examples):
        sys.stdout.write(line + "\n")
    # Every server process reads its settings from the environment (see
    # WebSettings.from_environment); they must share one signing key, made here if none is given.
    os.environ["MYOSITIS_CDS_DATABASE_URL"] = url
    os.environ.setdefault("MYOSITIS_CDS_SECRET_KEY", secrets.token_urlsafe(32))
    host = f"[{args.host}]" if ":" in args.host else args.host
    scheme = "https" if args.ssl_certfile else "http"
    sys.stdout.write(f"myositis-cds is at {scheme}://{host}:{args.port}/  (Ctrl-C stops it)\n")
    sys.stdout.flush()
    # The access log is ours (method, route template, status, duration, user): uvicorn's would
    # print full paths and query strings, which can hold patient data.
    uvicorn.run("myositis_cds.entrypoints.web.app:create_app_from_environment", factory=True,
                **options)
    return 0
