"""Unit conversion to the canonical units of the record (kg, cm, U/L).

Factors are exact definitions, computed with :class:`decimal.Decimal` from the decimal text of the
input so that 150 lb gives the same kilograms every time and conversions round-trip:
- 1 lb = 0.45359237 kg (international pound, exact by definition);
- 1 in = 2.54 cm (international inch, exact by definition);
- 1 µkat/L = 60 U/L (``patient-record.md``: 1 µmol/s = 60 µmol/min).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

__all__ = [
    "CM_PER_INCH",
    "ENZYME_UNITS",
    "KG_PER_POUND",
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
