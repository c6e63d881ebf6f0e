"""Duplicate measurements collapsed, contradictory ones left out (never one picked).

EHR exports repeat themselves: the same result arrives from two interfaces, a vital sign is copied
into every encounter of the day. A repeat (same code, same date, same value) is counted
``duplicate_value`` and kept once. Two resources that give *different* values for one measurement
on one date (a height of 66.9 in and 25 cm, a Mi-2 positive and negative the same day) contradict
each other: the record cannot hold both and the importer must not choose, so every item of that
measurement and date is left out and counted ``conflicting_values`` (what is missing is then not
evaluable, never taken as normal).

What one measurement is (its *slot*) and what must agree (its *value*):

==================  ==========================  ===========================================
list                slot                        value (optional fields merge when only one
                                                item gives them; two different ones conflict)
==================  ==========================  ===========================================
labs                test, date                  value, unit; optional ``uln``
antibodies          target, date                result; optional titer, unit, cutoff, method
findings            code, date                  present
treatments          the whole item              (identical items only; two different orders
                                                on one day are two treatments)
investigations      the whole item              (identical items only)
==================  ==========================  ===========================================

Body measurements and visit measures are merged per date as they are mapped
(:mod:`.observations`), where their duplicates and conflicts are found.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Final

from myositis_cds.adapters.fhir.importing.draft import Draft

__all__ = ["collapse_duplicates"]

Item = dict[str, Any]

_RULES: Final[dict[str, tuple[Callable[[Item], Hashable], tuple[str, ...], tuple[str, ...]]]] = {
    # list name: (slot, fields that must be equal, optional fields)
    "labs": (lambda i: (i["test"], i["date"]), ("value", "unit"), ("uln",)),
    "antibodies": (lambda i: (i["target"], i["date"]), ("result",),
                   ("titer", "unit", "cutoff", "method")),
    "findings": (lambda i: (i["code"], i["date"]), ("present",), ()),
    "treatments": (lambda i: tuple(sorted((k, repr(v)) for k, v in i.items())), (), ()),
    "investigations": (lambda i: tuple(sorted((k, repr(v)) for k, v in i.items())), (), ()),
}


def _merge(items: list[Item], required: tuple[str, ...],
           optional: tuple[str, ...]) -> Item | None:
    """One item standing for ``items`` of one slot, or None when they contradict each other."""
    first = items[0]
    if any(tuple(i.get(f) for f in required) != tuple(first.get(f) for f in required)
           for i in items[1:]):
        return None
    merged = dict(first)
    for name in optional:
        given = {repr(i[name]): i[name] for i in items if i.get(name) is not None}
        if len(given) > 1:
            return None
        if given:
            merged[name] = next(iter(given.values()))
    return merged


def _collapse(draft: Draft, name: str) -> None:
    items: list[Item] = getattr(draft, name)
    if len(items) < 2:
        return
    slot_of, required, optional = _RULES[name]
    slots: dict[Hashable, list[Item]] = {}
    for item in items:
        slots.setdefault(slot_of(item), []).append(item)
    if len(slots) == len(items):
        return
    kept: list[Item] = []
    for group in slots.values():
        if len(group) == 1:
            kept.append(group[0])
            continue
        merged = _merge(group, required, optional)
        if merged is None:
            for item in group:
                resource_type, concept = draft.origins[id(item)]
                draft.unmapped(resource_type, "conflicting_values", concept)
            continue
        resource_type, concept = draft.origins[id(group[0])]
        draft.origins[id(merged)] = (resource_type, concept)
        for _ in group[1:]:
            draft.unmapped(resource_type, "duplicate_value", concept)
        kept.append(merged)
    setattr(draft, name, kept)


def _drop_conflicts(draft: Draft) -> None:
    """Leave out the merged values (body measurements, visit measures) two resources contradicted;
    an entry with nothing measured left goes too."""
    for name, measure, day in draft.conflicts:
        entries: list[Item] = getattr(draft, name)
        for entry in entries:
            if entry["date"] != day:
                continue
            for key in [k for k in entry if k == measure or k.startswith(measure + "_")
                        or (measure == "mmt8" and k == "mmt8_max")]:
                del entry[key]
        setattr(draft, name, [e for e in entries if set(e) - {"date"}])


def collapse_duplicates(draft: Draft) -> None:
    """Collapse repeats and leave out contradictions in every list of ``draft`` (in place)."""
    for name in _RULES:
        _collapse(draft, name)
    _drop_conflicts(draft)
