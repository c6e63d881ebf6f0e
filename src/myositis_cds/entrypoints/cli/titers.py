"""``myositis-cds titers``: anti-Mi-2 titer against CK and strength (clinical-reference §6.3, §8).

For each patient, Spearman correlations of the titer with CK ×ULN and with MMT-8 (descriptive when
there are few pairs); for two or more patients, linear mixed models with a random intercept per
patient (log CK ×ULN on titer; MMT-8 on titer). PATH is a record file, a ``patient-records@1``
batch, or a folder of record files. Every record is validated before anything is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from myositis_cds import bootstrap
from myositis_cds.bootstrap import EngineParams
from myositis_cds.entrypoints.cli.common import (
    AtomicOutput,
    as_of_from,
    current_date,
    params_from,
    to_json,
)
from myositis_cds.errors import UsageError
from myositis_cds.services import Timeline, timeline_stream

__all__ = ["TITERS_FORMAT", "cmd_titers", "record_files"]

TITERS_FORMAT = "myositis-cds/titer-association@1"


def record_files(path: Path) -> list[Path]:
    """The record files of PATH: the file itself, or the ``*.json`` files of a folder (sorted)."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.json") if p.is_file())
        if not files:
            msg = f"{path}: the folder holds no .json record files"
            raise UsageError(msg)
        return files
    if not path.is_file():
        msg = f"{path}: no such file or folder"
        raise UsageError(msg)
    return [path]


def _timelines(path: Path, today_: dt.date, as_of: dt.date, params: EngineParams) -> Iterator[Timeline]:
    """Each record's timeline (the "timeline" use case); a bad record raises its errors."""
    parse = bootstrap.make_parser(today_)
    for file in record_files(path):
        for outcome in timeline_stream(bootstrap.iter_documents(file), parse=parse, as_of=as_of,
                                       params=params, source=str(file)):
            if outcome.error is not None:
                raise outcome.error
            assert outcome.timeline is not None
            yield outcome.timeline


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _p(value: float | None) -> str:
    return "<0.001" if value is not None and value < 0.001 else _fmt(value)


def _text(document: dict[str, Any]) -> str:
    lines = [f"Anti-Mi-2 titer association as of {document['as_of']} "
             f"({len(document['patients'])} patient(s)) [PF2019]", ""]
    for patient in document["patients"]:
        lines.append(f"Patient {patient['patient_id']} (titer unit {patient['titer_unit']}):")
        for key in ("ck", "mmt8"):
            c = patient[key]
            flag = " — descriptive only" if c["descriptive_only"] else ""
            lines.append(f"  {c['label']:<22} n={c['n']:<3} rho={_fmt(c['rho'])} "
                         f"p={_p(c['p_value'])}{flag}")
        lines += [f"    note: {n}" for n in patient["notes"]]
        lines.append("")
    cohort = document.get("cohort")
    if cohort is not None:
        lines += ["", f"Cohort mixed models ({cohort['patients']} patients, random intercept per "
                  "patient):"]
        for key in ("ck", "mmt8"):
            fit = cohort[key]
            lines.append(f"  {fit['formula']}: {fit['status']} "
                         f"(n={fit['n_observations']} observations, {fit['n_patients']} patients)")
            if fit["reason"]:
                lines.append(f"    {fit['reason']}")
            for coef in fit["coefficients"]:
                lines.append(f"    {coef['name']:<10} {_fmt(coef['estimate'], 4)} "
                             f"(95% CI {_fmt(coef['ci_low'], 4)} to {_fmt(coef['ci_high'], 4)}), "
                             f"p={_p(coef['p_value'])}")
            lines += [f"    warning: {w}" for w in fit["warnings"]]
        lines += [f"  note: {n}" for n in cohort["notes"]]
        lines += [f"  excluded: {e}" for e in cohort["excluded"]]
    return "\n".join(lines) + "\n"


def cmd_titers(args: argparse.Namespace) -> int:
    from myositis_cds.stats.association import (  # noqa: PLC0415 - scipy/statsmodels load on use
        cohort_titer_model,
        titer_association,
    )

    today_ = current_date()
    as_of = as_of_from(args, today_)
    params = params_from(args)
    timelines = list(_timelines(Path(args.path), today_, as_of, params))  # all before any output
    document: dict[str, Any] = {
        "format": TITERS_FORMAT,
        "as_of": as_of.isoformat(),
        "knowledge_version": params.version,
        "patients": [titer_association(t, params).to_dict() for t in timelines],
        "cohort": cohort_titer_model(timelines, params).to_dict() if len(timelines) > 1 else None,
    }
    text = to_json(document, indent=True) + "\n" if args.format == "json" else _text(document)
    with AtomicOutput(args.out) as out:
        out.write(text)
    if not timelines:
        sys.stderr.write("no records\n")
    return 0
