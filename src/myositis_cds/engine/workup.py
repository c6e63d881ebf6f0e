"""WORKUP-*: the baseline work-up checklist (clinical-reference §3, §12.5).

Each item is ``done`` (with the date it was first completed), ``missing`` (listing what is missing)
or ``not_required`` (WORKUP-HRCT only, when normal PFTs and absent respiratory symptoms and ILD are
all recorded). A result counts as baseline work-up only inside a window around the diagnosis date
(settings ``workup_window_months_before`` / ``_after``): a PFT from 1999 is not the work-up of a
2025 diagnosis. Without a diagnosis date every result counts, and the item says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from myositis_cds.domain.dates import add_months
from myositis_cds.domain.record import Investigation
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

__all__ = ["WORKUP_IDS", "workup_window"]

WORKUP_IDS = (
    "WORKUP-SKIN-EXAM", "WORKUP-MMT8", "WORKUP-ENZYMES", "WORKUP-MSA-PANEL", "WORKUP-PFT",
    "WORKUP-CHEST-XRAY", "WORKUP-HRCT", "WORKUP-EMG",
)


def workup_window(run: RuleRun) -> tuple[dt.date, dt.date] | None:
    """The dates a baseline work-up result may have, or ``None`` without a diagnosis date."""
    diagnosed = run.ctx.diagnosis_date
    if diagnosed is None:
        return None
    before = run.params.setting_int("workup_window_months_before")
    after = run.params.setting_int("workup_window_months_after")
    return add_months(diagnosed, -before), min(add_months(diagnosed, after), run.ctx.as_of)


def _in_window(run: RuleRun, day: dt.date) -> bool:
    window = workup_window(run)
    return window is None or window[0] <= day <= window[1]


def _window_notes(run: RuleRun) -> tuple[Note, ...]:
    params = run.params
    window = workup_window(run)
    if window is None:
        return (Note(kind="caveat", text="no diagnosis date: results of any date count as "
                     "baseline work-up"),)
    return (params.interp_note(
        "workup_window_months_before",
        f"baseline work-up counts from {params.setting_int('workup_window_months_before')} months "
        f"before to {params.setting_int('workup_window_months_after')} months after diagnosis "
        f"({window[0]} to {window[1]})"),)


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
        notes=tuple(notes) + _window_notes(run),
    )


def _investigations(run: RuleRun, kind: str) -> list[Investigation]:
    return [i for i in run.ctx.investigations_of(kind) if _in_window(run, i.date)]


def _investigation_item(run: RuleRun, meta: RuleMeta, kind: str) -> WorkupItem:
    found = _investigations(run, kind)
    if found:
        return _item(run, meta, done_on=found[0].date, inputs=[ref_investigation(found[0])])
    return _item(run, meta, done_on=None, missing=[kind])


@rule("WORKUP-SKIN-EXAM")
def skin_exam(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    ctx = run.ctx
    exams = _investigations(run, "skin_exam")
    skin_findings = sorted(
        (f for f in ctx.record.findings if f.code in CUTANEOUS_FINDINGS and f.date <= ctx.as_of
         and _in_window(run, f.date)),
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
    visit = next((v for v in run.ctx.visits if v.mmt8 is not None and _in_window(run, v.date)),
                 None)
    if visit is None:
        return _item(run, meta, done_on=None, missing=["mmt8"])
    return _item(run, meta, done_on=visit.date, inputs=[ref_visit(visit, "mmt8")])


@rule("WORKUP-ENZYMES")
def enzymes(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    firsts = {}
    for lab in run.ctx.labs:
        if lab.test in ENZYMES and lab.test not in firsts and _in_window(run, lab.date):
            firsts[lab.test] = lab
    missing = [name for name in ENZYMES if name not in firsts]
    inputs = [ref_lab(firsts[name]) for name in ENZYMES if name in firsts]
    done_on = None if missing else max(lab.date for lab in firsts.values())
    return _item(run, meta, done_on=done_on, missing=missing, inputs=inputs)


@rule("WORKUP-MSA-PANEL")
def msa_panel(run: RuleRun, meta: RuleMeta) -> WorkupItem:
    firsts = {}
    for target in MSA_TARGETS:
        results = [a for a in run.ctx.antibody_results(target) if _in_window(run, a.date)]
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
    """Required if PFTs are abnormal or respiratory symptoms or ILD are present; ``not_required``
    only when normal PFTs and absent respiratory symptoms and ILD are all recorded (§12.5)."""
    ctx = run.ctx
    done = _investigations(run, "hrct_chest")
    if done:
        return _item(run, meta, done_on=done[0].date, inputs=[ref_investigation(done[0])])
    inputs: list[InputRef] = []
    indications: list[str] = []
    unrecorded: list[str] = []
    pfts = _investigations(run, "pulmonary_function_tests")
    latest_pft = pfts[-1] if pfts else None
    if latest_pft is None:
        unrecorded.append("PFTs not done")
    else:
        inputs.append(ref_investigation(latest_pft))
        if latest_pft.abnormal is None:
            unrecorded.append(f"PFT of {latest_pft.date} not recorded as normal or abnormal")
        elif latest_pft.abnormal:
            indications.append(f"abnormal PFTs on {latest_pft.date}")
    for code in ("respiratory_symptoms", "ild"):
        finding = ctx.finding(code)
        if finding is None:
            unrecorded.append(f"{code.replace('_', ' ')} not recorded")
            continue
        inputs.append(ref_finding(finding))
        if finding.present:
            indications.append(f"{code.replace('_', ' ')} present ({finding.date})")
    if indications:
        return _item(run, meta, done_on=None, missing=["hrct_chest"], inputs=inputs,
                     reasons=[f"required: {', '.join(indications)}"])
    if not unrecorded:
        return _item(run, meta, done_on=None, status="not_required", inputs=inputs,
                     reasons=["normal PFTs, no respiratory symptoms and no ILD recorded"])
    return _item(run, meta, done_on=None, missing=["hrct_chest"], inputs=inputs,
                 reasons=["requirement not excluded: " + "; ".join(unrecorded)])
