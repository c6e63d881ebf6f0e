"""The pack linter: a knowledge pack is refused unless every piece of it can be traced.

Checks, each reported with the offending name:
- the pack has an id, a version, a status and a title;
- every citation key has a reference text;
- every threshold has a numeric value (or list of numbers), a unit, a source and a provenance label;
- every setting has a default, a kind, a source, a provenance label and a description, and its default
  fits its kind (a choice among its choices, a number not below its minimum, a range ``[low, high]``
  with low ≤ high, a table of such numbers or ranges);
- every text (a clinician-facing statement) has its wording and cites only known keys;
- every rule has a unique ID, a title and at least one citation; every citation, threshold, setting
  and required rule it names exists; the ``requires`` graph has no cycle.
"""

from __future__ import annotations

import graphlib
import math
from collections.abc import Mapping

__all__ = ["PROVENANCE_LABELS", "lint_pack_document"]

PROVENANCE_LABELS = frozenset({"SEED", "LIT", "INTERP", "NOTE"})
_SETTING_KINDS = frozenset({"int", "number", "choice", "range", "table"})


def lint_pack_document(document: Mapping[str, object]) -> list[str]:
    """Every problem found in a parsed pack document (empty when the pack is sound)."""
    problems: list[str] = []
    pack = document.get("pack")
    if not isinstance(pack, Mapping):
        problems.append("[pack] table is missing")
    else:
        problems.extend(
            f"[pack] has no {key}" for key in ("id", "version", "status", "title")
            if not _text(pack.get(key))
        )
    citations = _mapping(document.get("citations"), "[citations]", problems)
    for key, text in citations.items():
        if not _text(text):
            problems.append(f"citation {key} has no reference text")
    thresholds = _mapping(document.get("thresholds"), "[thresholds]", problems)
    for name, spec in thresholds.items():
        problems.extend(_lint_threshold(name, spec))
    changelog = document.get("changelog", [])
    if not isinstance(changelog, list) or not all(isinstance(e, Mapping) for e in changelog):
        problems.append("[[changelog]] entries must be tables")
    settings = _mapping(document.get("settings", {}), "[settings]", problems)
    for name, spec in settings.items():
        problems.extend(_lint_setting(name, spec))
    texts = _mapping(document.get("texts", {}), "[texts]", problems)
    for key, spec in texts.items():
        if not isinstance(spec, Mapping) or not _text(spec.get("text")):
            problems.append(f"text {key} has no text")
            continue
        cited = spec.get("citations", [])
        if not isinstance(cited, list) or not all(isinstance(c, str) for c in cited):
            problems.append(f"text {key}: citations is not a list of keys")
            continue
        problems.extend(f"text {key} cites unknown key {c!r}" for c in cited if c not in citations)
    rules = document.get("rules")
    if not isinstance(rules, list) or not rules:
        problems.append("[[rules]] is missing or empty")
        return problems
    problems.extend(_lint_rules(rules, citations, thresholds, settings))
    return problems


def _lint_threshold(name: str, spec: object) -> list[str]:
    if not isinstance(spec, Mapping):
        return [f"threshold {name} is not a table"]
    problems = []
    value = spec.get("value")
    values = value if isinstance(value, list) else [value]
    if not values or not all(_is_number(v) for v in values):
        problems.append(f"threshold {name} has no numeric value")
    if not _text(spec.get("unit")):
        problems.append(f"threshold {name} has no unit")
    if not _text(spec.get("source")):
        problems.append(f"threshold {name} has no source")
    if spec.get("provenance") not in PROVENANCE_LABELS:
        problems.append(
            f"threshold {name} has provenance {spec.get('provenance')!r}; "
            f"expected one of {sorted(PROVENANCE_LABELS)}"
        )
    return problems


