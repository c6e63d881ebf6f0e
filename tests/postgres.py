"""A PostgreSQL server for the tests that run on both backends (storage, services, web API).

PostgreSQL comes from ``MYOSITIS_CDS_TEST_POSTGRES_URL`` (a server where that role may create
databases) or, without it, from a throwaway PostgreSQL 15 server started once per session (the
``postgres_server`` fixture in ``tests/conftest.py``): the Debian binaries in
``/usr/lib/postgresql/15/bin``, a data directory in a temporary folder, listening on 127.0.0.1 only
on a free port, ``trust`` authentication, fsync off, stopped and deleted at the end. initdb refuses
to run as root, so as root the server runs as the ``postgres`` user. Without binaries the PostgreSQL
half of the tests is skipped with the reason, except under CI (``CI`` set), where it fails: CI must
test PostgreSQL.

Each PostgreSQL test gets its own database, copied from a template migrated once per session.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from myositis_cds.adapters.storage import normalise_url, upgrade_database

__all__ = ["BACKENDS", "PostgresServer", "database_url_on", "run_postgres_server"]

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
BACKENDS = ("sqlite", "postgresql")


@dataclass
class PostgresServer:
    """A server on which these tests may create and drop databases."""

    admin_url: URL
    started_in_seconds: float | None = None
    _template: str | None = field(default=None, repr=False)

    def _execute(self, statement: str) -> None:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    def url_of(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create_database(self, *, migrated: bool) -> str:
        name = f"myositis_test_{uuid.uuid4().hex[:12]}"
        if migrated and self._template is None:
            template = f"myositis_template_{uuid.uuid4().hex[:8]}"
            self._execute(f'CREATE DATABASE "{template}"')
            upgrade_database(self.url_of(template))
            self._template = template
        suffix = f' TEMPLATE "{self._template}"' if migrated else ""
        self._execute(f'CREATE DATABASE "{name}"{suffix}')
        return name

    def drop_database(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_template(self) -> None:
        if self._template is not None:
            self.drop_database(self._template)
            self._template = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_postgres(*command: str) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return list(command)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must test PostgreSQL (.ci/run installs postgresql-15)")
    pytest.skip(f"{reason}; set MYOSITIS_CDS_TEST_POSTGRES_URL or install postgresql-15")


_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
"""For tests only: a benchmark keeps PostgreSQL's durable defaults (SQLite commits with FULL sync)."""


def _start_server(root: Path, *, durable: bool = False) -> tuple[URL, Path]:
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (root, sockets):
            shutil.chown(path, "postgres", "postgres")
    subprocess.run(_as_postgres(str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                                "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"),
                   check=True, capture_output=True, text=True, timeout=120)
    port = _free_port()
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sockets} "
               + ("" if durable else _FAST))
    try:
        subprocess.run(_as_postgres(str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-l", str(log),
                                    "-w", "-t", "60", "-o", options, "start"),
                       check=True, capture_output=True, text=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        server_log = log.read_text("utf-8", errors="replace") if log.exists() else ""
        pytest.fail(f"PostgreSQL did not start: {exc.stderr}\n{server_log}")
    return make_url(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"), data


def run_postgres_server(*, durable: bool = False) -> Iterator[PostgresServer]:
    """The generator behind the session fixture ``postgres_server`` (and ``bench_web.py``'s
    throwaway server, ``durable``: fsync and synchronous commits on, as in production)."""
    configured = os.environ.get("MYOSITIS_CDS_TEST_POSTGRES_URL", "").strip()
    if configured:
        server = PostgresServer(admin_url=normalise_url(configured))
        yield server
        server.drop_template()
        return
    missing = [name for name in ("initdb", "pg_ctl") if not (POSTGRES_BIN / name).is_file()]
    if missing:
        _unavailable(f"PostgreSQL 15 server binaries not found ({', '.join(missing)} in {POSTGRES_BIN})")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("running as root but runuser is missing (initdb refuses root)")
    root = Path(tempfile.mkdtemp(prefix="myositis-cds-pg-"))
    started = time.perf_counter()
    data: Path | None = None
    try:
        url, data = _start_server(root, durable=durable)
        server = PostgresServer(admin_url=url, started_in_seconds=time.perf_counter() - started)
        yield server
        server.drop_template()
    finally:
        if data is not None:
            subprocess.run(_as_postgres(str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-m", "fast",
                                        "-w", "stop"), check=False, capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def database_url_on(backend: str, request: pytest.FixtureRequest, tmp_path: Path, *,
                    migrated: bool) -> Iterator[str]:
    """A fresh database on ``backend`` (``sqlite`` or ``postgresql``), dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
        if migrated:
            upgrade_database(url)
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database(migrated=migrated)
    try:
        yield server.url_of(name)
    finally:
        server.drop_database(name)
