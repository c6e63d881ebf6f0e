"""``myositis-cds cohort``: PF2019's analyses on any cohort (clinical-reference §8).

SOURCE is a per-patient CSV (``*.csv``), a ``patient-record@1`` file, batch or folder of record
files, or ``db:`` — the clinic database (``--database-url`` or ``MYOSITIS_CDS_DATABASE_URL``),
read de-identified as a researcher and audited. Subcommands: ``synthesize`` (a synthetic cohort),
``features`` (records or database → per-patient CSV), ``table1``, ``figure`` (LOWESS of CK and
strength by group) and ``titers`` (mixed model and the ≥ 4-year titer courses).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from myositis_cds import bootstrap
from myositis_cds.engine import EngineParams, PatientContext, Timeline, build_timeline
from myositis_cds.entrypoints.cli.admin import shell_actor
from myositis_cds.entrypoints.cli.common import AtomicOutput, as_of_from, current_date, params_from, to_json
from myositis_cds.entrypoints.cli.titers import record_files
from myositis_cds.errors import UsageError
from myositis_cds.presentation.table1_report import TABLE1_FORMATS, format_p, render_table1
from myositis_cds.services.ports import SystemActor

if TYPE_CHECKING:
    from myositis_cds.presentation.plots import FigureFormat
    from myositis_cds.stats.association import MixedModelResult
    from myositis_cds.stats.cohort_features import CohortPatient

__all__ = ["DATABASE_SOURCE", "add_cohort_parser"]

DATABASE_SOURCE: Final = "db:"
TITERS_FORMAT: Final = "myositis-cds/cohort-titers@1"


@dataclass(frozen=True, slots=True)
class _Loaded:
    source: str
    patients: tuple[CohortPatient, ...]
    synthetic: bool
    timelines: tuple[Timeline, ...] = ()
    titer_model: MixedModelResult | None = None
    notes: tuple[str, ...] = ()


def _load(source: str, args: argparse.Namespace) -> _Loaded:
    """Records (file, batch, folder) or the database, as derived per-patient features."""
    from myositis_cds.stats.cohort_features import derive_patient  # noqa: PLC0415 - scipy on use
    from myositis_cds.stats.synthetic_cohort import is_synthetic  # noqa: PLC0415

    today = current_date()
    as_of = as_of_from(args, today)
    params: EngineParams = params_from(args)
    if source == DATABASE_SOURCE:
        from myositis_cds.services.cohort import deidentified_cohort  # noqa: PLC0415

        database = bootstrap.make_unit_of_work(args.database_url)
        try:
            actor = SystemActor(username=shell_actor().username, role="researcher")
            cohort = deidentified_cohort(database, actor, parse=bootstrap.make_parser(today),
                                         params=params, as_of=as_of)
        finally:
            database.dispose()
        return _Loaded(source="clinic database (de-identified)", patients=cohort.patients,
                       synthetic=cohort.synthetic, titer_model=cohort.titer_model, notes=cohort.notes)
    parse = bootstrap.make_parser(today)
    records = [parse(data, prefix=json_path, source=str(file))
               for file in record_files(Path(source))
               for json_path, data in bootstrap.iter_documents(file)]  # all validated first
    if not records:
        msg = f"{source}: no patient records; expected a record, a batch or a folder of records"
        raise UsageError(msg)
    timelines = tuple(build_timeline(r, as_of, params) for r in records)
    patients = tuple(derive_patient(PatientContext(r, as_of), t, params)
                     for r, t in zip(records, timelines, strict=True))
    return _Loaded(source=source, patients=patients, synthetic=is_synthetic(r.id for r in records),
                   timelines=timelines)


def _feature_columns(loaded: _Loaded) -> dict[str, list[Any]]:
    from myositis_cds.stats.cohort_features import features_columns  # noqa: PLC0415 - scipy on use

    return features_columns(loaded.patients)


def _is_csv(source: str) -> bool:
    return source.lower().endswith(".csv")


def cmd_table1(args: argparse.Namespace) -> int:
    from myositis_cds.adapters.cohort_csv import ID_COLUMN, read_cohort_csv  # noqa: PLC0415 - scipy on use
    from myositis_cds.services.cohort_analysis import cohort_data, cohort_table1  # noqa: PLC0415

    id_column = args.id_column or ID_COLUMN
    if _is_csv(args.source):
        data = read_cohort_csv(Path(args.source), id_column=id_column)
    else:
        loaded = _load(args.source, args)
        data = cohort_data(loaded.patients, source=loaded.source, synthetic=loaded.synthetic,
                           notes=loaded.notes)
    variables = [v.strip() for v in args.variables.split(",")] if args.variables else None
    result = cohort_table1(data, group=args.group, policy=args.policy, groups=args.groups,
                           variables=variables, id_column=id_column)
    text = render_table1(result, args.format)
    with AtomicOutput(args.out) as out:
        out.write(text)
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from myositis_cds.adapters.cohort_csv import cohort_csv_text  # noqa: PLC0415 - scipy on use

    if _is_csv(args.source):
        msg = f"{args.source}: already a per-patient CSV; expected records or {DATABASE_SOURCE}"
        raise UsageError(msg)
    loaded = _load(args.source, args)
    with AtomicOutput(args.out) as out:
        out.write(cohort_csv_text(_feature_columns(loaded)))
    if loaded.synthetic:
        sys.stderr.write("note: synthetic cohort (every patient id starts with 'synthetic-')\n")
    return 0


def _longitudinal(args: argparse.Namespace) -> _Loaded:
    if _is_csv(args.source):
        msg = (f"{args.source}: a per-patient CSV has no measurements over time; expected a "
               f"records file or folder, or {DATABASE_SOURCE}")
        raise UsageError(msg)
    return _load(args.source, args)


def cmd_figure(args: argparse.Namespace) -> int:
    from myositis_cds.presentation.cohort_figure import render_cohort_figure  # noqa: PLC0415
    from myositis_cds.services.cohort_analysis import course_curves  # noqa: PLC0415

    fmt: FigureFormat = args.format or ("png" if args.out.lower().endswith(".png") else "svg")
    loaded = _longitudinal(args)
    grouped = [p for p in loaded.patients if p.group is not None]
    data = render_cohort_figure(course_curves(loaded.patients), fmt=fmt,
                                synthetic=loaded.synthetic, source=loaded.source)
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
    label = "synthetic cohort: " if loaded.synthetic else ""
    sys.stdout.write(f"{label}wrote {path} ({len(grouped)} patients in a group)\n")
    return 0


def _g(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _titers_text(document: dict[str, Any]) -> str:
    head = "SYNTHETIC cohort — " if document["synthetic"] else ""
    lines = [f"{head}Anti-Mi-2 titer analysis of {document['source']} as of {document['as_of']} [PF2019]", ""]
    model = document["mixed_model"]
    lines.append(f"Mixed models ({model['patients']} patients with numeric titers, unit "
                 f"{model['titer_unit']}):")
    for key in ("ck", "mmt8"):
        fit = model[key]
        lines.append(f"  {fit['formula']}: {fit['status']} ({fit['n_observations']} observations, "
                     f"{fit['n_patients']} patients)" + (f" — {fit['reason']}" if fit["reason"] else ""))
        for coef in fit["coefficients"]:
            lines.append(f"    {coef['name']:<10} {_g(coef['estimate'])} (95% CI {_g(coef['ci_low'])} to "
                         f"{_g(coef['ci_high'])}), p={format_p(coef['p_value'])}")
        lines += [f"    warning: {w}" for w in fit["warnings"]]
    lines += [f"  note: {n}" for n in model["notes"]]
    course = document["titer_course"]
    lines += ["", f"Titer course in {course['group']} followed ≥ {course['min_years']} years:",
              f"  followed: {course['followed']} (of {course['with_serial_titers']} with serial titers)",
              f"  titer declined: {course['declined']} of {course['followed']}",
              f"  titer normalised: {course['normalised']} of {course['followed']}",
              f"  normalised and stopped treatment: {course['normalised_and_stopped_treatment']}",
              f"  of those, restarted treatment (relapse proxy): "
              f"{course['normalised_stopped_and_restarted']}",
              "  (PF2019: 10 followed, declined in all, normalised in 3, 2 of whom stopped "
              "treatment and never relapsed)"]
    lines += [f"  definition: {d}" for d in course["definitions"]]
    return "\n".join(lines) + "\n"


def cmd_cohort_titers(args: argparse.Namespace) -> int:
    from myositis_cds.stats.association import cohort_titer_model  # noqa: PLC0415
    from myositis_cds.stats.cohort_longitudinal import titer_course_summary  # noqa: PLC0415

    loaded = _longitudinal(args)
    model = loaded.titer_model or cohort_titer_model(loaded.timelines, params_from(args))
    document = {
        "format": TITERS_FORMAT, "synthetic": loaded.synthetic, "source": loaded.source,
        "as_of": as_of_from(args, current_date()).isoformat(),
        "mixed_model": model.to_dict(),
        "titer_course": titer_course_summary(loaded.patients, min_years=args.min_years).to_dict(),
    }
    text = to_json(document, indent=True) + "\n" if args.format == "json" else _titers_text(document)
    with AtomicOutput(args.out) as out:
        out.write(text)
    return 0


def cmd_synthesize(args: argparse.Namespace) -> int:
    from myositis_cds.stats.synthetic_cohort import synthesize  # noqa: PLC0415

    try:
        records = synthesize(args.n, seed=args.seed, today=current_date())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    document = {"format": "myositis-cds/patient-records@1", "records": records}
    with AtomicOutput(args.out) as out:
        out.write(to_json(document) + "\n")
    sys.stderr.write(f"synthetic cohort: {len(records)} patients (seed {args.seed}); not patients\n")
    return 0


def _common(parser: argparse.ArgumentParser, *, longitudinal: bool = False) -> None:
    parser.add_argument("source", help="a per-patient CSV, a record file/batch/folder, or db:"
                        if not longitudinal else "a record file/batch/folder, or db:")
    parser.add_argument("--as-of", help="date of the data YYYY-MM-DD (default: today)")
    parser.add_argument("--settings", help="site settings file (TOML or JSON)")
    parser.add_argument("--database-url", help=f"with SOURCE {DATABASE_SOURCE}: SQLAlchemy URL "
                        "(default: MYOSITIS_CDS_DATABASE_URL or ./var/myositis-cds.sqlite3)")


def add_cohort_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cohort = sub.add_parser("cohort", help="PF2019's cohort analyses: Table 1, figure, titers")
    commands = cohort.add_subparsers(dest="cohort_command", required=True)
    table = commands.add_parser("table1", help="Table 1 by group (n/N, median [IQR], tests, ORs)")
    _common(table)
    table.add_argument("--group", default="group", help="the group column (default: group)")
    table.add_argument("--groups", help="comma-separated groups to compare, in this order")
    table.add_argument("--variables", help="comma-separated columns (default: all but group and id)")
    table.add_argument("--id-column", help="identifier column, not a variable (default: patient)")
    table.add_argument("--policy", choices=("fisher", "pearson", "textbook"), default="fisher")
    table.add_argument("--format", choices=TABLE1_FORMATS, default="text")
    table.add_argument("--out", help="write to this file instead of stdout")
    table.set_defaults(handler=cmd_table1)
    features = commands.add_parser("features", help="records or db: → one CSV row per patient")
    _common(features, longitudinal=True)
    features.add_argument("--out", help="write to this file instead of stdout")
    features.set_defaults(handler=cmd_features)
    figure = commands.add_parser("figure", help="LOWESS of CK, MMT-8 and titer by group (SVG or PNG)")
    _common(figure, longitudinal=True)
    figure.add_argument("--out", required=True, help="the figure file (.svg or .png)")
    figure.add_argument("--format", choices=("svg", "png"), help="default: from --out's suffix")
    figure.set_defaults(handler=cmd_figure)
    titers = commands.add_parser("titers", help="titer vs CK and MMT-8 (mixed model) and ≥ 4-year "
                                 "titer courses")
    _common(titers, longitudinal=True)
    titers.add_argument("--min-years", type=int, default=4, help="long follow-up (default: 4, PF2019)")
    titers.add_argument("--format", choices=("text", "json"), default="text")
    titers.add_argument("--out", help="write to this file instead of stdout")
    titers.set_defaults(handler=cmd_cohort_titers)
    synth = commands.add_parser("synthesize", help="a synthetic cohort in PF2019's proportions "
                                "(patient-records@1 batch)")
    synth.add_argument("--n", type=int, default=533, help="patients (default: 533, PF2019's total)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--out", help="write to this file instead of stdout")
    synth.set_defaults(handler=cmd_synthesize)

