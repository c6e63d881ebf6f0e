"""Unit conversion to the record's canonical units, and body-surface area by Mosteller (§5.3)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from myositis_cds.domain.units import (
    CM_PER_INCH,
    ENZYME_UNITS,
    KG_PER_POUND,
    U_PER_L_PER_UKAT_PER_L,
    cm_to_inches,
    exact,
    inches_to_cm,
    kg_to_pounds,
    pounds_to_kg,
    u_per_l_to_ukat_per_l,
    ukat_per_l_to_u_per_l,
)
from myositis_cds.scores.bsa import MOSTELLER_DIVISOR, mosteller_bsa

# Positive magnitudes far beyond any clinical value, but away from subnormals (where a float has
# too few digits left for a relative tolerance to mean anything).
magnitudes = st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False)
Conversion = Callable[[float], float]
PAIRS: list[tuple[Conversion, Conversion]] = [
    (pounds_to_kg, kg_to_pounds),
    (kg_to_pounds, pounds_to_kg),
    (inches_to_cm, cm_to_inches),
    (cm_to_inches, inches_to_cm),
    (ukat_per_l_to_u_per_l, u_per_l_to_ukat_per_l),
    (u_per_l_to_ukat_per_l, ukat_per_l_to_u_per_l),
]


@pytest.mark.parametrize(("there", "back"), PAIRS, ids=lambda f: f.__name__)
@given(value=magnitudes)
def test_round_trip(there: Conversion, back: Conversion, value: float) -> None:
    assert math.isclose(back(there(value)), value, rel_tol=1e-12)


@pytest.mark.parametrize(("there", "back"), PAIRS, ids=lambda f: f.__name__)
def test_zero_round_trips(there: Conversion, back: Conversion) -> None:
    assert back(there(0.0)) == 0.0


@given(a=magnitudes, b=magnitudes)
def test_conversions_are_monotone(a: float, b: float) -> None:
    low, high = sorted((a, b))
    for convert, _ in PAIRS:
        assert convert(low) <= convert(high)


def test_factors_are_the_exact_definitions() -> None:
    assert str(KG_PER_POUND) == "0.45359237"
    assert str(CM_PER_INCH) == "2.54"
    assert U_PER_L_PER_UKAT_PER_L == 60
    assert set(ENZYME_UNITS) == {"U/L", "µkat/L", "μkat/L", "ukat/L"}  # micro sign and Greek mu
    assert ENZYME_UNITS["U/L"] == 1
    assert ENZYME_UNITS["µkat/L"] == ENZYME_UNITS["μkat/L"] == ENZYME_UNITS["ukat/L"] == 60


def test_known_values_exactly() -> None:
    assert pounds_to_kg(150) == 68.0388555
    assert pounds_to_kg(150.0) == 68.0388555
    assert kg_to_pounds(68.0388555) == 150.0
    assert pounds_to_kg(1) == 0.45359237
    assert inches_to_cm(70) == 177.8
    assert cm_to_inches(177.8) == 70.0
    assert inches_to_cm(65) == 165.1
    assert ukat_per_l_to_u_per_l(1) == 60.0
    assert ukat_per_l_to_u_per_l(3.3) == 198.0
    assert u_per_l_to_ukat_per_l(60) == 1.0
    assert u_per_l_to_ukat_per_l(198) == 3.3


def test_decimal_avoids_the_float_products() -> None:
    # The naive float arithmetic misses the decimal answer; the conversions do not.
    assert 4.1 * 60 != 246.0
    assert 5.1 * 2.54 != 12.954
    assert 12.954 / 2.54 != 5.1
    assert ukat_per_l_to_u_per_l(4.1) == 246.0
    assert inches_to_cm(5.1) == 12.954
    assert cm_to_inches(12.954) == 5.1


def test_exact_reads_the_written_decimal() -> None:
    assert str(exact(0.1)) == "0.1"
    assert str(exact(150)) == "150"


# Mosteller: BSA (m²) = √(height cm × weight kg / 3600).

@pytest.mark.parametrize(
    ("height_cm", "weight_kg", "bsa"),
    [(180, 80, 2.0), (180.0, 80.0, 2.0), (160, 90, 2.0), (100, 36, 1.0), (150, 54, 1.5), (120, 30, 1.0)],
)
def test_mosteller_exact_values(height_cm: float, weight_kg: float, bsa: float) -> None:
    assert mosteller_bsa(height_cm=height_cm, weight_kg=weight_kg) == bsa


def test_mosteller_divisor() -> None:
    assert MOSTELLER_DIVISOR == 3600


def test_mosteller_typical_adult() -> None:
    assert mosteller_bsa(height_cm=170, weight_kg=70) == pytest.approx(1.8181, abs=1e-4)


@given(
    height=st.floats(min_value=30, max_value=250, allow_nan=False),
    weight=st.floats(min_value=1, max_value=300, allow_nan=False),
)
def test_mosteller_squared_is_the_product_over_3600(height: float, weight: float) -> None:
    bsa = mosteller_bsa(height_cm=height, weight_kg=weight)
    assert bsa > 0
    assert math.isclose(bsa * bsa, height * weight / 3600, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("height_cm", "weight_kg"),
    [(0, 70), (170, 0), (0, 0), (-170, 70), (170, -70), (-1, -1), (-0.0, 70)],
)
def test_mosteller_refuses_non_positive_inputs(height_cm: float, weight_kg: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        mosteller_bsa(height_cm=height_cm, weight_kg=weight_kg)


@pytest.mark.parametrize(
    ("height_cm", "weight_kg"), [(math.nan, 70), (170, math.nan), (math.inf, 70), (170, math.inf)]
)
def test_mosteller_refuses_non_finite_inputs(height_cm: float, weight_kg: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        mosteller_bsa(height_cm=height_cm, weight_kg=weight_kg)
