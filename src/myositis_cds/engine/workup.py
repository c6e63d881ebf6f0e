"""WORKUP-*: the baseline work-up checklist (clinical-reference §3).

Each item is ``done`` (with the date it was first completed), ``missing`` (listing what is missing)
or ``not_required`` (WORKUP-HRCT only, when the record shows no indication for it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from myositis_cds.domain.vocabulary import CUTANEOUS_FINDINGS, ENZYMES, MSA_TARGETS
from myositis_cds.engine.context import (
    ref_antibody,
    ref_finding,
    ref_investigation,
    ref_lab,
    ref_visit,
)
from myositis_cds.engine.registry import RuleRun, rule
from myositis_cds.engine.results import InputRef, Note, WorkupItem
from myositis_cds.knowledge.pack import RuleMeta

__all__ = ["WORKUP_IDS"]

WORKUP_IDS = (
    "WORKUP-SKIN-EXAM", "WORKUP-MMT8", "WORKUP-ENZYMES", "WORKUP-MSA-PANEL", "WORKUP-PFT",
    "WORKUP-CHEST-XRAY", "WORKUP-HRCT", "WORKUP-EMG",
)


def _item(
    run: RuleRun,
    meta: RuleMeta,
    *,
    done_on: dt.date | None,
    missing: Sequence[str] = (),
    inputs: Sequence[InputRef] = (),
    reasons: Sequence[str] = (),
    status: Literal["done", "missing", "not_required"] | None = None,
    notes: Sequence[Note] = (),
) -> WorkupItem:
    if status is None:
        status = "done" if done_on is not None else "missing"
    return WorkupItem(
        id=meta.id,
        title=meta.title,
        status=status,
        date=done_on if status == "done" else None,
        missing=tuple(missing),
        reasons=tuple(reasons),
        rule_id=meta.id,
        knowledge_version=run.params.version,
        citations=meta.citations,
        inputs=tuple(inputs),
        notes=tuple(notes),
    )


def _investigation_item(run: RuleRun, meta: RuleMeta, kind: str) -> WorkupItem:
    found = run.ctx.investigations_of(kind)
    if found:
        return _item(run, meta, done_on=found[0].date, inputs=[ref_investigation(found[0])])
    return _item(run, meta, done_on=None, missing=[kind])


@rule("WORKUP-SKIN-EXAM")
def skin_exam(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    ctx = run.ctx
    exams = ctx.investigations_of("skin_exam")
    skin_findings = sorted(
        (f for f in ctx.record.findings if f.code in CUTANEOUS_FINDINGS and f.date <= ctx.as_of),
        key=lambda f: f.date,
    )
    candidates: list[tuple[dt.date, InputRef]] = [(i.date, ref_investigation(i)) for i in exams[:1]]
    candidates += [(f.date, ref_finding(f)) for f in skin_findings[:1]]
    if not candidates:
        return _item(run, meta, done_on=None, missing=["skin_exam"])
    first = min(candidates, key=lambda c: c[0])
    return _item(run, meta, done_on=first[0], inputs=[first[1]])


@rule("WORKUP-MMT8")
def mmt8(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    visit = next((v for v in run.ctx.visits if v.mmt8 is not None), None)
    if visit is None:
        return _item(run, meta, done_on=None, missing=["mmt8"])
    return _item(run, meta, done_on=visit.date, inputs=[ref_visit(visit, "mmt8")])


@rule("WORKUP-ENZYMES")
def enzymes(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    firsts = {}
    for lab in run.ctx.labs:
        if lab.test in ENZYMES and lab.test not in firsts:
            firsts[lab.test] = lab
    missing = [name for name in ENZYMES if name not in firsts]
    inputs = [ref_lab(firsts[name]) for name in ENZYMES if name in firsts]
    done_on = None if missing else max(lab.date for lab in firsts.values())
    return _item(run, meta, done_on=done_on, missing=missing, inputs=inputs)


@rule("WORKUP-MSA-PANEL")
def msa_panel(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    firsts = {}
    for target in MSA_TARGETS:
        results = run.ctx.antibody_results(target)
        if results:
            firsts[target] = results[0]
    missing = [t for t in MSA_TARGETS if t not in firsts]
    inputs = [ref_antibody(firsts[t]) for t in MSA_TARGETS if t in firsts]
    done_on = None if missing else max(a.date for a in firsts.values())
    return _item(run, meta, done_on=done_on, missing=missing, inputs=inputs)


@rule("WORKUP-PFT")
def pft(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    return _investigation_item(run, meta, "pulmonary_function_tests")


@rule("WORKUP-CHEST-XRAY")
def chest_xray(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    return _investigation_item(run, meta, "chest_radiograph")


@rule("WORKUP-EMG")
def emg(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    return _investigation_item(run, meta, "emg")


@rule("WORKUP-HRCT")
def hrct(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    ctx = run.ctx
    done = ctx.investigations_of("hrct_chest")
    if done:
        return _item(run, meta, done_on=done[0].date, inputs=[ref_investigation(done[0])])
    inputs: list[InputRef] = []
    indications: list[str] = []
    unknown: list[str] = []
    pfts = ctx.investigations_of("pulmonary_function_tests")
    latest_pft = pfts[-1] if pfts else None
    if latest_pft is not None:
        inputs.append(ref_investigation(latest_pft))
    if latest_pft is None:
        unknown.append("PFTs not done")
    elif latest_pft.abnormal is None:
        unknown.append(f"PFT of {latest_pft.date} not flagged normal or abnormal")
    elif latest_pft.abnormal:
        indications.append(f"abnormal PFTs on {latest_pft.date}")
    for code in ("respiratory_symptoms", "ild"):
        finding = ctx.finding(code)
        if finding is None:
            unknown.append(f"{code} not recorded")
            continue
        inputs.append(ref_finding(finding))
        if finding.present:
            indications.append(f"{code} present ({finding.date})")
    if indications:
        return _item(run, meta, done_on=None, missing=["hrct_chest"], inputs=inputs,
                     reasons=[f"required: {', '.join(indications)}"])
    if not unknown:
        return _item(run, meta, done_on=None, status="not_required", inputs=inputs,
                     reasons=["normal PFTs, no respiratory symptoms and no ILD recorded"])
    policy = run.params.setting_text("hrct_when_requirement_unknown")
    note = run.params.interp_note(
        "hrct_when_requirement_unknown",
        "the need for HRCT could not be excluded (" + "; ".join(unknown) + ")",
    )
    if policy == "not_required":
        return _item(run, meta, done_on=None, status="not_required", inputs=inputs,
                     reasons=["requirement not established: " + "; ".join(unknown)], notes=[note])
    return _item(run, meta, done_on=None, missing=["hrct_chest"], inputs=inputs,
                 reasons=["requirement not excluded: " + "; ".join(unknown)], notes=[note])
