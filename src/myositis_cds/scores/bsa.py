"""Body-surface area by the Mosteller formula. Citation key: MOSTELLER-1987; clinical-reference §5.3.

BSA (m²) = √(height cm × weight kg / 3600).
"""

from __future__ import annotations

import math

__all__ = ["MOSTELLER_DIVISOR", "mosteller_bsa"]

MOSTELLER_DIVISOR = 3600.0
"""The constant of the Mosteller formula (cm·kg per m⁴)."""


def mosteller_bsa(*, height_cm: float, weight_kg: float) -> float:
    """Body-surface area in m²; height and weight must be positive and finite (not NaN)."""
    if not (0 < height_cm < math.inf and 0 < weight_kg < math.inf):
        msg = (f"height_cm and weight_kg must be positive finite numbers, got {height_cm!r} "
               f"and {weight_kg!r}")
        raise ValueError(msg)
    return math.sqrt(height_cm * weight_kg / MOSTELLER_DIVISOR)