def _lint_setting(name: str, spec: object) -> list[str]:
    if not isinstance(spec, Mapping):
        return [f"setting {name} is not a table"]
    problems = [
        f"setting {name} has no {key}"
        for key in ("source", "description")
        if not _text(spec.get(key))
    ]
    if spec.get("provenance") not in PROVENANCE_LABELS:
        problems.append(f"setting {name} has provenance {spec.get('provenance')!r}")
    kind = spec.get("kind")
    default = spec.get("default")
    if kind not in _SETTING_KINDS:
        problems.append(f"setting {name} has kind {kind!r}; expected one of {sorted(_SETTING_KINDS)}")
    elif kind == "choice":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            problems.append(f"setting {name} is a choice without choices")
        elif not all(isinstance(c, str) for c in choices):
            problems.append(f"setting {name} has choices that are not all strings: {choices}")
        elif default not in choices:
            problems.append(f"setting {name} default {default!r} is not one of {choices}")
    elif kind == "range":
        problems.extend(_lint_range(name, default, spec.get("minimum")))
    elif kind == "table":
        if not isinstance(default, Mapping) or not default:
            problems.append(f"setting {name} default {default!r} is not a table of numbers or ranges")
        else:
            for key, value in default.items():
                label = f"{name}.{key}"
                if isinstance(value, list):
                    problems.extend(_lint_range(label, value, spec.get("minimum")))
                else:
                    problems.extend(_lint_number(label, value, "number", spec.get("minimum")))
    else:
        problems.extend(_lint_number(name, default, str(kind), spec.get("minimum")))
    return problems


def _lint_number(name: str, default: object, kind: str, minimum: object) -> list[str]:
    if not _is_number(default) or (kind == "int" and not isinstance(default, int)):
        return [f"setting {name} default {default!r} is not of kind {kind}"]
    if minimum is not None and not _is_number(minimum):
        return [f"setting {name} has a minimum that is not a number: {minimum!r}"]
    if _is_number(minimum) and default < minimum:  # type: ignore[operator]
        return [f"setting {name} default {default!r} is below its minimum {minimum!r}"]
    return []


def _lint_range(name: str, default: object, minimum: object) -> list[str]:
    if (not isinstance(default, list) or len(default) != 2
            or not all(_is_number(v) for v in default) or default[0] > default[1]):
        return [f"setting {name} default {default!r} is not a range [low, high] with low <= high"]
    return _lint_number(name, default[0], "number", minimum)


def _lint_rules(
    rules: list[object],
    citations: Mapping[str, object],
    thresholds: Mapping[str, object],
    settings: Mapping[str, object],
) -> list[str]:
    problems: list[str] = []
    graph: dict[str, list[str]] = {}
    for position, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not _text(rule.get("id")):
            problems.append(f"rule #{position + 1} has no id")
            continue
        rule_id = str(rule["id"])
        if rule_id in graph:
            problems.append(f"rule {rule_id} is defined twice")
        if not _text(rule.get("title")):
            problems.append(f"rule {rule_id} has no title")
        cited = rule.get("citations")
        if not isinstance(cited, list) or not cited or not all(isinstance(c, str) for c in cited):
            problems.append(f"rule {rule_id} has no citation")
            cited = []
        problems.extend(
            f"rule {rule_id} cites unknown key {key!r}" for key in cited if key not in citations
        )
        for field, known in (("thresholds", thresholds), ("settings", settings)):
            names = rule.get(field, [])
            if not isinstance(names, list):
                problems.append(f"rule {rule_id}: {field} is not a list")
                continue
            problems.extend(
                f"rule {rule_id} reads unknown {field[:-1]} {name!r}"
                for name in names
                if name not in known
            )
        requires = rule.get("requires", [])
        if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
            problems.append(f"rule {rule_id}: requires is not a list of rule IDs")
            requires = []
        if not _text(rule.get("section", "§")):
            problems.append(f"rule {rule_id}: section is not text")
        graph[rule_id] = list(requires)
    for rule_id, requires in graph.items():
        problems.extend(
            f"rule {rule_id} requires unknown rule {req!r}" for req in requires if req not in graph
        )
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        problems.append(f"rule requirements form a cycle: {' -> '.join(exc.args[1])}")
    return problems


def _mapping(value: object, label: str, problems: list[str]) -> Mapping[str, object]:
    if isinstance(value, Mapping):
        return value
    problems.append(f"{label} table is missing")
    return {}


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_number(value: object) -> bool:
    """A finite int or float (TOML also allows nan and inf, which no clinical number is)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
