"""The record being assembled from one patient's resources, and the unmapped report beside it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from myositis_cds.adapters.fhir.codes import Category, FhirCodes
from myositis_cds.adapters.fhir.elements import codings, day_of, period_bounds
from myositis_cds.adapters.fhir.importing.report import UnmappedReport
from myositis_cds.adapters.fhir.mapping import FhirMapping

__all__ = ["Concept", "Draft"]

Coding3 = tuple[str | None, str | None, str | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Concept:
    """A concept found in the tables: its category, its record name and the coding that matched."""

    category: Category
    name: str
    system: str
    code: str
    display: str | None


@dataclass(slots=True)
class Draft:
    """Lists of ``patient-record@1`` items under construction (dicts), plus what was not mapped."""

    mapping: FhirMapping
    report: UnmappedReport = field(default_factory=UnmappedReport)
    medications: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    body_measurements: list[dict[str, Any]] = field(default_factory=list)
    antibodies: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    labs: list[dict[str, Any]] = field(default_factory=list)
    assessments: list[dict[str, Any]] = field(default_factory=list)
    treatments: list[dict[str, Any]] = field(default_factory=list)
    investigations: list[dict[str, Any]] = field(default_factory=list)
    diagnoses: list[tuple[str, dict[str, Any], Concept]] = field(default_factory=list)
    """(sort key: the later date, the diagnosis item, its concept)."""
    origins: dict[int, tuple[str, Concept]] = field(default_factory=dict)
    """id(item) → (resource type, concept) it came from (to name it if the validator refuses it)."""
    by_date: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(list name, date) → the body measurement or visit of that date (one per date)."""
    conflicts: set[tuple[str, str, str]] = field(default_factory=set)
    """(list name, measure, date) of merged values (a visit's measure, a body measurement) that
    two resources gave differently: left out of the record when it is assembled."""

    @property
    def codes(self) -> FhirCodes:
        return self.mapping.codes

    def add(self, name: str, item: dict[str, Any], resource_type: str, concept: Concept) -> None:
        """Append ``item`` to the list ``name`` and remember where it came from."""
        getattr(self, name).append(item)
        self.origins[id(item)] = (resource_type, concept)

    def conflict(self, name: str, measure: str, day: str, concept: Concept) -> None:
        """A second Observation contradicts a merged value: every Observation of it is counted
        (the first one too, once) and the value is left out when the record is assembled."""
        if (name, measure, day) not in self.conflicts:
            self.conflicts.add((name, measure, day))
            self.unmapped("Observation", "conflicting_values", concept)
        self.unmapped("Observation", "conflicting_values", concept)

    def unmapped(self, resource_type: str, reason: str, coding: Coding3 | Concept | None = None,
                 *, display: str | None = None) -> None:
        """Count one unmapped item, with its coding (never a value or an identifier)."""
        if isinstance(coding, Concept):
            self.report.add(resource_type, reason, system=coding.system, code=coding.code,
                            display=display or coding.display)
        elif coding is not None:
            self.report.add(resource_type, reason, system=coding[0], code=coding[1],
                            display=display or coding[2])
        else:
            self.report.add(resource_type, reason, display=display)

    def resolve(self, resource_type: str, concept: object, *categories: Category,
                report: bool = True) -> Concept | None:
        """The first coding of ``concept`` that the tables map into one of ``categories``.

        When none does, the first coding is counted as ``unknown_code`` (``no_coding`` if the
        concept has none) unless ``report`` is false.
        """
        raw = concept.get("coding") if isinstance(concept, dict) else None
        if isinstance(raw, list):
            for coding in raw:  # the hot path: no intermediate tuples
                if not isinstance(coding, dict):
                    continue
                system, code = coding.get("system"), coding.get("code")
                if not isinstance(system, str) or not isinstance(code, str):
                    continue
                meaning = self.codes.lookup(system, code)
                if meaning is not None and meaning[0] in categories:
                    display = coding.get("display")
                    return Concept(category=meaning[0], name=meaning[1], system=system, code=code,
                                   display=display if isinstance(display, str) else None)
        if report:
            found = codings(concept)
            if found:
                self.unmapped(resource_type, "unknown_code", found[0])
            else:
                self.unmapped(resource_type, "no_coding")
        return None

    def day(self, resource_type: str, value: object, concept: Concept | None) -> str | None:
        """A full date, or None after counting ``missing_date``/``partial_date``."""
        day, partial = day_of(value)
        if day is None:
            self.unmapped(resource_type, "partial_date" if partial else "missing_date", concept)
        return day

    def effective_day(self, resource: Mapping[str, Any], concept: Concept | None) -> str | None:
        """effectiveDateTime, effectiveInstant or effectivePeriod.start (Observation, report)."""
        value = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
        if value is None:
            value = period_bounds(resource.get("effectivePeriod"))[0]
        return self.day(str(resource.get("resourceType")), value, concept)
