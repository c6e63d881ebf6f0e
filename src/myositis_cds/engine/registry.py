"""The rule registry: each rule is a function registered under its stable ID.

The knowledge pack describes a rule (title, citations, thresholds, settings, ``requires``); the
function registered here implements it. Rules run in dependency order (``graphlib``), computed once
per pack; each reads the results of the rules it requires from :attr:`RuleRun.results`.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from myositis_cds.engine.context import PatientContext
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.therapy import TherapyIndex
from myositis_cds.knowledge.pack import KnowledgePack, RuleMeta

__all__ = ["REGISTRY", "Evaluator", "RuleRun", "rule", "run_order", "transitive_requires"]

T = TypeVar("T")


@dataclass(slots=True)
class RuleRun:
    """What a rule sees: the patient on the assessment date, the pack's numbers, earlier results."""

    ctx: PatientContext
    params: EngineParams
    results: dict[str, object] = field(default_factory=dict)
    _therapy: TherapyIndex | None = None
    allowed: frozenset[str] = frozenset()
    """The rules the running rule requires (directly or not): the only results it may read."""

    @property
    def therapy(self) -> TherapyIndex:
        """The treatments indexed for §12–§15 (built on first use, once per assessment)."""
        if self._therapy is None:
            self._therapy = TherapyIndex(self.ctx, self.params)
        return self._therapy

    def output(self, rule_id: str) -> object:
        """The result of a rule the running rule requires (``None`` when it gave none).

        Reading a rule that is not required is an error, not a silent ``None``: the run order
        only guarantees that required rules ran first."""
        if rule_id not in self.allowed:
            msg = f"a rule read {rule_id} without requiring it (add it to 'requires' in the pack)"
            raise LookupError(msg)
        return self.results.get(rule_id)

    def result(self, rule_id: str, kind: type[T]) -> T:
        """The result of a rule this one requires, checked to be of the expected type."""
        value = self.output(rule_id)
        if not isinstance(value, kind):
            msg = f"rule {rule_id} returned {type(value).__name__}, expected {kind.__name__}"
            raise TypeError(msg)
        return value

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
_REQUIRES_CACHE: dict[int, tuple[KnowledgePack, dict[str, frozenset[str]]]] = {}


def transitive_requires(pack: KnowledgePack) -> dict[str, frozenset[str]]:
    """Every rule's requirements, direct and indirect (computed once per pack)."""
    key = id(pack)
    cached = _REQUIRES_CACHE.get(key)
    if cached is not None and cached[0] is pack:
        return cached[1]
    closure: dict[str, frozenset[str]] = {}
    for rule_id in run_order(pack):  # requirements come first, so their closures are ready
        direct = pack.rules[rule_id].requires
        closure[rule_id] = frozenset(direct).union(*(closure[r] for r in direct))
    _REQUIRES_CACHE[key] = (pack, closure)
    return closure


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
