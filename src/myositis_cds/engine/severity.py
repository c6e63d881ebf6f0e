"""SEVERITY-TIER (clinical-reference §5.1).

``severe_refractory`` if extensive weakness or dysphagia is present (latest record) or the response
after 3 months is inadequate (§6.4); ``non_severe`` only when the record shows none of them. When no
criterion is present but one cannot be excluded (never recorded, response not evaluable), the
setting ``severity_when_unrecorded`` decides: ``not_evaluable`` (default) or ``non_severe``.
"""

from __future__ import annotations

from typing import Literal

from myositis_cds.engine.context import ref_finding
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import InputRef, Note, ResponseJudgement, Severity
from myositis_cds.knowledge.pack import RuleMeta

__all__ = ["evaluate_severity"]


@rule("SEVERITY-TIER")
def evaluate_severity(run: RuleRun, meta: RuleMeta) -> Severity:
    ctx, params = run.ctx, run.params
    severe: list[str] = []
    excluded: list[str] = []
    unknown: list[str] = []
    inputs: list[InputRef] = []
    for code, label in (("extensive_weakness", "extensive weakness"), ("dysphagia", "dysphagia")):
        finding = ctx.finding(code)
        if finding is None:
            unknown.append(f"{code} not recorded")
            continue
        inputs.append(ref_finding(finding))
        (severe if finding.present else excluded).append(
            f"{label} {'present' if finding.present else 'absent'} ({finding.date})")
    judgement = run.output("RESPONSE-INADEQUATE")
    assert isinstance(judgement, ResponseJudgement)
    if judgement.status == "inadequate":
        severe.append(f"inadequate response after 3 months: {judgement.reason}")
        inputs.extend(judgement.inputs)
    elif judgement.status == "not_evaluable":
        unknown.append(f"response after 3 months not evaluable: {judgement.reason}")
    else:
        excluded.append(f"no inadequate response ({judgement.status.replace('_', ' ')})")
    notes: list[Note] = []
    tier: Literal["non_severe", "severe_refractory", "not_evaluable"]
    if severe:
        tier, reasons = "severe_refractory", severe
    elif not unknown:
        tier, reasons = "non_severe", excluded
    else:
        policy = params.setting_text("severity_when_unrecorded")
        notes.append(params.interp_note(
            "severity_when_unrecorded",
            "no criterion of severe disease is present but not all could be excluded"))
        tier = "non_severe" if policy == "non_severe" else "not_evaluable"
        reasons = [*excluded, *(f"not excluded: {u}" for u in unknown)]
    return Severity(tier=tier, reasons=tuple(reasons), rule_id=meta.id,
                    knowledge_version=params.version, citations=meta.citations,
                    inputs=tuple(inputs), notes=tuple(notes))
