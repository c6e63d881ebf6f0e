"""The ``myositis-cds`` command line.

Exit codes: 0 success; 2 bad input or usage (each error names the JSON path, the value and what was
expected; no traceback); 1 an unexpected internal error. Nothing is written for a bad record: a
report file is written to a temporary name and moved into place only when complete.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import orjson

from myositis_cds import bootstrap
from myositis_cds.adapters.assessment_schema import assessment_json_schema
from myositis_cds.adapters.record_json import record_json_schema
from myositis_cds.adapters.timeline_schema import timeline_json_schema
from myositis_cds.engine import EngineParams, to_dict
from myositis_cds.engine.timeline import build_timeline, timeline_to_dict
from myositis_cds.entrypoints.report import (
    render_html,
    render_html_document,
    render_markdown,
    render_text,
)
from myositis_cds.entrypoints.report.timeline import (
    render_timeline_csv,
    render_timeline_html_document,
    render_timeline_html_fragment,
    render_timeline_text,
)
from myositis_cds.errors import (
    KnowledgePackError,
    MyositisCdsError,
    RecordValidationError,
    SettingsError,
    UsageError,
)
from myositis_cds.services import Outcome, assess_stream

__all__ = ["main"]

FORMATS = ("text", "markdown", "json", "html")
ERROR_FORMAT = "myositis-cds/assessment-error@1"


def _today() -> dt.date:
    """Today's date; ``MYOSITIS_CDS_TODAY`` (ISO) pins it for reproducible runs and tests."""
    pinned = os.environ.get("MYOSITIS_CDS_TODAY")
    if pinned:
        return _parse_date(pinned, "MYOSITIS_CDS_TODAY")
    return dt.date.today()  # noqa: DTZ011 - the clinic's local calendar date is meant


def _parse_date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        msg = f"{name}: got {text!r}; expected an ISO 8601 date YYYY-MM-DD"
        raise UsageError(msg) from None


def _examples_dir() -> Path:
    return Path(str(resources.files("myositis_cds").joinpath("examples")))


def _example_names() -> list[str]:
    return sorted(p.stem for p in _examples_dir().glob("*.json"))


def _params(args: argparse.Namespace) -> EngineParams:
    settings = getattr(args, "settings", None)
    return bootstrap.make_params(settings_file=Path(settings) if settings else None)


def _as_of(args: argparse.Namespace, today: dt.date) -> dt.date:
    if args.as_of is None:
        return today
    as_of = _parse_date(args.as_of, "--as-of")
    if as_of > today:
        msg = f"--as-of: got {as_of}; expected a date on or before today ({today})"
        raise UsageError(msg)
    return as_of


def _outcomes(path: Path, as_of: dt.date, today: dt.date,
              params: EngineParams) -> Iterator[Outcome]:
    if not path.is_file():
        msg = f"{path}: no such file"
        raise UsageError(msg)
    return assess_stream(bootstrap.iter_documents(path), parse=bootstrap.make_parser(today),
                         as_of=as_of, params=params, source=str(path))


def _json(value: object, *, indent: bool = False) -> str:
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(value, option=option).decode()


def _error_dict(outcome: Outcome) -> dict[str, Any]:
    assert outcome.error is not None
    return {"format": ERROR_FORMAT, "path": outcome.path,
            "errors": [e.to_dict() for e in outcome.error.errors]}


class _AtomicOutput:
    """Write to ``path`` via a temporary file renamed into place on success; stdout if no path.

    A path that exists and is not a regular file (``/dev/null``, a FIFO, a terminal) is written
    directly: renaming over it would replace the device.
    """

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self._tmp: Any = None
        self._direct: TextIO | None = None

    def __enter__(self) -> TextIO:
        if self.path is None:
            return sys.stdout
        if self.path.exists() and not self.path.is_file():
            self._direct = self.path.open("w", encoding="utf-8")
            return self._direct
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.path.parent, delete=False, suffix=".partial")
        return self._tmp  # type: ignore[no-any-return]

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._direct is not None:
            self._direct.close()
            return
        if self._tmp is None:
            return
        self._tmp.close()
        if exc_type is None and self.path is not None:
            Path(self._tmp.name).replace(self.path)
        else:
            Path(self._tmp.name).unlink(missing_ok=True)


