"""HTML report: an accessible fragment per assessment, and a standalone print-friendly page.

Templates live in ``templates/*.j2`` and are rendered by jinja2 with ``autoescape=True``: every
value from the assessment is escaped. The page has its CSS inline, no JavaScript and no external
resource, so it can be e-mailed, archived or printed as it is.

Trend figures (``figures``: patient id → inline SVG markup, our own matplotlib output) are added
to each patient's report as a last section; any ``<script``, event-handler attribute or
``javascript:`` URL is stripped from them first, so the page stays free of JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Final

import jinja2
from markupsafe import Markup, escape

from myositis_cds.engine.results import Assessment
from myositis_cds.presentation.act_now import build_report_with_act_now
from myositis_cds.presentation.assessment_view import Report
from myositis_cds.presentation.labels import label, plain

__all__ = ["jinja_environment", "render_html", "render_html_document", "template_filters",
           "without_scripts"]

_TONES: Final[dict[str, str]] = {
    **dict.fromkeys(("critical", "severe_refractory", "missing", "overdue", "inadequate",
                     "out_of_scope"), "bad"),
    **dict.fromkeys(("warning", "not_evaluable", "due", "enhanced", "incomplete", "not_improved"),
                    "warn"),
    **dict.fromkeys(("done", "in_scope", "complete", "improved", "adequate", "applies",
                     "non_severe", "standard"), "ok"),
    "info": "info",
    "tis-none": "bad", "tis-minimal": "warn", "tis-moderate": "ok", "tis-major": "ok",
}
_NOT_CSS: Final = re.compile(r"[^a-z0-9_-]+")
_SCRIPT_BLOCK: Final = re.compile(r"<script\b.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_SCRIPT_TAG: Final = re.compile(r"</?script\b[^>]*>?", re.IGNORECASE)
_EVENT_ATTRIBUTE: Final = re.compile(r"""\son[a-z]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_JS_URL: Final = re.compile(r"javascript\s*:", re.IGNORECASE)
_TAG: Final = re.compile(r"<[^>]*>")


def _css(value: object) -> str:
    """A value as one CSS class token (lower case letters, digits, ``_`` and ``-`` only)."""
    return _NOT_CSS.sub("-", str(value).lower()).strip("-") or "none"


def _tone(status: object) -> str:
    return _TONES.get(str(status), "neutral")


@cache
def jinja_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("myositis_cds.presentation", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(template_filters())
    return env


def template_filters() -> dict[str, Callable[..., str]]:
    """The filters the presentation's templates use (``css``, ``tone``, ``label``, ``plain``),
    for any jinja environment that shows the same words (the web application's pages)."""
    return {"css": _css, "tone": _tone, "label": lambda code, kind: label(kind, code),
            "plain": plain}


def without_scripts(markup: str) -> str:
    """Figure markup with anything that could run JavaScript removed (defence in depth)."""
    markup = _SCRIPT_BLOCK.sub("", markup)
    markup = _SCRIPT_TAG.sub("", markup)
    return _TAG.sub(lambda tag: _JS_URL.sub("", _EVENT_ATTRIBUTE.sub("", tag.group(0))), markup)


def _fragment(report: Report, figure: str | None = None) -> Markup:
    html = jinja_environment().get_template("fragment.html.j2").render(r=report)
    if figure:
        a = escape(report.anchor)
        section = (f'<section class="trends" aria-labelledby="{a}-trends">\n'
                   f'  <h3 id="{a}-trends">7. Trends</h3>\n'
                   "  <p>Dots are individual measurements; lines are locally weighted regression "
                   "(LOWESS), as in the PF2019 figure.</p>\n"
                   f"{without_scripts(figure)}\n</section>\n")
        head, tag, tail = html.rpartition("</article>")
        html = f"{head}{section}{tag}{tail}" if tag else html + section
    return Markup(html)  # noqa: S704 - autoescaped template output and script-free figure markup


def _figure_of(assessment: Assessment, figures: Mapping[str, str] | None) -> str | None:
    return figures.get(assessment.patient_id) if figures else None


def render_html(assessment: Assessment, citations: Mapping[str, str], *,
                figures: Mapping[str, str] | None = None) -> str:
    """The HTML fragment (one ``<article>``, headings from ``<h2>``) of one typed assessment.

    ``figures`` maps a patient id to inline SVG markup shown in a "Trends" section.
    """
    return str(_fragment(build_report_with_act_now(assessment, citations),
                         _figure_of(assessment, figures)))


def render_html_document(
    assessments: Sequence[Assessment],
    citations: Mapping[str, str],
    *,
    title: str,
    extra_sections: Sequence[str] = (),
    figures: Mapping[str, str] | None = None,
) -> str:
    """A complete HTML5 page holding the report of each assessment, with inline CSS.

    ``extra_sections`` are HTML fragments inserted after the assessments *as they are*, without
    escaping: pass only trusted markup, such as the output of :func:`render_html`. ``figures``
    maps a patient id to inline SVG markup shown in that patient's "Trends" section.
    """
    reports = [build_report_with_act_now(a, citations) for a in assessments]
    return jinja_environment().get_template("document.html.j2").render(
        title=title,
        reports=reports,
        fragments=[_fragment(r, _figure_of(a, figures)) for a, r in zip(assessments, reports, strict=True)],
        extra_sections=[Markup(s) for s in extra_sections],  # noqa: S704 - trusted by contract
    )
