"""Unit conversion to the canonical units of the record (kg, cm, U/L).

Factors are exact definitions, computed with :class:`decimal.Decimal` from the decimal text of the
input so that 150 lb gives the same kilograms every time and conversions round-trip:
- 1 lb = 0.45359237 kg (international pound, exact by definition);
- 1 in = 2.54 cm (international inch, exact by definition);
- 1 µkat/L = 60 U/L (``patient-record.md``: 1 µmol/s = 60 µmol/min);
- haemoglobin and albumin g/dL × 10 = g/L; creatinine mg/dL × 88.4 = µmol/L (clinical-reference §15).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

__all__ = [
    "CM_PER_INCH",
    "COUNT_UNITS",
    "ENZYME_UNITS",
    "KG_PER_POUND",
    "LAB_UNITS",
    "U_PER_L_PER_UKAT_PER_L",
    "cm_to_inches",
    "exact",
    "inches_to_cm",
    "kg_to_pounds",
    "pounds_to_kg",
    "u_per_l_to_ukat_per_l",
    "ukat_per_l_to_u_per_l",
]

KG_PER_POUND: Final = Decimal("0.45359237")
CM_PER_INCH: Final = Decimal("2.54")
U_PER_L_PER_UKAT_PER_L: Final = Decimal(60)

# Accepted spellings of the enzyme units, mapped to the factor that converts them to U/L.
ENZYME_UNITS: Final = {"U/L": Decimal(1), "µkat/L": U_PER_L_PER_UKAT_PER_L,
                       "μkat/L": U_PER_L_PER_UKAT_PER_L, "ukat/L": U_PER_L_PER_UKAT_PER_L}
# Cell counts: every spelling below is the same unit (10⁹ cells per litre).
COUNT_UNITS: Final = {"10^9/L": Decimal(1), "10*9/L": Decimal(1), "×10⁹/L": Decimal(1),
                      "x10^9/L": Decimal(1), "G/L": Decimal(1)}
_GRAMS_PER_LITRE: Final = {"g/L": Decimal(1), "g/dL": Decimal(10)}
_MICROMOL_PER_LITRE: Final = {"µmol/L": Decimal(1), "μmol/L": Decimal(1), "umol/L": Decimal(1),
                              "mg/dL": Decimal("88.4")}

LAB_UNITS: Final = {
    **dict.fromkeys(("CK", "aldolase", "AST", "ALT", "LDH", "GGT"), ("U/L", ENZYME_UNITS)),
    **dict.fromkeys(("wbc", "neutrophils", "platelets"), ("10^9/L", COUNT_UNITS)),
    "haemoglobin": ("g/L", _GRAMS_PER_LITRE),
    "creatinine": ("µmol/L", _MICROMOL_PER_LITRE),
    "albumin": ("g/L", _GRAMS_PER_LITRE),
}
"""Tests with a known unit: (canonical unit, accepted spellings → factor to the canonical unit).
Other tests are accepted and kept as recorded (``patient-record.md``)."""


def exact(value: float) -> Decimal:
    """The decimal a float was written as (``0.1`` → ``Decimal('0.1')``, not its binary expansion)."""
    return Decimal(repr(value))


def pounds_to_kg(pounds: float) -> float:
    return float(exact(pounds) * KG_PER_POUND)


def kg_to_pounds(kg: float) -> float:
    return float(exact(kg) / KG_PER_POUND)


def inches_to_cm(inches: float) -> float:
    return float(exact(inches) * CM_PER_INCH)


def cm_to_inches(cm: float) -> float:
    return float(exact(cm) / CM_PER_INCH)


def ukat_per_l_to_u_per_l(value: float) -> float:
    return float(exact(value) * U_PER_L_PER_UKAT_PER_L)


def u_per_l_to_ukat_per_l(value: float) -> float:
    return float(exact(value) / U_PER_L_PER_UKAT_PER_L)