def _cmd_assess(args: argparse.Namespace) -> int:
    today = _today()
    as_of = _as_of(args, today)
    params = _params(args)
    path = Path(args.file)
    citations = dict(params.pack.citations)
    outcomes = _outcomes(path, as_of, today, params)
    first = next(outcomes, None)
    if first is None:
        msg = f"{path}: the batch holds no records"
        raise UsageError(msg)
    if first.path == "$":  # a single record: all or nothing
        if first.error is not None:
            raise first.error
        assert first.assessment is not None
        document = to_dict(first.assessment)
        renderers: dict[str, Callable[[], str]] = {
            "json": lambda: _json(document, indent=True),
            "text": lambda: render_text(document, citations),
            "markdown": lambda: render_markdown(document, citations),
            "html": lambda: render_html_document([document], citations,
                                                 title=f"myositis-cds — {document['patient_id']}",
                                                 figures=_trend_figures(path, as_of, today, params)),
        }
        text = renderers[args.format]()
        with _AtomicOutput(args.out) as out:
            out.write(text if text.endswith("\n") else text + "\n")
        return 0
    return _assess_batch(args, [first], outcomes, citations,
                         lambda: _trend_figures(path, as_of, today, params))


def _assess_batch(args: argparse.Namespace, head: list[Outcome], rest: Iterator[Outcome],
                  citations: dict[str, str], figures: Callable[[], dict[str, str]]) -> int:
    """A batch: one JSON line per patient (streamed), or one report per patient."""
    errors = 0
    fragments: list[str] = []
    shown = figures() if args.format == "html" else {}
    with _AtomicOutput(args.out) as out:
        for outcome in _chain(head, rest):
            if outcome.error is not None:
                errors += 1
                sys.stderr.write(f"{outcome.error}\n")
                if args.format == "json":
                    out.write(_json(_error_dict(outcome)) + "\n")
                continue
            assert outcome.assessment is not None
            document = to_dict(outcome.assessment)
            if args.format == "json":
                out.write(_json(document) + "\n")
            elif args.format == "html":
                fragments.append(render_html(document, citations, figures=shown))
            elif args.format == "markdown":
                out.write(render_markdown(document, citations) + "\n\n---\n\n")
            else:
                out.write(render_text(document, citations) + "\n\f\n")
        if args.format == "html":
            out.write(render_html_document([], citations, title="myositis-cds batch report",
                                           extra_sections=fragments))
    if errors:
        sys.stderr.write(f"{errors} record(s) rejected; the others were assessed\n")
        return 2
    return 0


def _chain(head: list[Outcome], rest: Iterator[Outcome]) -> Iterator[Outcome]:
    yield from head
    yield from rest


TIMELINE_FORMATS = ("text", "json", "csv", "html")
TimelineItem = tuple[str, dict[str, Any] | RecordValidationError]


def _timelines(path: Path, as_of: dt.date, today: dt.date,
               params: EngineParams) -> Iterator[TimelineItem]:
    """``(json_path, timeline dict)`` per record, or ``(json_path, error)`` for a bad one."""
    if not path.is_file():
        msg = f"{path}: no such file"
        raise UsageError(msg)
    parse = bootstrap.make_parser(today)
    for json_path, data in bootstrap.iter_documents(path):
        try:
            record = parse(data, prefix=json_path, source=str(path))
        except RecordValidationError as exc:
            yield json_path, exc
            continue
        yield json_path, timeline_to_dict(build_timeline(record, as_of, params))


