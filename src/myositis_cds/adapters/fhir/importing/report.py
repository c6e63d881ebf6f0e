"""What a FHIR import could not map: counted per (resource type, reason, code), never dropped silently.

The report holds no patient data: no identifiers, no values, no dates, no free text — only the
resource type, the coding (system, code and the terminology's display of the first coding seen)
and the reason. Reasons are stable snake_case words, listed in :data:`REASONS` and in docs/fhir.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["REASONS", "REPORT_FORMAT", "UnmappedReport"]

REPORT_FORMAT: Final = "myositis-cds/fhir-unmapped@1"
EXAMPLES_PER_GROUP: Final = 5

REASONS: Final[Mapping[str, str]] = {
    "unsupported_resource_type": "a resource type the importer does not read",
    "no_patient": "the resource references no patient (or one outside the bundle/export)",
    "unknown_code": "no coding of the resource is in the code tables",
    "no_coding": "the concept has no coding (text only)",
    "unit_not_accepted": "the value's unit is not one the record accepts for this code",
    "missing_value": "the resource has no usable value",
    "missing_date": "the resource has no usable full date (YYYY-MM-DD)",
    "partial_date": "a date with only a year or a year and month",
    "status_excluded": "the status says it did not happen or was entered in error",
    "unknown_result": "an antibody result that is neither positive, negative nor borderline",
    "uln_unit_mismatch": "the reference range's upper limit has a different unit (ULN left out)",
    "superseded_diagnosis": "another diagnosis Condition was more recent (the record holds one)",
    "ended_without_date": "a resolved condition or a stopped/completed treatment without an end date",
    "censored_value": "a value with a comparator (<, >, ≤, ≥): not an exact result",
    "unknown_gender": "a Patient.gender outside male, female, other, unknown",
    "no_patient_resource": "resources reference a patient whose Patient resource is absent",
    "duplicate_patient": "a second Patient resource with the same id (the first is kept)",
    "duplicate_resource": "a second resource of the same type and id (the first is kept)",
    "invalid_value": "an item the record validator refused (left out; see the record errors)",
    "invalid_record": "a whole record the validator refused (not imported)",
    "unresolved_medication": "a medicationReference to no Medication resource in the import",
    "invalid_json": "a line or file that is not a JSON object",
    "duplicate_value": "the same measurement again (same code, date and value): counted once",
    "conflicting_values": "resources give different values for one measurement on one date: "
                          "all of them left out (never one picked)",
    "uln_site_default": "no referenceRange.high: the site's default ULN for the test was used",
    "dose_site_strength": "a dose in tablets (or no unit) converted with the site's strength of "
                          "the product",
    "dose_unit_unknown": "a dose in tablets (or no unit) for a product whose strength the site "
                         "does not give: the dose is left out (the treatment is kept)",
}


@dataclass(slots=True)
class _Group:
    count: int = 0
    codes: dict[tuple[str | None, str | None], list[Any]] = field(default_factory=dict)
    """(system, code) → [count, display]."""


@dataclass(slots=True)
class UnmappedReport:
    """Counts of everything not mapped; mutable while an import runs (``add``, ``merge``)."""

    groups: dict[tuple[str, str], _Group] = field(default_factory=dict)

    def add(self, resource_type: str, reason: str, *, system: str | None = None,
            code: str | None = None, display: str | None = None, count: int = 1) -> None:
        """Count one unmapped resource or element (``reason`` is a key of :data:`REASONS`)."""
        if reason not in REASONS:
            msg = f"reason: got {reason!r}; expected one of {', '.join(REASONS)}"
            raise ValueError(msg)
        group = self.groups.get((resource_type, reason))
        if group is None:
            group = self.groups[(resource_type, reason)] = _Group()
        group.count += count
        entry = group.codes.get((system, code))
        if entry is None:
            group.codes[(system, code)] = [count, display]
        else:
            entry[0] += count
            if entry[1] is None:
                entry[1] = display

    def merge(self, other: UnmappedReport) -> None:
        """Add every count of ``other`` into this report (in place)."""
        for (resource_type, reason), group in other.groups.items():
            for (system, code), (count, display) in group.codes.items():
                self.add(resource_type, reason, system=system, code=code, display=display,
                         count=count)

    @property
    def total(self) -> int:
        return sum(group.count for group in self.groups.values())

    def count(self, resource_type: str, reason: str, *, system: str | None = None,
              code: str | None = None) -> int:
        """How many of one (resource type, reason), or of one code within it if given."""
        group = self.groups.get((resource_type, reason))
        if group is None:
            return 0
        if system is None and code is None:
            return group.count
        entry = group.codes.get((system, code))
        return 0 if entry is None else int(entry[0])

    def __bool__(self) -> bool:
        return bool(self.groups)

    def to_dict(self, *, examples: int = EXAMPLES_PER_GROUP) -> dict[str, Any]:
        """JSON form: groups by count (largest first), each with its ``examples`` commonest codes."""
        out = []
        for (resource_type, reason), group in sorted(
                self.groups.items(), key=lambda item: (-item[1].count, item[0])):
            codes = sorted(group.codes.items(),
                           key=lambda item: (-item[1][0], item[0][0] or "", item[0][1] or ""))
            out.append({
                "resource_type": resource_type, "reason": reason,
                "description": REASONS[reason], "count": group.count,
                "distinct_codes": len(group.codes),
                "examples": [
                    {"system": system, "code": code, "display": display, "count": count}
                    for (system, code), (count, display) in codes
                    if system is not None or code is not None or display is not None][:examples],
            })
        return {"format": REPORT_FORMAT, "total": self.total, "groups": out}

    def to_text(self) -> str:
        """A few lines for a terminal."""
        data = self.to_dict(examples=3)
        if not data["groups"]:
            return "FHIR import: everything was mapped\n"
        lines = [f"FHIR import: {data['total']} item(s) not mapped"]
        for group in data["groups"]:
            lines.append(f"  {group['count']:>7}  {group['resource_type']}: {group['reason']} "
                         f"({group['description']})")
            for example in group["examples"]:
                shown = "" if example["code"] is None else f"{example['system']}|{example['code']}"
                if example["display"]:
                    shown += f" {example['display']!r}"
                lines.append(f"           {example['count']:>6} × {shown}")
        return "\n".join(lines) + "\n"
