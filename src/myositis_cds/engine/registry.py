"""The rule registry: each rule is a function registered under its stable ID.

The knowledge pack describes a rule (title, citations, thresholds, settings, ``requires``); the
function registered here implements it. Rules run in dependency order (``graphlib``), computed once
per pack; each reads the results of the rules it requires from :attr:`RuleRun.results`.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable
from dataclasses import dataclass, field

from myositis_cds.engine.context import PatientContext
from myositis_cds.engine.params import EngineParams
from myositis_cds.knowledge.pack import KnowledgePack, RuleMeta

__all__ = ["REGISTRY", "Evaluator", "RuleRun", "rule", "run_order"]


@dataclass(slots=True)
class RuleRun:
    """What a rule sees: the patient on the assessment date, the pack's numbers, earlier results."""

    ctx: PatientContext
    params: EngineParams
    results: dict[str, object] = field(default_factory=dict)

    def meta(self, rule_id: str) -> RuleMeta:
        return self.params.pack.rule(rule_id)

    def citations(self, rule_id: str) -> tuple[str, ...]:
        return self.params.pack.rule(rule_id).citations


Evaluator = Callable[[RuleRun, RuleMeta], object]
REGISTRY: dict[str, Evaluator] = {}


def rule(rule_id: str) -> Callable[[Evaluator], Evaluator]:
    """Register ``function`` as the implementation of ``rule_id``."""

    def register(function: Evaluator) -> Evaluator:
        if rule_id in REGISTRY:
            msg = f"rule {rule_id} is implemented twice"
            raise ValueError(msg)
        REGISTRY[rule_id] = function
        return function

    return register


_ORDER_CACHE: dict[int, tuple[KnowledgePack, tuple[str, ...]]] = {}


def run_order(pack: KnowledgePack) -> tuple[str, ...]:
    """Rule IDs in an order where every rule runs after the rules it requires."""
    key = id(pack)
    cached = _ORDER_CACHE.get(key)
    if cached is not None and cached[0] is pack:
        return cached[1]
    missing = sorted(set(pack.rules) - set(REGISTRY))
    if missing:
        msg = f"knowledge pack {pack.label} names rules with no implementation: {missing}"
        raise LookupError(msg)
    sorter = graphlib.TopologicalSorter({r.id: r.requires for r in pack.rules.values()})
    order = tuple(sorter.static_order())
    _ORDER_CACHE[key] = (pack, order)
    return order