def _cmd_timeline(args: argparse.Namespace) -> int:
    today = _today()
    as_of = _as_of(args, today)
    params = _params(args)
    path = Path(args.file)
    citations = dict(params.pack.citations)
    items = _timelines(path, as_of, today, params)
    first = next(items, None)
    if first is None:
        msg = f"{path}: the batch holds no records"
        raise UsageError(msg)
    if first[0] == "$":  # a single record: all or nothing
        document = first[1]
        if isinstance(document, RecordValidationError):
            raise document
        renderers: dict[str, Callable[[], str]] = {
            "json": lambda: _json(document, indent=True),
            "text": lambda: render_timeline_text(document, citations),
            "csv": lambda: render_timeline_csv(document),
            "html": lambda: render_timeline_html_document(
                [document], citations,
                title=f"myositis-cds timeline — {document['patient_id']}"),
        }
        text = renderers[args.format]()
        with _AtomicOutput(args.out) as out:
            out.write(text if text.endswith("\n") else text + "\n")
        return 0
    errors = 0
    fragments: list[str] = []
    with _AtomicOutput(args.out) as out:
        if args.format == "csv":  # one table: the header once, then every patient's visits
            out.write(render_timeline_csv({}, patient_id_column=True))
        for json_path, item in itertools.chain([first], items):
            if isinstance(item, RecordValidationError):
                errors += 1
                sys.stderr.write(f"{item}\n")
                if args.format == "json":
                    out.write(_json(_error_dict(Outcome(path=json_path, assessment=None,
                                                        error=item))) + "\n")
            elif args.format == "json":
                out.write(_json(item) + "\n")
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


def _cmd_schema(args: argparse.Namespace) -> int:
    schemas: dict[str, Callable[[], dict[str, Any]]] = {
        "patient-record": record_json_schema, "assessment": assessment_json_schema,
        "timeline": timeline_json_schema}
    schema = schemas[args.name]()
    sys.stdout.write(_json(schema, indent=True) + "\n")
    return 0


