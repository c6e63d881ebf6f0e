"""The engine: ``assess(record, as_of, params)`` runs every rule of the pack in dependency order.

Pure and deterministic over (record, as-of date, pack, settings): no clock, no I/O, nothing dated
after ``as_of`` is used. :func:`evaluate_rule` runs one rule (and the rules it requires) for tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TypeVar

from myositis_cds.domain.record import PatientRecord

# Importing the rule modules registers their rules.
from myositis_cds.engine import actions as _actions
from myositis_cds.engine import alerts as _alerts
from myositis_cds.engine import current_therapy as _current_therapy
from myositis_cds.engine import dose_checks as _dose_checks
from myositis_cds.engine import monitoring_bloods as _monitoring_bloods
from myositis_cds.engine import phenotype as _phenotype
from myositis_cds.engine import plan as _plan
from myositis_cds.engine import response as _response
from myositis_cds.engine import safety_companion as _safety_companion
from myositis_cds.engine import screening as _screening
from myositis_cds.engine import severity as _severity
from myositis_cds.engine import workup as _workup
from myositis_cds.engine.actions import ACTION_RULES
from myositis_cds.engine.context import PatientContext
from myositis_cds.engine.current_therapy import children_dosing
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.plan import PLAN_RULES
from myositis_cds.engine.registry import REGISTRY, RuleRun, run_order, transitive_requires
from myositis_cds.engine.results import (
    Action,
    Alert,
    Assessment,
    CancerScreening,
    CurrentTherapy,
    Note,
    NotEvaluatedAlert,
    Phenotype,
    Regimen,
    Response,
    ResponseJudgement,
    SafetyCheck,
    Scope,
    Severity,
    TisOutcome,
    TreatmentPlan,
    WorkupItem,
)
from myositis_cds.engine.workup import WORKUP_IDS
from myositis_cds.scores.imacs_doi import DoiResult

__all__ = ["assess", "evaluate_rule"]

_RULE_MODULES = (_actions, _alerts, _current_therapy, _dose_checks, _monitoring_bloods, _phenotype,
                 _plan, _response, _safety_companion, _screening, _severity, _workup)
_SAFETY_RULES = ("SAFETY-HBV", "SAFETY-HCV", "SAFETY-HIV", "SAFETY-TB", "SAFETY-PJP", "SAFETY-BONE",
                 "SAFETY-VACCINATION", "SAFETY-PREGNANCY", "SAFETY-MONITORING-BLOODS")
_CHILDREN_SOURCES = ("CARRA-JDM-2010", "SHARE-JDM-2017")
T = TypeVar("T")
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def _run(record: PatientRecord, as_of: dt.date, params: EngineParams,
         only: Iterable[str] | None = None) -> RuleRun:
    run = RuleRun(ctx=PatientContext(record, as_of), params=params)
    pack = params.pack
    wanted = None if only is None else _with_requirements(set(only), params)
    requires = transitive_requires(pack)
    for rule_id in run_order(pack):
        if wanted is not None and rule_id not in wanted:
            continue
        run.allowed = requires[rule_id]
        run.results[rule_id] = REGISTRY[rule_id](run, pack.rules[rule_id])
    return run


def _with_requirements(ids: set[str], params: EngineParams) -> set[str]:
    pending, seen = list(ids), set()
    while pending:
        rule_id = pending.pop()
        if rule_id not in seen:
            seen.add(rule_id)
            pending.extend(params.pack.rule(rule_id).requires)
    return seen


def evaluate_rule(rule_id: str, record: PatientRecord, as_of: dt.date,
                  params: EngineParams) -> object:
    """The result of one rule for one patient (running the rules it requires first)."""
    return _run(record, as_of, params, only=[rule_id]).results[rule_id]


def _flat(value: object) -> tuple[object, ...]:
    """A rule's result as a tuple (rules given once per agent return tuples)."""
    return value if isinstance(value, tuple) else (value,)


def _get(results: dict[str, object], rule_id: str, kind: type[T]) -> T:
    value = results[rule_id]
    if not isinstance(value, kind):
        msg = f"rule {rule_id} returned {type(value).__name__}, expected {kind.__name__}"
        raise TypeError(msg)
    return value


def assess(record: PatientRecord, as_of: dt.date, params: EngineParams) -> Assessment:
    """The cited management plan of one patient on ``as_of``."""
    run = _run(record, as_of, params)
    results = run.results
    order = run_order(params.pack)
    phenotype = _get(results, "PHENOTYPE-ANTI-MI2", Phenotype)
    severity = _get(results, "SEVERITY-TIER", Severity)
    regimens = tuple(r for rule_id in PLAN_RULES if isinstance(r := results[rule_id], Regimen))
    plan_notes: tuple[Note, ...] = ()
    if severity.tier != "non_severe" and run.ctx.finding("ild") is None and regimens:
        plan_notes = (Note(kind="caveat", text="ILD not recorded: cyclophosphamide is offered "
                           "only when ILD is present"),)
    outcomes = [r for rule_id in order for r in _flat(results[rule_id])]
    fired = [r for r in outcomes if isinstance(r, Alert)]
    fired.sort(key=lambda a: (_SEVERITY_RANK[a.severity], a.id, a.drug or ""))
    actions = tuple(a for rule_id in ACTION_RULES for a in _flat(results[rule_id])
                    if isinstance(a, Action))
    children = children_dosing(run.ctx, params)
    scope = Scope(
        status={"applies": "in_scope", "not_applicable": "out_of_scope"}.get(  # type: ignore[arg-type]
            phenotype.status, "not_evaluable"),
        reasons=phenotype.reasons,
    )
    return Assessment(
        patient_id=record.id,
        as_of=as_of,
        pack=params.pack.id,
        version=params.version,
        scope=scope,
        phenotype=phenotype,
        workup=tuple(_get(results, rule_id, WorkupItem) for rule_id in WORKUP_IDS),
        cancer_screening=_get(results, "SCREEN-CANCER", CancerScreening),
        severity=severity,
        treatment_plan=TreatmentPlan(
            tier=severity.tier, regimens=regimens, notes=plan_notes, actions=actions,
            dosing="children" if children else "adult",
            dosing_sources=_CHILDREN_SOURCES if children else ("MI2-SUMMARY",)),
        response=Response(
            tis=_get(results, "RESPONSE-TIS", TisOutcome),
            imacs_doi=_get(results, "RESPONSE-IMACS-DOI", DoiResult),
            imacs_doi_citations=params.pack.rule("RESPONSE-IMACS-DOI").citations,
            inadequate_response=_get(results, "RESPONSE-INADEQUATE", ResponseJudgement),
        ),
        alerts=tuple(fired),
        alerts_not_evaluable=tuple(r for r in outcomes if isinstance(r, NotEvaluatedAlert)),
        settings=dict(params.settings.values),
        settings_overridden=tuple(sorted(params.settings.overridden)),
        current_therapy=_get(results, "THERAPY-CURRENT", CurrentTherapy),
        safety=tuple(item for rule_id in _SAFETY_RULES for item in _flat(results[rule_id])
                     if isinstance(item, SafetyCheck)),
    )
