"""What a site tells the FHIR importer beyond the code tables: default ULNs, dose strengths, lab
unit spellings and where a diagnosis date is read from.

A :class:`FhirMapping` is built by the site configuration (:mod:`myositis_cds.adapters.site`) and
handed to every reader of FHIR data — ``import-fhir``, the worklist engines, the CDS Hooks service
and the SMART launch — so that one export means the same record everywhere. Nothing here is a
clinical number: a default ULN, a tablet's strength or a unit spelling is the site's own fact,
written in its file; without one the importer leaves the value out and counts why (never guesses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from myositis_cds.adapters.fhir.codes import FhirCodes, load_codes

__all__ = [
    "COUNT_UNITS",
    "DEFAULT_DIAGNOSIS_DATE_ORDER",
    "DIAGNOSIS_DATE_SOURCES",
    "DoseStrength",
    "FhirMapping",
    "LabDefault",
    "LabUnit",
]

DIAGNOSIS_DATE_SOURCES: Final = ("recordedDate", "onsetDateTime", "onsetPeriod.start")
"""The Condition elements a diagnosis date may be read from."""
DEFAULT_DIAGNOSIS_DATE_ORDER: Final = ("recordedDate", "onsetDateTime", "onsetPeriod.start")
"""The first of these that a diagnosis Condition carries is the record's ``diagnosis.date``.

``recordedDate`` first, because it is what the exporter writes (an exported record reads back
identical); a Condition with only an onset (Synthea, many problem lists) still gets a date. A site
whose problem lists were migrated (``recordedDate`` = the migration day) puts the onset first."""
COUNT_UNITS: Final = frozenset({"", "1", "{tbl}", "{tablet}", "{tablets}", "{cap}", "{capsule}",
                                "tablet", "tablets", "tab", "tabs", "TAB", "capsule", "capsules",
                                "cap", "CAP"})
"""Spellings of "one unit of the dispensed form" in a doseQuantity (none at all included): such a
dose becomes mg only through the strength the site gives for the medication's code."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LabDefault:
    """A lab's upper limit of normal used when a result carries no ``referenceRange.high``."""

    uln: float
    unit: str
    """The record unit it is in (a result in another unit gets no default)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DoseStrength:
    """One unit of a medication product (a tablet, a capsule) holds ``amount`` ``unit``."""

    amount: float
    unit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LabUnit:
    """A site's spelling of a lab unit: value × ``factor`` is in the record unit ``unit``."""

    unit: str
    factor: float


def _frozen(mapping: Mapping[object, object]) -> MappingProxyType[object, object]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True, kw_only=True)
class FhirMapping:
    """Code tables plus the site's facts the importer needs (see the module docstring)."""

    codes: FhirCodes = field(default_factory=load_codes)
    lab_defaults: Mapping[str, LabDefault] = field(default_factory=dict)
    """Lab test name → its default ULN."""
    dose_strengths: Mapping[tuple[str, str], DoseStrength] = field(default_factory=dict)
    """(system, code) of a medication coding → the strength of one unit of it."""
    lab_units: Mapping[tuple[str, str], LabUnit] = field(default_factory=dict)
    """(lab test name, unit as written) → the record unit and the factor to it."""
    diagnosis_date_order: tuple[str, ...] = DEFAULT_DIAGNOSIS_DATE_ORDER

    def __post_init__(self) -> None:
        for name in ("lab_defaults", "dose_strengths", "lab_units"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        unknown = [s for s in self.diagnosis_date_order if s not in DIAGNOSIS_DATE_SOURCES]
        if unknown or not self.diagnosis_date_order:
            msg = (f"diagnosis_date_order: got {list(self.diagnosis_date_order)!r}; expected "
                   f"some of {', '.join(DIAGNOSIS_DATE_SOURCES)}")
            raise ValueError(msg)

    def strength_of(self, codings: list[tuple[str, str]]) -> DoseStrength | None:
        """The strength the site gives for the first of ``codings`` (system, code) it lists."""
        for coding in codings:
            found = self.dose_strengths.get(coding)
            if found is not None:
                return found
        return None
