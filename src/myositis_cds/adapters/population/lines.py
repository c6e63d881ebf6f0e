"""Which lines of a FHIR Bulk Data export a worklist reads, decided from their text alone.

A health system's export is mostly resources no rule reads — claims, encounters, notes, vital
signs and lab panels under codes the code tables do not list (about 94 % of the lines of a
Synthea-style export). Decoding them only to count them would cost most of a run, so every engine
first sorts each NDJSON line by its *text*, with the same two regular expressions (the SQL engines
run them in DuckDB and Spark, the local engine in Python: :class:`LineFilter` gives all three):

- a line is **read** when its text names one of the resource types the importer maps
  (``"resourceType": "Observation"``, ...) and, unless it is a Patient or a Medication, contains
  one of the code tables' codes as a JSON string (``"2157-6"``), a project-local system
  (``"urn:myositis-cds:codes:``) or a ``"medicationReference"``;
- every other line is **not read**: it cannot map (its type is not read, or none of its codings is
  in the tables, which the importer would count as ``unsupported_resource_type`` or
  ``unknown_code``), so it is counted, once, in the summary's "FHIR resources not read", without
  being decoded.

The test is a superset of what maps: a read line may still turn out unmapped (it is then counted
by the importer as usual). Only text written with JSON escapes (``"\\u0032157-6"``) would be missed;
``import-fhir`` reads every line and reports each one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from myositis_cds.adapters.fhir.codes import LOCAL_SYSTEM_PREFIX
from myositis_cds.adapters.fhir.importing.importer import MAPPED_RESOURCE_TYPES
from myositis_cds.adapters.fhir.mapping import FhirMapping
from myositis_cds.domain.vocabulary import ANTIBODY_ALIASES, DM_DIAGNOSES, MI2_TARGETS

__all__ = ["ALWAYS_READ_PATTERN", "TYPE_PATTERN", "LineFilter", "code_pattern", "scope_pattern",
           "sql_literal"]

_WS: Final = "[ \t\n\r]*"
"""JSON whitespace (written out: ``\\s`` differs between Python, RE2 and Java)."""
_TYPE_WORDS: Final = "|".join(sorted(MAPPED_RESOURCE_TYPES))
TYPE_PATTERN: Final = f'"resourceType"{_WS}:{_WS}"({_TYPE_WORDS})"'
"""A resource type the importer reads (Medication included, for medicationReferences)."""
ALWAYS_READ_PATTERN: Final = f'"resourceType"{_WS}:{_WS}"(Patient|Medication)"'
"""Read whatever their codes: the Patient (sex, birth date) and Medications."""


def _escaped(code: str) -> str:
    """``code`` as a regular expression literal valid in Python, RE2 and Java: ASCII punctuation
    escaped with a backslash, anything else as is."""
    return "".join("\\" + c if c.isascii() and not c.isalnum() else c for c in code)


def code_pattern(mapping: FhirMapping) -> str:
    """Any code of the tables as a JSON string, a project-local system, or a medicationReference."""
    codes = sorted({code for _, code in mapping.codes.by_coding})
    alternatives = [f'"({"|".join(_escaped(c) for c in codes)})"'] if codes else []
    alternatives += ['"medicationReference"', f'"{_escaped(LOCAL_SYSTEM_PREFIX)}']
    return "|".join(alternatives)


def scope_pattern(mapping: FhirMapping) -> str:
    """The codes that can put a patient in a worklist's population — a dermatomyositis diagnosis,
    an anti-Mi-2 result (:func:`~myositis_cds.services.population.mentions_population`) — as JSON
    strings: a patient whose lines read contain none of them cannot be in it (the local codes are
    the vocabulary names themselves)."""
    wanted = {("diagnosis", name) for name in DM_DIAGNOSES} | {
        ("antibody", name) for name in MI2_TARGETS}
    codes = {code for (_, code), meaning in mapping.codes.by_coding.items() if meaning in wanted}
    codes |= {name for _, name in wanted} | {alias for alias, target in ANTIBODY_ALIASES.items()
                                            if target in MI2_TARGETS}
    return f'"({"|".join(_escaped(c) for c in sorted(codes))})"'


def sql_literal(text: str) -> str:
    """``text`` as a standard SQL string literal (DuckDB: backslashes are not escapes)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class LineFilter:
    """The read / not read test of one site's code tables, for every engine."""

    codes: str
    """:func:`code_pattern` of the site's mapping."""
    scope: str = '"()"'
    """:func:`scope_pattern` of the site's mapping."""
    _type: re.Pattern[bytes] = field(init=False, repr=False, compare=False)
    _wanted: re.Pattern[bytes] = field(init=False, repr=False, compare=False)
    _scope: re.Pattern[str] = field(init=False, repr=False, compare=False)

    @classmethod
    def of(cls, mapping: FhirMapping) -> LineFilter:
        return cls(code_pattern(mapping), scope_pattern(mapping))

    def __post_init__(self) -> None:
        object.__setattr__(self, "_type", re.compile(TYPE_PATTERN.encode()))
        object.__setattr__(self, "_wanted", re.compile(self.wanted.encode()))
        object.__setattr__(self, "_scope", re.compile(self.scope))

    def __reduce__(self) -> tuple[type[LineFilter], tuple[str, str]]:
        return (LineFilter, (self.codes, self.scope))

    @property
    def wanted(self) -> str:
        """:data:`ALWAYS_READ_PATTERN` or :attr:`codes`, as one expression (one scan of a line)."""
        return f"{ALWAYS_READ_PATTERN}|{self.codes}"

    def may_be_in_population(self, texts: Iterable[str | bytes]) -> bool:
        """False only when no text names a code that can put the patient in the population."""
        return any(self._scope.search(t if isinstance(t, str) else t.decode("utf-8", "replace"))
                   for t in texts)

    def reads(self, line: bytes) -> bool:
        """Whether the local engine reads this NDJSON line (see the module docstring)."""
        return self._type.search(line) is not None and self._wanted.search(line) is not None

    def duckdb_sql(self, column: str) -> str:
        """The same test as a DuckDB boolean expression on the text column ``column``."""
        return (f"(regexp_matches({column}, {sql_literal(TYPE_PATTERN)}) AND "
                f"regexp_matches({column}, {sql_literal(self.wanted)}))")
