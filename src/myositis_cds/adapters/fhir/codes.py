"""The FHIR code tables: which codings mean which entry of ``patient-record@1``, both ways.

The tables are data (``codes.toml`` beside this module, format ``myositis-cds/fhir-codes@1``); a site
adds its own codings with a file of the same shape (``--codes FILE``), whose codings go in front of
the embedded ones, so that the exporter writes the site's codes first. Every vocabulary entry also
has a project-local coding ``urn:myositis-cds:codes:<category>|<name>`` (the only coding of entries
for which the clinical reference gives no standard code). The importer reads any listed coding; the
exporter writes :meth:`FhirCodes.coding_for`, the first one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, get_args

from myositis_cds.domain.vocabulary import (
    ALL_FINDINGS,
    ANTIBODY_RESULTS,
    ANTIBODY_TARGETS,
    DIAGNOSES,
    INVESTIGATION_KINDS,
)
from myositis_cds.errors import MISSING_VALUE, FieldError, SettingsError

__all__ = [
    "BODY_MEASURES",
    "CODES_FORMAT",
    "CORE_SET_MEASURES",
    "FREQUENCY_SYSTEM",
    "INVESTIGATION_RESULTS",
    "LOCAL_SYSTEM_PREFIX",
    "LOINC",
    "SNOMED",
    "UCUM",
    "Category",
    "Coding",
    "FhirCodes",
    "build_codes",
    "load_codes",
    "local_system",
]

CODES_FORMAT: Final = "myositis-cds/fhir-codes@1"
LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
LOCAL_SYSTEM_PREFIX: Final = "urn:myositis-cds:codes:"
FREQUENCY_SYSTEM: Final = LOCAL_SYSTEM_PREFIX + "frequency"
"""Dosage.timing.code coding of a treatment's frequency (code = the record's frequency word)."""

Category = Literal["lab", "body", "diagnosis", "finding", "antibody", "measure", "investigation",
                   "drug", "antibody_result", "investigation_result"]
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
BODY_MEASURES: Final = ("weight", "height")
CORE_SET_MEASURES: Final = ("physician_global", "patient_global", "extramuscular_global", "mmt8",
                            "haq", "cdasi_activity")
INVESTIGATION_RESULTS: Final = ("normal", "abnormal")
_DRUG_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LAB_NAME = re.compile(r"^[^\s|][^|]{0,63}$")

# Closed vocabularies; None = open (any name of the right shape).
_NAMES: Final[Mapping[Category, tuple[str, ...] | None]] = {
    "lab": None, "body": BODY_MEASURES, "diagnosis": DIAGNOSES, "finding": ALL_FINDINGS,
    "antibody": ANTIBODY_TARGETS, "measure": CORE_SET_MEASURES,
    "investigation": INVESTIGATION_KINDS, "drug": None, "antibody_result": ANTIBODY_RESULTS,
    "investigation_result": INVESTIGATION_RESULTS,
}


def local_system(category: Category) -> str:
    """The project-local code system URI of a category, e.g. ``urn:myositis-cds:codes:finding``."""
    return LOCAL_SYSTEM_PREFIX + category.replace("_", "-")


_LOCAL_CATEGORY: Final[Mapping[str, Category]] = {local_system(c): c for c in CATEGORIES}


@dataclass(frozen=True, slots=True, kw_only=True)
class Coding:
    """One FHIR Coding: system URI and code (and a display for the exporter, if known)."""

    system: str
    code: str
    display: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"system": self.system, "code": self.code}
        if self.display is not None:
            out["display"] = self.display
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FhirCodes:
    """Lookups both ways: a coding to its (category, name), a (category, name) to its codings."""

    by_coding: Mapping[tuple[str, str], tuple[Category, str]]
    by_name: Mapping[tuple[Category, str], tuple[Coding, ...]]

    def lookup(self, system: str, code: str) -> tuple[Category, str] | None:
        """The (category, name) a coding means, or None if it is not in the tables."""
        found = self.by_coding.get((system, code))
        if found is not None:
            return found
        category = _LOCAL_CATEGORY.get(system)
        if category is not None and _valid_name(category, code):
            return category, code
        return None

    def name_of(self, category: Category, system: str, code: str) -> str | None:
        """The name a coding means within ``category`` (None if unknown or of another category)."""
        found = self.lookup(system, code)
        return found[1] if found is not None and found[0] == category else None

    def codings_for(self, category: Category, name: str) -> tuple[Coding, ...]:
        """Every coding of an entry, the one to export first; the local coding is always last."""
        if not _valid_name(category, name):
            msg = f"{category} {name!r} is not in the record vocabulary"
            raise ValueError(msg)
        local = Coding(system=local_system(category), code=name, display=name)
        return (*self.by_name.get((category, name), ()), local)

    def coding_for(self, category: Category, name: str) -> Coding:
        """The coding the exporter writes for an entry."""
        return self.codings_for(category, name)[0]

    def names(self, category: Category) -> tuple[str, ...]:
        """The entries of a category that have a listed (non-local) coding, or a closed vocabulary."""
        closed = _NAMES[category]
        listed = tuple(sorted({name for cat, name in self.by_name if cat == category}))
        return closed if closed is not None else listed


def _valid_name(category: Category, name: str) -> bool:
    closed = _NAMES[category]
    if closed is not None:
        return name in closed
    pattern = _DRUG_NAME if category == "drug" else _LAB_NAME
    return pattern.fullmatch(name) is not None


def _expected_name(category: Category) -> str:
    closed = _NAMES[category]
    if closed is not None:
        return "one of " + ", ".join(closed)
    if category == "drug":
        return "a lower-case generic drug name (a-z, 0-9, _)"
    return "a test name of 1–64 characters without '|'"


def _read_table(data: Mapping[str, object], source: str) -> tuple[
        list[tuple[Category, str, Coding]], list[FieldError]]:
    entries: list[tuple[Category, str, Coding]] = []
    errors: list[FieldError] = []
    fmt = data.get("format", MISSING_VALUE)
    if fmt != CODES_FORMAT:
        errors.append(FieldError(path=f"{source}:format", value=fmt, expected=repr(CODES_FORMAT)))
    for key, table in data.items():
        if key == "format":
            continue
        if key not in CATEGORIES:
            errors.append(FieldError(path=f"{source}:{key}", value=key,
                                     expected="a table named " + ", ".join(CATEGORIES)))
            continue
        category: Category = key
        if not isinstance(table, Mapping):
            errors.append(FieldError(path=f"{source}:{key}", value=table,
                                     expected="a table of name = [\"system|code\", ...]"))
            continue
        for name, codings in table.items():
            where = f"{source}:{key}.{name}"
            if not _valid_name(category, name):
                errors.append(FieldError(path=where, value=name, expected=_expected_name(category)))
                continue
            if not isinstance(codings, list) or not codings:
                errors.append(FieldError(path=where, value=codings,
                                         expected="a non-empty list of \"system|code\" strings"))
                continue
            for index, text in enumerate(codings):
                system, bar, code = text.partition("|") if isinstance(text, str) else ("", "", "")
                if not bar or not system or not code or "|" in code:
                    errors.append(FieldError(path=f"{where}[{index}]", value=text,
                                             expected="\"system|code\", e.g. \"http://loinc.org|2157-6\""))
                    continue
                entries.append((category, name, Coding(system=system, code=code)))
    return entries, errors


def _embedded() -> Mapping[str, object]:
    text = resources.files("myositis_cds.adapters.fhir").joinpath("codes.toml").read_text("utf-8")
    return tomllib.loads(text)


def _site(path: Path) -> Mapping[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError([FieldError(path=str(path), value=str(path),
                                        expected=f"a readable TOML code table ({exc.strerror})")],
                            source=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError([FieldError(path=str(path), value=MISSING_VALUE,
                                        expected=f"valid TOML ({exc})")], source=str(path)) from None


def load_codes(path: Path | None = None) -> FhirCodes:
    """The embedded code tables, with a site's file (same format) added in front if ``path`` given.

    Raises :class:`~myositis_cds.errors.SettingsError` naming every bad entry: an unknown table, a
    name outside the record vocabulary, a malformed coding, or one coding given two meanings.
    """
    return build_codes(_site(path) if path is not None else None, source=str(path))


def build_codes(site_tables: Mapping[str, object] | None, *, source: str) -> FhirCodes:
    """The embedded code tables with ``site_tables`` (a decoded ``myositis-cds/fhir-codes@1``
    document, e.g. the ``[codes]`` table of a site configuration) in front; ``source`` names it in
    errors."""
    embedded, errors = _read_table(_embedded(), "codes.toml")
    site: list[tuple[Category, str, Coding]] = []
    if site_tables is not None:
        site, site_errors = _read_table(site_tables, source)
        errors += site_errors
    by_coding: dict[tuple[str, str], tuple[Category, str]] = {}
    accepted: list[tuple[Category, str, Coding]] = []
    for origin, entries in (("codes.toml", embedded), (source, site)):
        for category, name, coding in entries:
            where, text = f"{origin}:{category}.{name}", f"{coding.system}|{coding.code}"
            if coding.system in _LOCAL_CATEGORY:
                errors.append(FieldError(path=where, value=text, expected="a coding outside the "
                                         "project-local systems (they are built in)"))
                continue
            known = by_coding.setdefault((coding.system, coding.code), (category, name))
            if known != (category, name):
                errors.append(FieldError(path=where, value=text, expected="a coding not already "
                                         f"meaning {known[0]} {known[1]!r}"))
                continue
            accepted.append((category, name, coding))
    by_name: dict[tuple[Category, str], list[Coding]] = {}
    site_first = [e for e in accepted if e in site] + [e for e in accepted if e not in site]
    for category, name, coding in site_first:
        listed = by_name.setdefault((category, name), [])
        if coding not in listed:
            listed.append(coding)
    if errors:
        raise SettingsError(errors, source=source if site_tables is not None else "codes.toml")
    return FhirCodes(by_coding=MappingProxyType(by_coding),
                     by_name=MappingProxyType({k: tuple(v) for k, v in by_name.items()}))
