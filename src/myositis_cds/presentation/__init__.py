"""Presentation: the typed results of the use cases as the clinician and the integrator read them.

Every renderer takes a typed result (an :class:`~myositis_cds.engine.Assessment`, a
:class:`~myositis_cds.engine.Timeline`) and the knowledge pack's citations (key → reference) and
returns a ``str``: text, Markdown, HTML (fragment or page), CSV, or the JSON documents
(:mod:`.documents`). The report puts the plan first, then alerts by severity, then the details;
every note that affected a result is marked where it applies and listed; every citation is
numbered in reading order and listed under References. Trend figures (:mod:`.plots`) and the
cohort's Table 1 (:mod:`.table1_report`) and figure (:mod:`.cohort_figure`) live here too.
"""

from myositis_cds.presentation.documents import (
    assessment_document,
    assessment_json,
    timeline_document,
)
from myositis_cds.presentation.html import render_html, render_html_document
from myositis_cds.presentation.markdown import render_markdown
from myositis_cds.presentation.text import render_text
from myositis_cds.presentation.timeline_report import (
    render_timeline_csv,
    render_timeline_html_document,
    render_timeline_html_fragment,
    render_timeline_text,
)

__all__ = [
    "assessment_document",
    "assessment_json",
    "render_html",
    "render_html_document",
    "render_markdown",
    "render_text",
    "render_timeline_csv",
    "render_timeline_html_document",
    "render_timeline_html_fragment",
    "render_timeline_text",
    "timeline_document",
]