def _cmd_example(args: argparse.Namespace) -> int:
    names = _example_names()
    if args.list or args.name is None:
        sys.stdout.write("\n".join(names) + "\n")
        return 0
    if args.name not in names:
        msg = f"example: got {args.name!r}; expected one of {', '.join(names)}"
        raise UsageError(msg)
    sys.stdout.write((_examples_dir() / f"{args.name}.json").read_text(encoding="utf-8"))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """Assess every example and write an HTML and a JSON report for each to ``--out``."""
    today = _today()
    as_of = _as_of(args, today)
    params = _params(args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    citations = dict(params.pack.citations)
    documents = []
    all_figures: dict[str, str] = {}
    for name in _example_names():
        figures = _trend_figures(_examples_dir() / f"{name}.json", as_of, today, params)
        all_figures.update(figures)
        for outcome in _outcomes(_examples_dir() / f"{name}.json", as_of, today, params):
            if outcome.error is not None:
                raise outcome.error
            assert outcome.assessment is not None
            document = to_dict(outcome.assessment)
            documents.append(document)
            with _AtomicOutput(str(out_dir / f"{name}.json")) as out:
                out.write(_json(document, indent=True) + "\n")
            with _AtomicOutput(str(out_dir / f"{name}.html")) as out:
                out.write(render_html_document([document], citations,
                                               title=f"myositis-cds — {name}", figures=figures))
            sys.stdout.write(f"  {name}: {out_dir / name}.html, {out_dir / name}.json\n")
    with _AtomicOutput(str(out_dir / "index.html")) as out:
        out.write(render_html_document(documents, citations,
                                       title="myositis-cds — example patients", figures=all_figures))
    sys.stdout.write(f"Assessed {len(documents)} example patients as of {as_of} with "
                     f"{params.pack.label}.\nOpen {out_dir.resolve() / 'index.html'}\n")
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    params = _params(args)
    pack = params.pack
    lines = [f"{pack.label} ({pack.status}): {pack.title}", "", "Rules:"]
    lines += [f"  {r.id:34} {r.title} [{', '.join(r.citations)}]" for r in pack.rules.values()]
    lines += ["", "Settings ([INTERP] and conservative choices; override with --settings FILE):"]
    for spec in pack.settings.values():
        lines.append(f"  {params.settings.describe(spec.name)}  — {spec.source}")
        lines.append(f"      {spec.description}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _trend_figures(path: Path, as_of: dt.date, today: dt.date,
                   params: EngineParams) -> dict[str, str]:
    """Patient id → inline SVG trend figures (CK ×ULN, MMT-8, titer) for each valid record of ``path``."""
    from myositis_cds.entrypoints.report import plots  # noqa: PLC0415 - matplotlib loads (~2 s) only to draw

    parse = bootstrap.make_parser(today)
    figures: dict[str, str] = {}
    for json_path, data in bootstrap.iter_documents(path):
        try:
            record = parse(data, prefix=json_path, source=str(path))
        except RecordValidationError:
            continue  # the assessment reports it
        timeline, trends = plots.record_trends(record, as_of=as_of, params=params)
        figures[record.id] = plots.trend_figures_html(timeline, trends)
    return figures


def _file_stem(patient_id: str) -> str:
    """A patient id as a file name part: letters, digits, ``.``, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", patient_id).strip(".-") or "patient"


def _cmd_plot(args: argparse.Namespace) -> int:
    """Write ``<patient>-ck``, ``-mmt8`` and ``-titer`` plots of each record to ``--out``."""
    from myositis_cds.entrypoints.report import plots  # noqa: PLC0415 - matplotlib loads (~2 s) only to draw

    today = _today()
    as_of = _as_of(args, today)
    params = _params(args)
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
            for key, data in plots.render_trend_figures(timeline, trends, fmt=fmt).items():
                target = out_dir / f"{_file_stem(record.id)}-{key}.{fmt}"
                partial = target.with_name(target.name + ".partial")
                partial.write_bytes(data)
                partial.replace(target)
                sys.stdout.write(f"{target}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="myositis-cds",
        description="Clinical decision support for dermatomyositis with anti-Mi-2 antibodies.")
    sub = parser.add_subparsers(dest="command", required=True)
    assess = sub.add_parser("assess", help="assess a patient-record@1 file (or a batch)")
    assess.add_argument("file")
    assess.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    assess.add_argument("--format", choices=FORMATS, default="text")
    assess.add_argument("--settings", help="site settings file (TOML or JSON)")
    assess.add_argument("--out", help="write the report to this file instead of stdout")
    assess.set_defaults(handler=_cmd_assess)
    schema = sub.add_parser("schema", help="print a JSON Schema")
    schema.add_argument("name", choices=("patient-record", "assessment", "timeline"))
    schema.set_defaults(handler=_cmd_schema)
    example = sub.add_parser("example", help="print an example patient record")
    example.add_argument("name", nargs="?")
    example.add_argument("--list", action="store_true", help="list the examples")
    example.set_defaults(handler=_cmd_example)
    demo = sub.add_parser("demo", help="assess every example; write HTML and JSON reports")
    demo.add_argument("--out", default="out")
    demo.add_argument("--as-of")
    demo.add_argument("--settings")
    demo.set_defaults(handler=_cmd_demo)
    pack = sub.add_parser("pack", help="show the knowledge pack's rules and settings")
    pack.add_argument("--settings")
    pack.set_defaults(handler=_cmd_pack)
    timeline = sub.add_parser("timeline", help="every visit's TIS against the baseline, with "
                              "treatments (a patient-record@1 file or a batch)")
    timeline.add_argument("file")
    timeline.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    timeline.add_argument("--format", choices=TIMELINE_FORMATS, default="text")
    timeline.add_argument("--settings", help="site settings file (TOML or JSON)")
    timeline.add_argument("--out", help="write the report to this file instead of stdout")
    timeline.set_defaults(handler=_cmd_timeline)
    plot = sub.add_parser("plot", help="write the trend plots (CK ×ULN, MMT-8, anti-Mi-2 titer) "
                          "of a patient-record@1 file (or a batch)")
    plot.add_argument("file")
    plot.add_argument("--out", required=True, help="directory for <patient>-ck.svg, -mmt8, -titer")
    plot.add_argument("--as-of", help="assessment date YYYY-MM-DD (default: today)")
    plot.add_argument("--format", choices=("svg", "png", "both"), default="svg")
    plot.add_argument("--settings", help="site settings file (TOML or JSON)")
    plot.set_defaults(handler=_cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except RecordValidationError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except (SettingsError, KnowledgePackError, UsageError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except MyositisCdsError as exc:  # pragma: no cover - every subclass is handled above
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(main())
