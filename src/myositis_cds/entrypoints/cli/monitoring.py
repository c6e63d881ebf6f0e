"""Longitudinal commands: timeline, plot (and the trend figures of HTML reports)."""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from myositis_cds import bootstrap
from myositis_cds.bootstrap import EngineParams
from myositis_cds.entrypoints.cli.common import (
    AtomicOutput,
    as_of_from,
    current_date,
    error_dict,
    first_of,
    params_from,
    start_run,
    to_json,
)
from myositis_cds.entrypoints.file_names import file_stem
from myositis_cds.errors import (
    RecordValidationError,
    UsageError,
)
from myositis_cds.presentation import (
    render_timeline_csv,
    render_timeline_html_document,
    render_timeline_html_fragment,
    render_timeline_text,
    timeline_document,
)
from myositis_cds.services import Outcome, TimelineOutcome, timeline_stream

__all__ = ["TIMELINE_FORMATS", "cmd_plot", "cmd_timeline", "trend_figures"]


TIMELINE_FORMATS = ("text", "json", "csv", "html")


def _timelines(path: Path, as_of: dt.date, today: dt.date,
               params: EngineParams) -> Iterator[TimelineOutcome]:
    """The timeline of each record of ``path`` (or its validation error), in order."""
    if not path.is_file():
        msg = f"{path}: no such file"
        raise UsageError(msg)
    return timeline_stream(bootstrap.iter_documents(path), parse=bootstrap.make_parser(today),
                           as_of=as_of, params=params, source=str(path))


def cmd_timeline(args: argparse.Namespace) -> int:
    run = start_run(args)
    citations = run.citations
    items = _timelines(run.path, run.as_of, run.today, run.params)
    first = first_of(items, run.path)
    if first.path == "$":  # a single record: all or nothing
        if first.error is not None:
            raise first.error
        timeline = first.timeline
        assert timeline is not None
        renderers: dict[str, Callable[[], str]] = {
            "json": lambda: to_json(timeline_document(timeline), indent=True),
            "text": lambda: render_timeline_text(timeline, citations),
            "csv": lambda: render_timeline_csv(timeline),
            "html": lambda: render_timeline_html_document(
                [timeline], citations, title=f"myositis-cds timeline — {timeline.patient_id}"),
        }
        text = renderers[args.format]()
        with AtomicOutput(args.out) as out:
            out.write(text if text.endswith("\n") else text + "\n")
        return 0
    errors = 0
    fragments: list[str] = []
    with AtomicOutput(args.out) as out:
        if args.format == "csv":  # one table: the header once, then every patient's visits
            out.write(render_timeline_csv(None, patient_id_column=True))
        for outcome in itertools.chain([first], items):
            item = outcome.timeline
            if item is None:
                assert outcome.error is not None
                errors += 1
                sys.stderr.write(f"{outcome.error}\n")
                if args.format == "json":
                    out.write(to_json(error_dict(Outcome(path=outcome.path, assessment=None,
                                                        error=outcome.error))) + "\n")
            elif args.format == "json":
                out.write(to_json(timeline_document(item)) + "\n")
            elif args.format == "csv":
                out.write(render_timeline_csv(item, patient_id_column=True, header=False))
            elif args.format == "html":
                fragments.append(render_timeline_html_fragment(item, citations))
            else:
                out.write(render_timeline_text(item, citations) + "\n\f\n")
        if args.format == "html":
            out.write(render_timeline_html_document([], citations, title="myositis-cds timelines",
                                                    fragments=fragments))
    if errors:
        sys.stderr.write(f"{errors} record(s) rejected; the others were processed\n")
        return 2
    return 0


def trend_figures(path: Path, as_of: dt.date, today: dt.date,
                   params: EngineParams) -> dict[str, str]:
    """Patient id → inline SVG trend figures (CK ×ULN, MMT-8, titer) for each valid record of ``path``."""
    from myositis_cds.presentation import plots, trend_html  # noqa: PLC0415 - matplotlib loads (~2 s) only to draw

    parse = bootstrap.make_parser(today)
    figures: dict[str, str] = {}
    for json_path, data in bootstrap.iter_documents(path):
        try:
            record = parse(data, prefix=json_path, source=str(path))
        except RecordValidationError:
            continue  # the assessment reports it
        timeline, trends = plots.record_trends(record, as_of=as_of, params=params)
        figures[record.id] = trend_html.trend_figures_html(timeline, trends)
    return figures


def cmd_plot(args: argparse.Namespace) -> int:
    """Write ``<patient>-ck``, ``-mmt8`` and ``-titer`` plots of each record to ``--out``."""
    from myositis_cds.presentation import plots  # noqa: PLC0415 - matplotlib loads (~2 s) only to draw

    today = current_date()
    as_of = as_of_from(args, today)
    params = params_from(args)
    path = Path(args.file)
    if not path.is_file():
        msg = f"{path}: no such file"
        raise UsageError(msg)
    parse = bootstrap.make_parser(today)
    # Every record is validated before anything is written.
    records = [parse(data, prefix=json_path, source=str(path))
               for json_path, data in bootstrap.iter_documents(path)]
    if not records:
        msg = f"{path}: the batch holds no records"
        raise UsageError(msg)
    formats: tuple[plots.FigureFormat, ...] = ("svg", "png") if args.format == "both" else (args.format,)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for record in records:
        timeline, trends = plots.record_trends(record, as_of=as_of, params=params)
        for fmt in formats:
            for key, data in plots.render_trend_figures(timeline, trends, fmt=fmt,
                                                        layout=args.layout).items():
                target = out_dir / f"{file_stem(record.id)}-{key}.{fmt}"
                partial = target.with_name(target.name + ".partial")
                partial.write_bytes(data)
                partial.replace(target)
                sys.stdout.write(f"{target}\n")
    return 0


