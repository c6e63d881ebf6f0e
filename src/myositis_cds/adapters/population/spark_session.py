"""A Spark session for the worklist, on ``local[N]`` or a cluster, that fails fast and plainly.

- A standalone master (``spark://host:port``, several for a high-availability set-up) is first
  reached over TCP (``connect_timeout`` seconds each): if none answers, a usage error names the
  master and the reason, instead of Spark retrying for a minute and ending in a Py4J traceback.
- Once the session exists, the job waits at most ``executor_timeout`` seconds for a first
  executor (a master without a worker with free cores would otherwise hang forever).
- Executors run ``PYSPARK_PYTHON`` (default: this interpreter's path). On a cluster every worker
  must have an interpreter at that path with myositis-cds installed at the same version (or set
  ``PYSPARK_PYTHON`` / ``spark.pyspark.python`` to the workers' interpreter); docs/worklist.md.
- Nothing here fixes a partition count: Spark's own configuration (``spark-defaults.conf``,
  ``--spark-conf``) is respected; the engine sets the evaluation partitions from the data size and
  the site's configuration (:class:`~myositis_cds.adapters.site.SparkPartitioning`).
"""

from __future__ import annotations

import os
import socket
import sys
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import urlsplit

from myositis_cds.errors import UsageError

__all__ = ["SparkUnavailableError", "quiet", "spark_error", "spark_session", "standalone_masters"]

CONNECT_TIMEOUT: Final = 5.0
EXECUTOR_TIMEOUT: Final = 60.0
_ARROW_BATCH: Final = ("spark.sql.execution.arrow.maxRecordsPerBatch", "64")
"""Patients per Arrow batch of ``mapInArrow`` unless the site's Spark configuration says."""


class SparkUnavailableError(UsageError):
    """Spark could not start or run the job; the message says why (no Java traceback)."""


@contextmanager
def quiet() -> Iterator[None]:
    """PySpark 4 warns that it does not fully support pandas 3 (pandas is installed for another
    feature); this engine uses Arrow only, never pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        yield


def standalone_masters(master: str) -> list[tuple[str, int]]:
    """The (host, port) of each master of a ``spark://`` URL (``[]`` for other masters)."""
    if not master.startswith("spark://"):
        return []
    found = []
    for part in master.removeprefix("spark://").split(","):
        parts = urlsplit(f"//{part.strip()}")
        try:
            port = parts.port or 7077
        except ValueError:
            msg = f"--spark-master: got {master!r}; expected spark://host:port[,host:port...]"
            raise UsageError(msg) from None
        if not parts.hostname:
            msg = f"--spark-master: got {master!r}; expected spark://host:port[,host:port...]"
            raise UsageError(msg)
        found.append((parts.hostname, port))
    return found


def _reachable(master: str, timeout: float) -> None:
    masters = standalone_masters(master)
    reasons = []
    for host, port in masters:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError as exc:
            reasons.append(f"{host}:{port}: {exc.strerror or type(exc).__name__}")
    if masters:
        msg = (f"--spark-master {master}: no Spark master answers ({'; '.join(reasons)}); "
               "expected a running standalone master (start it with spark-class "
               "org.apache.spark.deploy.master.Master, or use --spark-master 'local[N]')")
        raise SparkUnavailableError(msg)


def spark_error(exc: BaseException) -> str:
    """The first line of a Spark or Py4J error, without the Java stack."""
    text = str(exc).strip() or type(exc).__name__
    first = next((line.strip() for line in text.splitlines() if line.strip()), text)
    return first[:500]


def _wait_for_executor(spark: Any, master: str, timeout: float) -> None:
    if not standalone_masters(master):
        return
    deadline = time.monotonic() + timeout
    status = spark.sparkContext._jsc.sc().getExecutorMemoryStatus()
    while status.size() <= 1:  # the driver's own block manager counts as one
        if time.monotonic() > deadline:
            spark.stop()
            msg = (f"--spark-master {master}: no executor started within {timeout:.0f} s; "
                   "expected a worker with free cores and memory registered with the master")
            raise SparkUnavailableError(msg)
        time.sleep(0.5)
        status = spark.sparkContext._jsc.sc().getExecutorMemoryStatus()


def spark_session(master: str, *, conf: Mapping[str, str] | None = None,
                  connect_timeout: float = CONNECT_TIMEOUT,
                  executor_timeout: float = EXECUTOR_TIMEOUT) -> Any:
    """A session on ``master`` (UI off; ``conf`` added; executors use this interpreter unless
    ``PYSPARK_PYTHON`` is set). Raises :class:`SparkUnavailableError` with a plain message."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415 - optional dependency
    except ImportError:
        msg = ("--engine spark: pyspark is not installed; expected `pip install "
               "'myositis-cds[spark]'` (and Java 17+)")
        raise UsageError(msg) from None
    _reachable(master, connect_timeout)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(master).appName("myositis-cds worklist")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false"))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        with quiet():
            spark = builder.getOrCreate()
    except Exception as exc:  # Py4J and Spark errors: shown as one line, never a traceback
        msg = f"--spark-master {master}: Spark could not start ({spark_error(exc)})"
        raise SparkUnavailableError(msg) from None
    if not spark.sparkContext.getConf().contains(_ARROW_BATCH[0]):
        spark.conf.set(*_ARROW_BATCH)
    _wait_for_executor(spark, master, executor_timeout)
    return spark
