"""Real-world FHIR R4 corpora for the importer tests, fetched or generated at test setup.

- The official HL7 R4 examples: the npm package ``hl7.fhir.r4.examples`` 4.0.1, fetched once with
  ``npm pack`` into a cache directory (``$MYOSITIS_CDS_TEST_CACHE``, default
  ``~/.cache/myositis-cds``) and checked against its published SHA-1. Without npm the tests are
  skipped, except under CI (``CI`` set), where they fail: ``.ci/run`` installs npm.
- Synthetic patients from ``tietai-synthea`` (a dev dependency), generated with a fixed seed and
  reference date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

EXAMPLES_PACKAGE = "hl7.fhir.r4.examples"
EXAMPLES_VERSION = "4.0.1"
EXAMPLES_SHA1 = "537ea7db3f3c7b3575fe2eaa7808bad21261cca3"
"""``npm view hl7.fhir.r4.examples@4.0.1 dist.shasum``."""
BIG_BUNDLE_BYTES = 1_000_000
"""Bundles above this size are the specification's definitions (profiles, value sets), not data."""
DEFINITIONAL = frozenset({
    "SearchParameter", "ValueSet", "CodeSystem", "StructureDefinition", "ConceptMap",
    "OperationDefinition", "ImplementationGuide", "CapabilityStatement", "CompartmentDefinition",
    "NamingSystem", "StructureMap", "TerminologyCapabilities", "MessageDefinition", "GraphDefinition",
    "ig", "package",
})


def cache_dir() -> Path:
    configured = os.environ.get("MYOSITIS_CDS_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "myositis-cds"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must provide it: .ci/run installs npm)")
    pytest.skip(reason)


def examples_tarball() -> Path:
    """The cached package tarball, fetched with ``npm pack`` on first use."""
    target = cache_dir() / f"{EXAMPLES_PACKAGE}-{EXAMPLES_VERSION}.tgz"
    if not target.is_file():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed: cannot fetch the HL7 R4 examples")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            done = subprocess.run(
                [str(npm), "pack", f"{EXAMPLES_PACKAGE}@{EXAMPLES_VERSION}", "--silent",
                 "--pack-destination", scratch],
                capture_output=True, text=True, timeout=600, check=False)
            fetched = Path(scratch) / target.name
            if done.returncode != 0 or not fetched.is_file():
                _unavailable(f"npm pack {EXAMPLES_PACKAGE} failed: {done.stderr.strip()[-500:]}")
            fetched.replace(target)
    digest = hashlib.sha1(target.read_bytes(), usedforsecurity=False).hexdigest()
    if digest != EXAMPLES_SHA1:
        target.unlink()
        pytest.fail(f"{target}: SHA-1 {digest}, expected {EXAMPLES_SHA1}; removed, fetch again")
    return target


def example_files(tarball: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file name, resource) of every example that is data (not a definition or a big Bundle)."""
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            name = member.name.removeprefix("package/")
            if not member.isfile() or not name.endswith(".json"):
                continue
            kind = name.split("-", 1)[0].removesuffix(".json")
            if kind in DEFINITIONAL or (kind == "Bundle" and member.size > BIG_BUNDLE_BYTES):
                continue
            stream = archive.extractfile(member)
            assert stream is not None
            yield name, orjson.loads(stream.read())


def synthea_bundles(count: int, *, seed: int, reference: dt.date,
                    workdir: Path) -> list[dict[str, Any]]:
    """``count`` synthetic patients (FHIR R4 transaction Bundles), reproducible for a seed."""
    # tietai-synthea ships no type information.
    from synthea.engine.generator import (  # type: ignore[import-untyped]  # noqa: PLC0415
        Generator,
        GeneratorOptions,
    )
    from synthea.export.fhir import FHIRExporter  # type: ignore[import-untyped]  # noqa: PLC0415

    options = GeneratorOptions()
    options.population_size = count
    options.seed = seed
    options.reference_date = dt.datetime.combine(reference, dt.time(), tzinfo=dt.UTC).replace(
        tzinfo=None)
    options.reference_date_explicit = True
    generator = Generator(options)
    exporter = FHIRExporter(generator.config, workdir, generator.locale)
    bundles: list[dict[str, Any]] = []
    index = 0
    while len(bundles) < count:
        person = generator.generate_person(index)
        index += 1
        if person is not None:
            bundles.append(exporter.create_bundle(person))
    return bundles
