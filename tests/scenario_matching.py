"""Fragment matching of an assessment (``myositis-cds/assessment@1``) against a scenario's ``expect``.

Rules (see ``tests/scenarios/README.md``):

- A dict in ``expect`` matches if each of its keys matches the same key of the actual value
  (recursively); keys the fragment does not name are not checked.
- A list in ``expect`` must equal the actual list exactly (same length, same order, and every
  element equal, dicts with exactly the same keys).
- Keyed collections are written in ``expect`` as an object keyed by their id instead of a list:
  ``alerts``, ``alerts_not_evaluable`` and ``workup`` (key ``id``), ``treatment_plan.regimens``
  (key ``drug``), ``response.tis.measures`` (key ``measure``). In a keyed collection ``null``
  means "no element with this id" and a dict is matched as a fragment against the element with
  that id. (Writing a list there instead compares the whole list exactly, e.g. ``"alerts": []``.)
- Scalars compare with ``==`` and no tolerance; a bool only equals a bool (``true`` is not ``1``),
  and ``null`` only equals ``null``.

:func:`find_mismatches` returns every mismatch with its path (e.g.
``$.alerts[id=ALERT-SCREEN-AGE40].severity``) and both values; :func:`assert_matches` raises an
``AssertionError`` listing them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["KEYED_COLLECTIONS", "MISSING", "Mismatch", "assert_matches", "find_mismatches"]

KEYED_COLLECTIONS: Final[Mapping[tuple[str, ...], tuple[str, ...]]] = {
    ("alerts",): ("id", "drug"),
    ("alerts_not_evaluable",): ("id",),
    ("workup",): ("id",),
    ("treatment_plan", "regimens"): ("drug",),
    ("treatment_plan", "actions"): ("action", "drug", "agent_class"),
    ("safety",): ("id", "drug"),
    ("current_therapy", "agents"): ("drug",),
    ("response", "tis", "measures"): ("measure",),
}
"""Key path (dict keys from the root of the output) of each keyed collection, and the fields whose
non-null values, joined by a space, are an element's key (``ALERT-DOSE-CHECK methotrexate``,
``continue prednisone``, ``add second_line``, ``SAFETY-PJP``)."""


class _Missing:
    """Marker for "no such key / element" in a mismatch report."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class Mismatch:
    path: str
    expected: object
    actual: object
    problem: str = "values differ"

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}: expected {self.expected!r}, actual {self.actual!r}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_equal(expected: object, actual: object) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected is actual
    if _is_number(expected) or _is_number(actual):
        return _is_number(expected) and _is_number(actual) and expected == actual
    if expected is None or actual is None:
        return expected is None and actual is None
    return type(expected) is type(actual) and expected == actual


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _exact(expected: object, actual: object, path: str, out: list[Mismatch]) -> None:
    """Exact equality (used inside lists): dicts must have the same keys, lists the same length."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            out.append(Mismatch(path, expected, actual, "expected an object"))
            return
        for key in expected:
            if key not in actual:
                out.append(Mismatch(f"{path}.{key}", expected[key], MISSING, "key missing"))
            else:
                _exact(expected[key], actual[key], f"{path}.{key}", out)
        out.extend(Mismatch(f"{path}.{key}", MISSING, actual[key], "unexpected key")
                   for key in actual if key not in expected)
        return
    if _is_list(expected):
        _exact_list(expected, actual, path, out)  # type: ignore[arg-type]
        return
    if not _scalar_equal(expected, actual):
        out.append(Mismatch(path, expected, actual))


def _exact_list(expected: Sequence[object], actual: object, path: str, out: list[Mismatch]) -> None:
    if not _is_list(actual):
        out.append(Mismatch(path, expected, actual, "expected a list"))
        return
    items: Sequence[object] = actual  # type: ignore[assignment]
    if len(expected) != len(items):
        out.append(Mismatch(path, expected, actual,
                            f"list length differs ({len(expected)} expected, {len(items)} actual)"))
        return
    for index, (want, got) in enumerate(zip(expected, items, strict=True)):
        _exact(want, got, f"{path}[{index}]", out)


def _key_of(element: object, fields: tuple[str, ...]) -> object:
    if not isinstance(element, Mapping) or fields[0] not in element:
        return MISSING
    return " ".join(str(element[f]) for f in fields if element.get(f) is not None)


def _keyed(expected: Mapping[str, object], actual: object, fields: tuple[str, ...], path: str,
           out: list[Mismatch]) -> None:
    id_field = fields[0]  # shown in paths: $.alerts[id=ALERT-DOSE-CHECK methotrexate]
    if not _is_list(actual):
        out.append(Mismatch(path, expected, actual, f"expected a list keyed by {id_field!r}"))
        return
    by_id: dict[object, list[object]] = {}
    for element in actual:  # type: ignore[attr-defined]
        by_id.setdefault(_key_of(element, fields), []).append(element)
    for key, fragment in expected.items():
        where = f"{path}[{id_field}={key}]"
        found = by_id.get(key, [])
        if fragment is None:
            if found:
                out.append(Mismatch(where, None, found[0], "must not be present"))
            continue
        if not found:
            present = sorted(str(k) for k in by_id)
            out.append(Mismatch(where, fragment, MISSING, f"not present (present: {present})"))
            continue
        if len(found) > 1:
            out.append(Mismatch(where, fragment, found, f"{len(found)} elements with this {id_field}"))
            continue
        _fragment(fragment, found[0], where, None, out)


def _fragment(expected: object, actual: object, path: str, keys: tuple[str, ...] | None,
              out: list[Mismatch]) -> None:
    """Fragment match; ``keys`` is the dict-key path from the root, ``None`` inside a collection."""
    id_field = KEYED_COLLECTIONS.get(keys) if keys is not None else None
    if id_field is not None and isinstance(expected, Mapping):
        _keyed(expected, actual, id_field, path, out)
        return
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            out.append(Mismatch(path, expected, actual, "expected an object"))
            return
        for key, value in expected.items():
            where = f"{path}.{key}"
            if key not in actual:
                out.append(Mismatch(where, value, MISSING, "key missing"))
            else:
                _fragment(value, actual[key], where, None if keys is None else (*keys, key), out)
        return
    if _is_list(expected):
        _exact_list(expected, actual, path, out)  # type: ignore[arg-type]
        return
    if not _scalar_equal(expected, actual):
        out.append(Mismatch(path, expected, actual))


def find_mismatches(expected: object, actual: object) -> list[Mismatch]:
    """Every way ``actual`` (an assessment as JSON data) fails the fragment ``expected``."""
    out: list[Mismatch] = []
    _fragment(expected, actual, "$", (), out)
    return out


def assert_matches(expected: object, actual: object) -> None:
    """Raise ``AssertionError`` naming the path and both values of every mismatch."""
    mismatches = find_mismatches(expected, actual)
    if mismatches:
        lines = "\n".join(f"  {m}" for m in mismatches)
        msg = f"{len(mismatches)} mismatch(es):\n{lines}"
        raise AssertionError(msg)
