"""Plausibility ranges of record values (clinical-reference §12.4, setting ``plausibility``).

A value outside its inclusive range is refused at the edge, naming the field, the value and the
range; the ranges are in the record's canonical units (kg, cm, U/L, ×10⁹/L, g/L, µmol/L), so a
weight in pounds is checked after conversion. A site may widen a bound through its settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from myositis_cds.knowledge.pack import Range, load_pack
from myositis_cds.knowledge.settings import Settings, resolve_settings

__all__ = ["PLAUSIBILITY_SETTING", "Plausibility", "default_plausibility"]

PLAUSIBILITY_SETTING = "plausibility"
_UNITS = {
    "weight_kg": "kg", "height_cm": "cm", "mi2_titer": "", "enzyme_uln": "U/L",
    "wbc": "×10⁹/L", "neutrophils": "×10⁹/L", "platelets": "×10⁹/L", "haemoglobin": "g/L",
    "creatinine": "µmol/L", "albumin": "g/L",
}


@dataclass(frozen=True, slots=True)
class Plausibility:
    """Inclusive ``[low, high]`` per quantity; ``enzyme_uln`` is exclusive at its low end (ULN > 0)."""

    ranges: Mapping[str, Range]

    @classmethod
    def from_settings(cls, settings: Settings) -> Plausibility:
        raw = settings.get(PLAUSIBILITY_SETTING)
        assert isinstance(raw, Mapping)
        return cls(MappingProxyType({key: settings.table_range(PLAUSIBILITY_SETTING, key)
                                     for key in raw}))

    def range_of(self, quantity: str) -> Range | None:
        return self.ranges.get(quantity)

    def unit_of(self, quantity: str) -> str:
        return _UNITS.get(quantity, "U/L")

    def describe(self, quantity: str) -> str:
        """``"between 0.3 and 400 kg"``: the expectation an error shows."""
        low, high = (_number(v) for v in self.ranges[quantity])
        unit = self.unit_of(quantity)
        suffix = f" {unit}" if unit else ""
        if quantity == "enzyme_uln":
            return f"a ULN above {low} and at most {high}{suffix} (setting plausibility)"
        return f"a value between {low} and {high}{suffix} (setting plausibility)"

    def hint(self, quantity: str) -> str:
        """``"plausible: 0.3–400 kg"``: the range a form shows next to its field before submit
        (``""`` for a quantity without a range). The submitted record is still checked."""
        bounds = self.ranges.get(quantity)
        if bounds is None:
            return ""
        low, high = (_number(v) for v in bounds)
        unit = self.unit_of(quantity)
        suffix = f" {unit}" if unit else ""
        if quantity == "enzyme_uln":
            return f"plausible: above {low}, up to {high}{suffix}"
        return f"plausible: {low}–{high}{suffix}"

    def accepts(self, quantity: str, value: float) -> bool:
        bounds = self.ranges.get(quantity)
        if bounds is None:
            return True
        low, high = bounds
        if quantity == "enzyme_uln":
            return low < value <= high
        return low <= value <= high


def _number(value: float) -> str:
    """400 → "400", 5e6 → "5,000,000", 0.3 → "0.3"."""
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


@cache
def default_plausibility() -> Plausibility:
    """The embedded pack's ranges (used when no site settings are given)."""
    pack = load_pack()
    return Plausibility.from_settings(resolve_settings(pack))
