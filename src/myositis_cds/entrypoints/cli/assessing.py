"""Commands around one assessment: assess, schema, example, demo, pack."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from myositis_cds import bootstrap
from myositis_cds.entrypoints.cli.common import (
    AtomicOutput,
    as_of_from,
    current_date,
    error_dict,
    example_names,
    examples_dir,
    first_of,
    outcomes_of,
    params_from,
    start_run,
    to_json,
)
from myositis_cds.entrypoints.cli.monitoring import trend_figures
from myositis_cds.errors import UsageError
from myositis_cds.presentation import (
    assessment_json,
    render_html,
    render_html_document,
    render_markdown,
    render_text,
)
from myositis_cds.services import Outcome

__all__ = ["cmd_assess", "cmd_demo", "cmd_example", "cmd_pack", "cmd_schema"]


def cmd_assess(args: argparse.Namespace) -> int:
    run = start_run(args)
    citations = run.citations
    outcomes = outcomes_of(run.path, run.as_of, run.today, run.params)
    first = first_of(outcomes, run.path)
    if first.path == "$":  # a single record: all or nothing
        if first.error is not None:
            raise first.error
        assert first.assessment is not None
        assessment = first.assessment
        renderers: dict[str, Callable[[], str]] = {
            "json": lambda: assessment_json(assessment, indent=True).decode(),
            "text": lambda: render_text(assessment, citations),
            "markdown": lambda: render_markdown(assessment, citations),
            "html": lambda: render_html_document([assessment], citations,
                                                 title=f"myositis-cds — {assessment.patient_id}",
                                                 figures=trend_figures(run.path, run.as_of, run.today,
                                                                       run.params)),
        }
        text = renderers[args.format]()
        with AtomicOutput(args.out) as out:
            out.write(text if text.endswith("\n") else text + "\n")
        return 0
    return _assess_batch(args, [first], outcomes, citations,
                         lambda: trend_figures(run.path, run.as_of, run.today, run.params))


def _assess_batch(args: argparse.Namespace, head: list[Outcome], rest: Iterator[Outcome],
                  citations: dict[str, str], figures: Callable[[], dict[str, str]]) -> int:
    """A batch: one JSON line per patient (streamed), or one report per patient."""
    errors = 0
    fragments: list[str] = []
    shown = figures() if args.format == "html" else {}
    with AtomicOutput(args.out) as out:
        for outcome in _chain(head, rest):
            if outcome.error is not None:
                errors += 1
                sys.stderr.write(f"{outcome.error}\n")
                if args.format == "json":
                    out.write(to_json(error_dict(outcome)) + "\n")
                continue
            assessment = outcome.assessment
            assert assessment is not None
            if args.format == "json":
                out.write(assessment_json(assessment).decode() + "\n")
            elif args.format == "html":
                fragments.append(render_html(assessment, citations, figures=shown))
            elif args.format == "markdown":
                out.write(render_markdown(assessment, citations) + "\n\n---\n\n")
            else:
                out.write(render_text(assessment, citations) + "\n\f\n")
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


def cmd_schema(args: argparse.Namespace) -> int:
    schema = bootstrap.json_schema(args.name)
    sys.stdout.write(to_json(schema, indent=True) + "\n")
    return 0


def cmd_example(args: argparse.Namespace) -> int:
    names = example_names()
    if args.list or args.name is None:
        sys.stdout.write("\n".join(names) + "\n")
        return 0
    if args.name not in names:
        msg = f"example: got {args.name!r}; expected one of {', '.join(names)}"
        raise UsageError(msg)
    sys.stdout.write((examples_dir() / f"{args.name}.json").read_text(encoding="utf-8"))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Assess every example and write an HTML and a JSON report for each to ``--out``."""
    today = current_date()
    as_of = as_of_from(args, today)
    params = params_from(args)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    citations = dict(params.pack.citations)
    assessments = []
    all_figures: dict[str, str] = {}
    for name in example_names():
        figures = trend_figures(examples_dir() / f"{name}.json", as_of, today, params)
        all_figures.update(figures)
        for outcome in outcomes_of(examples_dir() / f"{name}.json", as_of, today, params):
            if outcome.error is not None:
                raise outcome.error
            assessment = outcome.assessment
            assert assessment is not None
            assessments.append(assessment)
            with AtomicOutput(str(out_dir / f"{name}.json")) as out:
                out.write(assessment_json(assessment, indent=True).decode() + "\n")
            with AtomicOutput(str(out_dir / f"{name}.html")) as out:
                out.write(render_html_document([assessment], citations,
                                               title=f"myositis-cds — {name}", figures=figures))
            sys.stdout.write(f"  {name}: {out_dir / name}.html, {out_dir / name}.json\n")
    with AtomicOutput(str(out_dir / "index.html")) as out:
        out.write(render_html_document(assessments, citations,
                                       title="myositis-cds — example patients", figures=all_figures))
    sys.stdout.write(f"Assessed {len(assessments)} example patients as of {as_of} with "
                     f"{params.pack.label}.\nOpen {out_dir.resolve() / 'index.html'}\n")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    params = params_from(args)
    pack = params.pack
    lines = [f"{pack.label} ({pack.status}): {pack.title}", "", "Rules:"]
    lines += [f"  {r.id:34} {r.title} [{', '.join(r.citations)}]" for r in pack.rules.values()]
    lines += ["", "Settings ([INTERP] and conservative choices; override with --settings FILE):"]
    for spec in pack.settings.values():
        lines.append(f"  {params.settings.describe(spec.name)}  — {spec.source}")
        lines.append(f"      {spec.description}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


