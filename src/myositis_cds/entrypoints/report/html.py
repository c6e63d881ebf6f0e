"""HTML report: an accessible fragment per assessment, and a standalone print-friendly page.

Templates live in ``templates/*.j2`` and are rendered by jinja2 with ``autoescape=True``: every
value from the assessment is escaped. The page has its CSS inline, no JavaScript and no external
resource, so it can be e-mailed, archived or printed as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Final

import jinja2
from markupsafe import Markup

from myositis_cds.entrypoints.report.model import build_report
from myositis_cds.entrypoints.report.views import Report

__all__ = ["render_html", "render_html_document"]

_TONES: Final[dict[str, str]] = {
    **dict.fromkeys(("critical", "severe_refractory", "missing", "overdue", "inadequate",
                     "out_of_scope"), "bad"),
    **dict.fromkeys(("warning", "not_evaluable", "due", "enhanced", "incomplete", "not_improved"),
                    "warn"),
    **dict.fromkeys(("done", "in_scope", "complete", "improved", "adequate", "applies",
                     "non_severe", "standard"), "ok"),
    "info": "info",
}
_NOT_CSS: Final = re.compile(r"[^a-z0-9_-]+")


def _css(value: object) -> str:
    """A value as one CSS class token (lower case letters, digits, ``_`` and ``-`` only)."""
    return _NOT_CSS.sub("-", str(value).lower()).strip("-") or "none"


def _tone(status: object) -> str:
    return _TONES.get(str(status), "neutral")


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("myositis_cds.entrypoints.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["css"] = _css
    env.filters["tone"] = _tone
    return env


def _fragment(report: Report) -> Markup:
    return Markup(_environment().get_template("fragment.html.j2").render(r=report))  # noqa: S704 - autoescaped template output


def render_html(assessment: Mapping[str, Any], citations: Mapping[str, str]) -> str:
    """The HTML fragment (one ``<article>``, headings from ``<h2>``) of one assessment dict."""
    return str(_fragment(build_report(assessment, citations)))


def render_html_document(
    assessments: Sequence[Mapping[str, Any]],
    citations: Mapping[str, str],
    *,
    title: str,
    extra_sections: Sequence[str] = (),
) -> str:
    """A complete HTML5 page holding the report of each assessment, with inline CSS.

    ``extra_sections`` are HTML fragments inserted after the assessments *as they are*, without
    escaping: pass only trusted markup, such as the output of :func:`render_html`.
    """
    reports = [build_report(a, citations) for a in assessments]
    return _environment().get_template("document.html.j2").render(
        title=title,
        reports=reports,
        fragments=[_fragment(r) for r in reports],
        extra_sections=[Markup(s) for s in extra_sections],  # noqa: S704 - trusted by contract
    )
