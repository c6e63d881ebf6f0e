"""The site configuration: one TOML file (format ``myositis-cds/site@1``) that says what a clinic's
data means, read alike by ``import-fhir``, the worklist engines, the CDS Hooks service and the web
application (``--site FILE`` or ``MYOSITIS_CDS_SITE``). docs/site.md describes every table::

    format = "myositis-cds/site@1"
    name = "Example University Hospital"            # optional, shown in summaries

    [codes.antibody]                                 # the code tables (myositis-cds/fhir-codes@1)
    "Mi-2" = ["http://loinc.org|<your assay's code>"]
    [codes.drug]
    prednisone = ["http://www.nlm.nih.gov/research/umls/rxnorm|312615"]

    [lab_default_uln]                                # when a result has no referenceRange.high
    CK = { value = 200, unit = "U/L" }

    [[lab_unit]]                                     # a site's spelling of a lab unit
    test = "CK"
    unit = "IU/L"
    record_unit = "U/L"
    factor = 1

    [[dose_strength]]                                # one tablet (capsule...) of a product
    coding = "http://www.nlm.nih.gov/research/umls/rxnorm|312615"
    amount = 20
    unit = "mg"

    [fhir]
    diagnosis_date_order = ["recordedDate", "onsetDateTime", "onsetPeriod.start"]

    [spark]
    partitions = 64                                  # optional: else from the data size
    bytes_per_partition = 33554432

Without a file the embedded code tables and no site facts are used. Every error names the table
and key, the value and what was expected, all at once.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from myositis_cds.adapters.fhir.codes import CODES_FORMAT, build_codes
from myositis_cds.adapters.fhir.mapping import (
    DIAGNOSIS_DATE_SOURCES,
    DoseStrength,
    FhirMapping,
    LabDefault,
    LabUnit,
)
from myositis_cds.errors import MISSING_VALUE, FieldError, SettingsError

__all__ = [
    "DEFAULT_BYTES_PER_PARTITION",
    "SITE_FORMAT",
    "SITE_VARIABLE",
    "SiteConfig",
    "SparkPartitioning",
    "load_site",
    "site_from_environment",
]

SITE_FORMAT: Final = "myositis-cds/site@1"
SITE_VARIABLE: Final = "MYOSITIS_CDS_SITE"
DEFAULT_BYTES_PER_PARTITION: Final = 32 * 1024 * 1024
"""Input bytes per Spark evaluation partition when the site does not fix the number."""
_TABLES: Final = ("format", "name", "codes", "lab_default_uln", "lab_unit", "dose_strength",
                  "fhir", "spark")


@dataclass(frozen=True, slots=True, kw_only=True)
class SparkPartitioning:
    """How many partitions the Spark engine evaluates in: ``partitions`` when the site fixes it,
    else one per ``bytes_per_partition`` of input, and never fewer than the cluster's cores."""

    partitions: int | None = None
    bytes_per_partition: int = DEFAULT_BYTES_PER_PARTITION

    def count(self, *, input_bytes: int, cores: int) -> int:
        """The number of partitions for ``input_bytes`` of input on ``cores`` executor cores."""
        if self.partitions is not None:
            return self.partitions
        by_size = math.ceil(max(input_bytes, 1) / self.bytes_per_partition)
        return max(by_size, cores, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteConfig:
    """One clinic's configuration (see the module docstring)."""

    mapping: FhirMapping = field(default_factory=FhirMapping)
    spark: SparkPartitioning = field(default_factory=SparkPartitioning)
    name: str | None = None
    source: str | None = None
    """The file it was read from (None: the built-in defaults)."""


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[FieldError] = []

    def add(self, where: str, value: object, expected: str) -> None:
        self.errors.append(FieldError(path=f"{self.source}:{where}", value=value, expected=expected))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _coding(text: object) -> tuple[str, str] | None:
    if not isinstance(text, str):
        return None
    system, bar, code = text.partition("|")
    return (system, code) if bar and system and code and "|" not in code else None


def _lab_defaults(table: object, problems: _Problems) -> dict[str, LabDefault]:
    found: dict[str, LabDefault] = {}
    if not isinstance(table, Mapping):
        problems.add("lab_default_uln", table, "a table of test = { value = ..., unit = ... }")
        return found
    for test, entry in table.items():
        where = f"lab_default_uln.{test}"
        value = _number(entry.get("value")) if isinstance(entry, Mapping) else None
        unit = entry.get("unit") if isinstance(entry, Mapping) else None
        if value is None or value <= 0 or not isinstance(unit, str) or not unit:
            problems.add(where, entry, "{ value = a number > 0, unit = the record unit, e.g. "
                                       "\"U/L\" }")
            continue
        found[str(test)] = LabDefault(uln=value, unit=unit)
    return found


def _tables(items: object, name: str, keys: tuple[str, ...],
            problems: _Problems) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(where, table) of each table of an array ``[[name]]``; a non-table or an unknown key is
    reported (the unknown key, and the table is still read)."""
    if not isinstance(items, list):
        problems.add(name, items, f"an array of tables [[{name}]]")
        return
    for index, entry in enumerate(items):
        where = f"{name}[{index}]"
        if not isinstance(entry, Mapping):
            problems.add(where, entry, f"a table with {', '.join(keys)}")
            continue
        extra = sorted(set(entry) - set(keys))
        if extra:
            problems.add(f"{where}.{extra[0]}", extra[0], f"only {', '.join(keys)}")
        yield where, entry


def _lab_units(items: object, problems: _Problems) -> dict[tuple[str, str], LabUnit]:
    found: dict[tuple[str, str], LabUnit] = {}
    for where, entry in _tables(items, "lab_unit", ("test", "unit", "record_unit", "factor"),
                                problems):
        test, unit, record_unit = entry.get("test"), entry.get("unit"), entry.get("record_unit")
        factor = _number(entry.get("factor", MISSING_VALUE))
        if not all(isinstance(v, str) and v for v in (test, unit, record_unit)):
            problems.add(where, dict(entry), "test, unit and record_unit as non-empty strings")
            continue
        if factor is None or factor <= 0:
            problems.add(f"{where}.factor", entry.get("factor", MISSING_VALUE),
                         "a number > 0 (value × factor is in record_unit)")
            continue
        key = (str(test), str(unit))
        if key in found:
            problems.add(where, f"{test} {unit}", "each (test, unit) once")
            continue
        found[key] = LabUnit(unit=str(record_unit), factor=factor)
    return found


def _strengths(items: object, problems: _Problems) -> dict[tuple[str, str], DoseStrength]:
    found: dict[tuple[str, str], DoseStrength] = {}
    for where, entry in _tables(items, "dose_strength", ("coding", "amount", "unit"), problems):
        coding = _coding(entry.get("coding"))
        amount = _number(entry.get("amount"))
        unit = entry.get("unit")
        if coding is None:
            problems.add(f"{where}.coding", entry.get("coding", MISSING_VALUE),
                         "\"system|code\" of the medication product, e.g. "
                         "\"http://www.nlm.nih.gov/research/umls/rxnorm|312615\"")
        if amount is None or amount <= 0:
            problems.add(f"{where}.amount", entry.get("amount", MISSING_VALUE), "a number > 0")
        if not isinstance(unit, str) or not unit:
            problems.add(f"{where}.unit", entry.get("unit", MISSING_VALUE),
                         "the unit of the amount, e.g. \"mg\"")
        if coding is None or amount is None or amount <= 0 or not isinstance(unit, str) or not unit:
            continue
        if coding in found:
            problems.add(f"{where}.coding", entry["coding"], "each product coding once")
            continue
        found[coding] = DoseStrength(amount=amount, unit=unit)
    return found


def _fhir(table: object, problems: _Problems) -> tuple[str, ...] | None:
    if not isinstance(table, Mapping):
        problems.add("fhir", table, "a table with diagnosis_date_order")
        return None
    for key in sorted(set(table) - {"diagnosis_date_order"}):
        problems.add(f"fhir.{key}", key, "only diagnosis_date_order")
    order = table.get("diagnosis_date_order")
    if order is None:
        return None
    if (not isinstance(order, list) or not order or len(set(order)) != len(order)
            or any(item not in DIAGNOSIS_DATE_SOURCES for item in order)):
        problems.add("fhir.diagnosis_date_order", order,
                     f"a list of distinct names from {', '.join(DIAGNOSIS_DATE_SOURCES)}")
        return None
    return tuple(order)


def _spark(table: object, problems: _Problems) -> SparkPartitioning:
    if not isinstance(table, Mapping):
        problems.add("spark", table, "a table with partitions and/or bytes_per_partition")
        return SparkPartitioning()
    for key in sorted(set(table) - {"partitions", "bytes_per_partition"}):
        problems.add(f"spark.{key}", key, "only partitions, bytes_per_partition")
    partitions = table.get("partitions")
    size = table.get("bytes_per_partition", DEFAULT_BYTES_PER_PARTITION)
    ok = True
    if partitions is not None and (not isinstance(partitions, int) or isinstance(partitions, bool)
                                   or partitions < 1):
        problems.add("spark.partitions", partitions, "a whole number ≥ 1")
        ok = False
    if not isinstance(size, int) or isinstance(size, bool) or size < 1024 * 1024:
        problems.add("spark.bytes_per_partition", size, "a whole number of bytes ≥ 1048576")
        ok = False
    return SparkPartitioning(partitions=partitions, bytes_per_partition=size) if ok \
        else SparkPartitioning()


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError([FieldError(path=str(path), value=str(path), expected=(
            f"a readable site configuration file ({exc.strerror})"))], source=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError([FieldError(path=str(path), value=MISSING_VALUE,
                                        expected=f"valid TOML ({exc})")], source=str(path)) from None


def load_site(path: Path | None) -> SiteConfig:
    """The site configuration in ``path`` (TOML); the built-in defaults when ``path`` is None.

    Raises :class:`~myositis_cds.errors.SettingsError` listing every problem of the file."""
    if path is None:
        return SiteConfig()
    data = _read(path)
    problems = _Problems(str(path))
    if data.get("format") != SITE_FORMAT:
        problems.add("format", data.get("format", MISSING_VALUE), repr(SITE_FORMAT))
    for key in sorted(set(data) - set(_TABLES)):
        problems.add(key, key, "one of " + ", ".join(_TABLES))
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 200):
        problems.add("name", name, "a name of 1 to 200 characters")
    codes_table = data.get("codes", {})
    if not isinstance(codes_table, Mapping):
        problems.add("codes", codes_table, "tables [codes.<category>] of name = [\"system|code\"]")
        codes_table = {}
    defaults = _lab_defaults(data.get("lab_default_uln", {}), problems)
    units = _lab_units(data.get("lab_unit", []), problems)
    strengths = _strengths(data.get("dose_strength", []), problems)
    order = _fhir(data.get("fhir", {}), problems)
    spark = _spark(data.get("spark", {}), problems)
    try:
        codes = build_codes({"format": CODES_FORMAT, **codes_table}, source=f"{path}:codes")
    except SettingsError as exc:
        problems.errors += exc.errors
        codes = None
    if problems.errors or codes is None:
        raise SettingsError(problems.errors, source=str(path))
    mapping = FhirMapping(codes=codes, lab_defaults=defaults, lab_units=units,
                          dose_strengths=strengths,
                          **({"diagnosis_date_order": order} if order else {}))
    return SiteConfig(mapping=mapping, spark=spark, name=name, source=str(path))


def site_from_environment(environ: Mapping[str, str] | None = None) -> SiteConfig:
    """The site configuration named by ``MYOSITIS_CDS_SITE`` (the defaults when it is unset)."""
    env = os.environ if environ is None else environ
    path = env.get(SITE_VARIABLE, "").strip()
    return load_site(Path(path) if path else None)
