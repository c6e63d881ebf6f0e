"""The Spark engine on a real standalone cluster: a master and a worker started from the installed
PySpark (``spark-class``) on loopback, one small job compared with DuckDB; and a master that does
not answer ends the command with exit 2 and one plain line, quickly."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from myositis_cds.entrypoints.cli import main
from tests.conftest import EXAMPLES, TODAY
from tests.worklist_population import generate_record, write_ndjson

CLI = str(Path(sys.executable).with_name("myositis-cds"))
START_TIMEOUT = 90.0
JOB_TIMEOUT = 900


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spark_class() -> Path:
    import pyspark  # noqa: PLC0415

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"a Spark daemon exited ({process.returncode}): {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    pytest.fail(f"no Spark daemon on port {port} after {START_TIMEOUT} s: {log.read_text()[-2000:]}")


def _environment(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SPARK_LOCAL_IP="127.0.0.1", SPARK_LOG_DIR=str(tmp), SPARK_WORKER_DIR=str(tmp),
               PYSPARK_PYTHON=sys.executable, SPARK_NO_DAEMONIZE="1")
    return env


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:<port>``: one master and one worker with 2 cores, stopped afterwards."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Java 17+ is needed for the Spark cluster test (.ci/run installs it)")
    tmp = tmp_path_factory.mktemp("spark-cluster")
    env = _environment(tmp)
    port, master_ui, worker_ui = _free_port(), _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    started: list[subprocess.Popen[bytes]] = []
    try:
        master_log = tmp / "master.log"
        with master_log.open("wb") as log:
            started.append(subprocess.Popen(
                [str(_spark_class()), "org.apache.spark.deploy.master.Master", "--host",
                 "127.0.0.1", "--port", str(port), "--webui-port", str(master_ui)],
                env=env, stdout=log, stderr=subprocess.STDOUT))
        _wait_for_port(port, started[0], master_log)
        worker_log = tmp / "worker.log"
        with worker_log.open("wb") as log:
            started.append(subprocess.Popen(
                [str(_spark_class()), "org.apache.spark.deploy.worker.Worker", url, "--host",
                 "127.0.0.1", "--cores", "2", "--memory", "1g", "--webui-port", str(worker_ui),
                 "--work-dir", str(tmp / "work")],
                env=env, stdout=log, stderr=subprocess.STDOUT))
        yield url
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.slow
def test_a_standalone_cluster_gives_the_duckdb_worklist(cluster: str, tmp_path: Path) -> None:
    rng = random.Random(5)
    records = [orjson.loads(p.read_bytes()) for p in EXAMPLES]
    records += [generate_record(rng, i, TODAY) for i in range(30)]
    export = write_ndjson(tmp_path / "fhir", records, TODAY)
    site = tmp_path / "site.toml"
    site.write_text('format = "myositis-cds/site@1"\n[spark]\npartitions = 5\n', "utf-8")
    summary = tmp_path / "summary.json"
    # The driver runs in a child process, as on a cluster's edge node (its own JVM and session).
    done = subprocess.run(
        [CLI, "worklist", str(export),
         "--engine", "spark", "--spark-master", cluster, "--site", str(site),
         "--spark-conf", "spark.driver.host=127.0.0.1", "--out", str(tmp_path / "spark.csv"),
         "--summary-json", str(summary), "--no-progress"],
        env=_environment(tmp_path), capture_output=True, text=True, timeout=JOB_TIMEOUT,
        check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert main(["worklist", str(export), "--engine", "duckdb", "--site", str(site),
                 "--out", str(tmp_path / "duckdb.csv"), "--no-progress", "--workers", "1"]) == 0
    assert (tmp_path / "spark.csv").read_text("utf-8") == (tmp_path / "duckdb.csv").read_text("utf-8")
    details = json.loads(summary.read_text("utf-8"))["engine_details"]
    assert details["master"] == cluster
    assert details["default_parallelism"] == 2  # the worker's cores
    assert details["evaluation_partitions"] == 5  # the site's number, not a hard-coded 8
    assert details["result_files"] == 5


def test_an_unreachable_master_is_a_plain_error_quickly(tmp_path: Path) -> None:
    export = write_ndjson(tmp_path / "fhir", [orjson.loads(EXAMPLES[0].read_bytes())], TODAY)
    port = _free_port()  # nothing listens there
    started = time.monotonic()
    done = subprocess.run(
        [CLI, "worklist", str(export),
         "--engine", "spark", "--spark-master", f"spark://127.0.0.1:{port}", "--no-progress",
         "--out", str(tmp_path / "w.csv")],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert time.monotonic() - started < 30
    assert f"spark://127.0.0.1:{port}: no Spark master answers (127.0.0.1:{port}: " \
        "Connection refused)" in done.stderr
    assert "Traceback" not in done.stderr
    assert "py4j" not in done.stderr.lower()
    assert not (tmp_path / "w.csv").exists()
