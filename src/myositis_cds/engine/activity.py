"""Disease activity on the assessment date: active, inactive or unknown (clinical-reference §12.3).

From data dated within ``activity_window_days`` before the assessment date, the disease is
**active** if the latest physician global there is above ``activity_pga_cm``, the latest CDASI
activity there is above 0, the latest CK there is above its ULN, or a cutaneous finding,
``proximal_weakness`` or ``extensive_weakness`` has a latest record that is present and dated there.
It is **inactive** only if nothing is active, no such finding has a present latest record (of any
date), and the window holds a physician global, a CK with its ULN and a skin assessment. Anything
else is **unknown**: missing data never reads as inactive.
"""

from __future__ import annotations

import datetime as dt

from myositis_cds.domain.vocabulary import CUTANEOUS_FINDINGS
from myositis_cds.engine.context import (
    PatientContext,
    ref_finding,
    ref_investigation,
    ref_lab,
    ref_visit,
)
from myositis_cds.engine.params import EngineParams
from myositis_cds.engine.results import Activity, InputRef

__all__ = ["ACTIVITY_FINDINGS", "disease_activity"]

ACTIVITY_FINDINGS = (*CUTANEOUS_FINDINGS, "proximal_weakness", "extensive_weakness")


def disease_activity(ctx: PatientContext, params: EngineParams) -> Activity:
    window = params.setting_int("activity_window_days")
    threshold = params.settings.number("activity_pga_cm")
    since = ctx.as_of - dt.timedelta(days=window)
    active: list[str] = []
    missing: list[str] = []
    inputs: list[InputRef] = []

    pga = next((v for v in reversed(ctx.visits)
                if v.physician_global is not None and v.date >= since), None)
    if pga is None:
        missing.append("physician global")
    else:
        inputs.append(ref_visit(pga, "physician_global"))
        if pga.physician_global is not None and pga.physician_global > threshold:
            active.append(f"physician global {pga.physician_global:g} cm > {threshold:g} cm "
                          f"({pga.date})")
    cdasi = next((v for v in reversed(ctx.visits)
                  if v.cdasi_activity is not None and v.date >= since), None)
    if cdasi is not None and cdasi.cdasi_activity is not None:
        inputs.append(ref_visit(cdasi, "cdasi_activity"))
        if cdasi.cdasi_activity > 0:
            active.append(f"CDASI activity {cdasi.cdasi_activity:g} ({cdasi.date})")
    ck = next((lab for lab in reversed(ctx.labs_of("CK")) if lab.date >= since), None)
    if ck is None:
        missing.append("CK")
    elif ck.uln is None:
        missing.append(f"ULN of the CK of {ck.date}")
        inputs.append(ref_lab(ck))
    else:
        inputs.append(ref_lab(ck))
        if ck.value > ck.uln:
            active.append(f"CK {ck.value:g} > ULN {ck.uln:g} ({ck.date})")

    present_before: list[str] = []
    for code in ACTIVITY_FINDINGS:
        finding = ctx.finding(code)
        if finding is None or not finding.present:
            continue
        inputs.append(ref_finding(finding))
        if finding.date >= since:
            active.append(f"{code.replace('_', ' ')} present ({finding.date})")
        else:
            present_before.append(f"{code.replace('_', ' ')} last recorded present on {finding.date}")
    skin_recorded = any(
        f.code in CUTANEOUS_FINDINGS and f.date >= since for f in ctx.record.findings
        if f.date <= ctx.as_of)
    exam = next((i for i in reversed(ctx.investigations_of("skin_exam")) if i.date >= since), None)
    if exam is not None:
        inputs.append(ref_investigation(exam))
    if not skin_recorded and exam is None:
        missing.append("skin examination")

    if active:
        return Activity(status="active", reasons=tuple(active), missing=(), inputs=tuple(inputs))
    reasons = [f"nothing active in the {window} days before {ctx.as_of}"]
    if present_before or missing:
        reasons += present_before
        if missing:
            reasons.append("not recorded in the window: " + ", ".join(missing))
        return Activity(status="unknown", reasons=tuple(reasons),
                        missing=tuple(missing) + (("an up-to-date record of the findings last "
                                                    "recorded present",) if present_before else ()),
                        inputs=tuple(inputs))
    return Activity(status="inactive", reasons=tuple(reasons), missing=(), inputs=tuple(inputs))
